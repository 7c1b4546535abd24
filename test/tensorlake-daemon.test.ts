// Tensorlake as its daemon and official clients behave (see specs/tensorlake.yaml,
// x-disagreements): checked through our client against the emulator, and against
// real local servers that answer as the daemon or the CLI's streams do.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { SpecValidator } from '../src/contract/validate.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import {
  createHopxClient,
  createTensorlakeClient,
  InvalidRequestError,
  NotFoundError,
  ServerError,
  waitForExit,
  type TensorlakeClient,
} from '../src/index.js';
import { startServer, type TestServer } from './support/servers.js';
import { testKey } from './support/secrets.js';

const owned: Array<RunningEmulator | TestServer> = [];
afterEach(async () => {
  await Promise.all(owned.splice(0).map((o) => ('stop' in o ? o.stop() : o.close())));
});

async function tensorlake(): Promise<{ client: TensorlakeClient; emulator: RunningEmulator }> {
  const emulator = await startEmulator('tensorlake');
  owned.push(emulator);
  return { client: createTensorlakeClient({ apiKey: emulator.token, baseUrl: emulator.baseUrl }), emulator };
}

async function serve(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(handler);
  owned.push(server);
  return server;
}

const validator = new SpecValidator('tensorlake');

/** What a process started with `user` says of itself: its uid, and whether it could write its working directory (as seen from inside, so in every isolation mode). */
async function identitySeenBy(client: TensorlakeClient, user: unknown): Promise<{ uid: number; wroteWorkdir: boolean }> {
  const started = await client.startProcess({ command: 'sh', args: ['-c', 'id -u; touch ./written-by-$(id -u) && echo wrote'], user: user as never });
  await waitForExit(client.processes, started.pid, { timeoutMs: 10_000 });
  const { lines } = await client.getStdout(started.pid);
  return { uid: Number(lines[0]), wroteWorkdir: lines[1] === 'wrote' };
}

async function eventually(predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the daemon\'s answers, on the emulator', () => {
  it('reads an unknown PID as empty output and its follow as eof only; an unknown name is a 404', async () => {
    const { client } = await tensorlake();
    expect(await client.getStdout(999_999)).toEqual({ pid: 999_999, lines: [], line_count: 0 });
    expect(await client.getOutput(999_999)).toEqual({ pid: 999_999, lines: [], line_count: 0 });
    const events = [];
    for await (const event of client.followOutput(999_999)) events.push(event);
    expect(events).toEqual([{ type: 'eof' }]);
    await expect(client.getStdout('no-such-name')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers the kill of an exited process with the daemon\'s 500, and the neutral kill() says false', async () => {
    const { client } = await tensorlake();
    const { pid } = await client.startProcess({ command: 'true' });
    await waitForExit(client.processes, pid, { timeoutMs: 10_000 });
    const error = await client.killProcess(pid).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 500, code: undefined, message: expect.stringContaining(`Process ${pid} is not running`) });
    expect(await client.processes.kill(pid)).toBe(false);
    expect(await client.processes.kill(999_999)).toBe(false);
  });

  it('closes a piped stdin any number of times; a process without a pipe gets a 400 with no code', async () => {
    const { client } = await tensorlake();
    const piped = await client.startProcess({ command: 'cat', stdin_mode: 'pipe' });
    await client.closeStdin(piped.pid);
    await client.closeStdin(piped.pid);
    await waitForExit(client.processes, piped.pid, { timeoutMs: 10_000 });
    await client.closeStdin(piped.pid);
    const plain = await client.startProcess({ command: 'sleep', args: ['30'] });
    const error = await client.closeStdin(plain.pid).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ status: 400, code: undefined });
  });

  // Every form the SDKs send, naming the emulator's own user: runs as is, root or not.
  const self = userInfo();
  it.each([[self.username], [{ name: self.username }], [{ name: self.username, gid: self.gid }], [{ uid: self.uid, gid: self.gid }], [self.uid], [`${self.uid}:${self.gid}`]])(
    'accepts the user form %j',
    async (user) => {
      const { client } = await tensorlake();
      expect(await identitySeenBy(client, user)).toEqual({ uid: self.uid, wroteWorkdir: true });
    },
  );

  it('runs a process as another user when it is root, which writes the working directory as the root one does, and refuses to otherwise (never runs it as someone else)', async () => {
    const { client } = await tensorlake();
    const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith('nobody:'))?.split(':');
    expect(nobody, 'this test needs a "nobody" user').toBeDefined();
    const request = { command: 'sleep', args: ['5'], user: 'nobody' };
    if (self.uid === 0) {
      expect(await identitySeenBy(client, 'nobody')).toEqual({ uid: Number(nobody![2]), wroteWorkdir: true });
      expect(await identitySeenBy(client, undefined)).toEqual({ uid: 0, wroteWorkdir: true });
    } else {
      const error = await client.startProcess(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toMatch(/only root can switch users/);
    }
    await expect(client.startProcess({ command: 'true', user: 'sandbox-procs-no-such-user' })).rejects.toThrow(/no such user/);
  });

  it('refuses a user object with both name and uid before sending it', async () => {
    const { client } = await tensorlake();
    await expect(client.startProcess({ command: 'true', user: { name: 'root', uid: 0 } as never })).rejects.toThrow(/user/);
  });

  it('addresses a managed process by its name, restarts it with a new PID, and stops it for good on kill', async () => {
    const { client } = await tensorlake();
    const started = await client.startProcess({ command: 'sleep', args: ['30'], name: 'web server' });
    // Its id is its name, stable across restarts (ManagedProcessInfo.id, both SDKs).
    expect(started.managed).toMatchObject({ id: 'web server', name: 'web server', status: 'running', restart_count: 0 });
    expect((await client.getProcess('web server')).pid).toBe(started.pid);
    const restarted = await client.restartProcess('web server');
    expect(restarted.pid).not.toBe(started.pid);
    expect(restarted.managed).toMatchObject({ id: 'web server', restart_count: 1 });
    expect((await client.getProcess(started.pid)).status).not.toBe('running');
    await client.killProcess('web server');
    await eventually(async () => (await client.getProcess('web server')).status !== 'running', 5_000);
    expect((await client.getProcess('web server')).managed).toMatchObject({ status: 'stopped' });
    // Managed without a name: an opaque id, which is no name it could be addressed by.
    const unnamed = await client.startProcess({ command: 'sleep', args: ['30'], restart: { policy: 'never' } });
    expect(unnamed.managed?.id).toMatch(/^mp_[0-9a-f]{12}$/);
    expect(unnamed.managed?.name ?? null).toBeNull();
    await client.killProcess(unnamed.pid);
    // An unmanaged process cannot be restarted.
    const plain = await client.startProcess({ command: 'sleep', args: ['30'] });
    await expect(client.restartProcess(plain.pid)).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('restarts a managed process that fails, as its policy says, and no more than max_restarts', async () => {
    const { client } = await tensorlake();
    await client.startProcess({ command: 'false', name: 'flaky', restart: { policy: 'on_failure', max_restarts: 2, initial_backoff_ms: 10, max_backoff_ms: 20 } });
    await eventually(async () => (await client.getProcess('flaky')).managed?.status === 'stopped', 5_000);
    const final = await client.getProcess('flaky');
    expect(final.managed).toMatchObject({ restart_count: 2, last_exit: { exit_code: 1 } });
    expect((await client.listProcesses()).filter((p) => p.command === 'false')).toHaveLength(3);
  });

  it('ends a run at its timeout with a signal exit frame', async () => {
    const { client } = await tensorlake();
    const events = [];
    for await (const event of client.run({ command: 'sleep', args: ['30'], timeout: 0.2 })) events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'exit', signal: 9 });
  });
});

