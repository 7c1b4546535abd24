// The emulators against hostile or merely unlucky clients: every answer is one the
// spec declares (checked with the project's validator), slow or greedy connections
// are cut off, and a full emulator answers a declared, retryable 429.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SpecValidator } from '../src/contract/validate.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../src/emulator/index.js';
import { createTensorlakeClient, type ProviderName } from '../src/index.js';

const running: RunningEmulator[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

async function emulator(provider: ProviderName, options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const started = await startEmulator(provider, options);
  running.push(started);
  return started;
}

interface Answer {
  status: number;
  contentType: string | null;
  bodyText: string;
  headers: Headers;
}

async function send(e: RunningEmulator, method: string, path: string, body?: string, contentType = 'application/json'): Promise<Answer> {
  const response = await fetch(`${e.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${e.token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, contentType: response.headers.get('content-type'), bodyText: await response.text(), headers: response.headers };
}

/** The answer is one the operation declares, with a body its schema allows. */
function expectDeclared(provider: ProviderName, operation: string, answer: Answer, status: number): void {
  expect(answer.status, answer.bodyText).toBe(status);
  expect(new SpecValidator(provider).check(operation, answer)).toEqual([]);
}

describe('hostile input gets declared answers', () => {
  it('a malformed percent-escape in a path is a 404, not a 500', async () => {
    const t = await emulator('tensorlake');
    expectDeclared('tensorlake', 'sandbox_process_get', await send(t, 'GET', '/api/v1/processes/%E0%A4%A'), 404);
    const h = await emulator('hopx');
    expectDeclared('hopx', 'kill_process_by_path', await send(h, 'POST', '/execute/kill/%zz'), 404);
  });

  it('a NUL byte in an argument or an env value is refused before anything runs', async () => {
    const t = await emulator('tensorlake');
    const tl = await send(t, 'POST', '/api/v1/processes', JSON.stringify({ command: 'echo', args: ['a\u0000b'] }));
    expectDeclared('tensorlake', 'sandbox_process_start', tl, 422);
    const h = await emulator('hopx');
    for (const body of [{ command: 'echo', args: ['a\u0000b'] }, { command: 'echo', args: ['x'], env: { A: 'a\u0000b' } }, { command: 'echo\u0000' }]) {
      const answer = await send(h, 'POST', '/commands/run', JSON.stringify(body));
      expectDeclared('hopx', 'run_command', answer, 400);
      expect(answer.bodyText).toMatch(/NUL/);
    }
    expect(JSON.parse((await send(t, 'GET', '/api/v1/processes')).bodyText)).toEqual({ processes: [] });
  });

  it.each([2_147_484, 1e300, 1.5])('a HopX background timeout of %s is refused with 400 (the spec\'s bounds), never killed at once', async (timeout) => {
    const h = await emulator('hopx');
    const answer = await send(h, 'POST', '/execute/background', JSON.stringify({ code: 'sleep 1', language: 'bash', timeout }));
    expectDeclared('hopx', 'execute_code_background', answer, 400);
  });

  it('the largest timeout the spec allows runs the process instead of killing it at once', async () => {
    const h = await emulator('hopx');
    const started = JSON.parse((await send(h, 'POST', '/execute/background', JSON.stringify({ code: 'sleep 30', language: 'bash', timeout: 2_147_483 }))).bodyText);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const list = JSON.parse((await send(h, 'GET', '/execute/processes')).bodyText) as { processes: Array<{ process_id: string; status: string }> };
    expect(list.processes.find((p) => p.process_id === started.process_id)?.status).toBe('running');
  });

  it('a wrong content type gets each provider\'s declared answer', async () => {
    const t = await emulator('tensorlake');
    expectDeclared('tensorlake', 'sandbox_process_start', await send(t, 'POST', '/api/v1/processes', 'command=ls', 'application/x-www-form-urlencoded'), 415);
    const h = await emulator('hopx');
    expectDeclared('hopx', 'execute_code', await send(h, 'POST', '/execute', 'code=ls', 'application/x-www-form-urlencoded'), 400);
  });

  it('a body sent where none belongs is ignored, however large, and the answer is the declared one', async () => {
    const t = await emulator('tensorlake', { maxBodyBytes: 1024 });
    const answer = await send(t, 'DELETE', '/api/v1/processes/999999', 'x'.repeat(100_000), 'text/plain');
    expectDeclared('tensorlake', 'sandbox_process_kill', answer, 404);
  });
});

describe('connections', () => {
  function openSocket(e: RunningEmulator): Promise<Socket> {
    const { port } = new URL(e.baseUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
      sockets.push(socket);
    });
  }

  function closed(socket: Socket, withinMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (socket.destroyed) return resolve(true);
      const timer = setTimeout(() => resolve(false), withinMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  it('an unauthenticated request that dribbles its body gets its 401 and loses its socket at once', async () => {
    const t = await emulator('tensorlake');
    const socket = await openSocket(t);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.write('POST /api/v1/processes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"comm');
    const dribble = setInterval(() => socket.writable && socket.write('a'), 50);
    try {
      expect(await closed(socket, 2_000)).toBe(true);
    } finally {
      clearInterval(dribble);
    }
    expect(received).toMatch(/^HTTP\/1\.1 401/);
    expect(received.toLowerCase()).toContain('connection: close');
  });

  it('holds at most maxConnections open connections', async () => {
    const t = await emulator('tensorlake', { maxConnections: 3 });
    const all = await Promise.all(Array.from({ length: 8 }, () => openSocket(t)));
    const outcomes = await Promise.all(all.map((s) => closed(s, 500)));
    expect(outcomes.filter((wasClosed) => !wasClosed)).toHaveLength(3);
    // Once those go, the emulator serves again.
    for (const socket of all) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await send(t, 'GET', '/api/v1/health')).status).toBe(200);
  });
});

describe('a full emulator', () => {
  it('200 concurrent starts against a limit of 32: each is a start or a declared, retryable 429; with retries all 200 complete', async () => {
    // Processes that outlive the burst: exactly the limit may start, however the requests interleave.
    const full = await emulator('tensorlake', { limits: { maxRunning: 32 } });
    const body = JSON.stringify({ command: 'sleep', args: ['30'] });
    const answers = await Promise.all(Array.from({ length: 200 }, () => send(full, 'POST', '/api/v1/processes', body)));
    const busy = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status !== 201 && a.status !== 429)).toEqual([]);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(32);
    expect(busy).toHaveLength(168);
    for (const answer of busy.slice(0, 5)) {
      expectDeclared('tensorlake', 'sandbox_process_start', answer, 429);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    }

    // Short processes free their slots: the client's retries (Retry-After, capped) get every start through.
    // Waits long enough for a loaded machine, where a confined sandbox's spawner starts them one after another.
    const t = await emulator('tensorlake', { limits: { maxRunning: 32 } });
    const client = createTensorlakeClient({ apiKey: t.token, baseUrl: t.baseUrl, retry: { maxRetries: 10, maxRetryAfterMs: 1_000 } });
    const started = await Promise.all(Array.from({ length: 200 }, () => client.startProcess({ command: 'sleep', args: ['0.1'] })));
    expect(new Set(started.map((p) => p.pid)).size).toBe(200);
  }, 60_000);
});