describe('the daemon\'s plain-text rejections, through the client', () => {
  it.each([
    [400, 'Failed to parse the request body as JSON: EOF while parsing'],
    [415, 'Expected request with `Content-Type: application/json`'],
    [422, 'Failed to deserialize the JSON body into the target type: missing field `command`'],
  ])('turns a text/plain %i into InvalidRequestError with the text as its message', async (status, text) => {
    const server = await serve((_req, res) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text));
    const client = createTensorlakeClient({ apiKey: testKey('plain-text'), baseUrl: server.baseUrl });
    const error = await client.startProcess({ command: 'ls' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ provider: 'tensorlake', operation: 'sandbox_process_start', status, message: `tensorlake sandbox_process_start ${status}: ${text}` });
    expect(validator.check('sandbox_process_start', { status, contentType: 'text/plain; charset=utf-8', bodyText: text })).toEqual([]);
  });

  it('still refuses a text/plain error where the spec declares none', async () => {
    const server = await serve((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('nope'));
    const client = createHopxClient({ apiKey: testKey('plain-text'), baseUrl: server.baseUrl });
    await expect(client.killProcess('proc_1')).rejects.toMatchObject({ code: 'INVALID_JSON' });
  });
});

describe('run streams with keep-alive frames', () => {
  it('skips heartbeat and keepalive frames, as the official CLI does, and yields only the real events', async () => {
    const frames = [
      { pid: 7, started_at: 1763900000000 },
      { type: 'heartbeat' },
      { line: 'hello', timestamp: 1763900000.5, stream: 'stdout' },
      { event: 'keepalive' },
      { kind: 'heartbeat' },
      { exit_code: 0 },
    ];
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join(''));
    });
    const client = createTensorlakeClient({ apiKey: testKey('keepalive'), baseUrl: server.baseUrl });
    const events = [];
    for await (const event of client.run({ command: 'echo', args: ['hello'] })) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['started', 'output', 'exit']);
    expect(events[1]).toMatchObject({ line: 'hello', timestamp: 1763900000.5 });
    const body = frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('');
    expect(validator.check('sandbox_process_run', { status: 200, contentType: 'text/event-stream', bodyText: body })).toEqual([]);
  });

  it('still refuses a frame that is none of the known kinds', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify({ pid: 7, started_at: 1 })}\n\ndata: ${JSON.stringify({ type: 'surprise' })}\n\n`);
    });
    const client = createTensorlakeClient({ apiKey: testKey('keepalive'), baseUrl: server.baseUrl });
    const drained = (async () => {
      for await (const _ of client.run({ command: 'echo' })) void _;
    })();
    await expect(drained).rejects.toMatchObject({ code: 'INVALID_EVENT' });
  });
});
