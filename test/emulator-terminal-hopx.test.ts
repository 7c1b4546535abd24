// The HopX agent emulator's WebSocket routes with `ws` as the client, as the
// official SDK speaks them (@hopx-ai/sdk 0.5.1: Sandbox.runCodeStream, Terminal):
// /execute/stream runs code and streams its output, result and completion; /terminal
// is the sandbox's shell in a real pseudo-terminal (input, resize, exit). Auth is
// decided before the upgrade, refusals are the agent's JSON errors. Each flow both
// confined (the default, where bubblewrap works here) and with isolation none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { collect, mustOpen, openSocket, type Refused } from './support/ws-session.js';
import { testKey } from './support/secrets.js';
import { processesRunning, waitFor } from './support/processes.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

type Message = Record<string, unknown> & { type: string };
const parsed = (messages: Buffer[]) => messages.map((m) => JSON.parse(m.toString()) as Message);
const outputOf = (messages: Buffer[]) =>
  parsed(messages)
    .filter((m) => m.type === 'output')
    .map((m) => m.data as string)
    .join('');

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let emulator: RunningEmulator;
  const wsUrl = (path: string) => `${emulator.baseUrl.replace('http:', 'ws:')}${path}`;
  const auth = () => ({ authorization: `Bearer ${emulator.token}` });

  beforeAll(async () => {
    emulator = await startEmulator('hopx', { token: testKey('hopx-ws'), isolation });
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  async function execute(message: object): Promise<{ messages: Message[]; close: { code: number; reason: string } }> {
    const ws = await mustOpen(wsUrl('/execute/stream'), auth());
    const session = collect(ws);
    ws.send(JSON.stringify(message));
    const close = await session.closed;
    return { messages: parsed(session.messages), close };
  }

  it('execute/stream runs python: stdout and stderr as they come, then result, then complete, then close', async () => {
    const { messages, close } = await execute({ type: 'execute', code: 'import sys\nprint("one", flush=True)\nprint("two", file=sys.stderr, flush=True)\nprint("three")', language: 'python', timeout: 30 });
    const types = messages.map((m) => m.type);
    expect(types.slice(-2)).toEqual(['result', 'complete']);
    expect(messages.filter((m) => m.type === 'stdout').map((m) => m.data).join('')).toBe('one\nthree\n');
    expect(messages.filter((m) => m.type === 'stderr').map((m) => m.data).join('')).toBe('two\n');
    const result = messages.find((m) => m.type === 'result')!;
    expect(result.exit_code).toBe(0);
    expect(typeof result.execution_time).toBe('number');
    expect(messages.at(-1)).toEqual({ type: 'complete', success: true });
    expect(close.code).toBe(1000);
  });

  it('execute/stream runs bash, and a failing run completes with success false and its exit code', async () => {
    const { messages } = await execute({ type: 'execute', code: 'echo hi; exit 3', language: 'bash' });
    expect(messages.filter((m) => m.type === 'stdout').map((m) => m.data).join('')).toBe('hi\n');
    expect(messages.find((m) => m.type === 'result')!.exit_code).toBe(3);
    expect(messages.at(-1)).toEqual({ type: 'complete', success: false });
  });

  it('execute/stream answers a first message that is no execute request with an error, then complete', async () => {
    const { messages } = await execute({ type: 'nonsense' });
    expect(messages.map((m) => m.type)).toEqual(['error', 'complete']);
    expect(messages[0]!.code).toBe('INVALID_REQUEST');
  });

  it('terminal: echo hi, resize (stty size says so), exit with the shell\'s code, then close', async () => {
    const ws = await mustOpen(wsUrl('/terminal'), auth());
    const session = collect(ws);
    ws.send(JSON.stringify({ type: 'input', data: 'echo h""i\n' }));
    await session.until((m) => outputOf(m).includes('hi\r\n'));
    ws.send(JSON.stringify({ type: 'resize', cols: 123, rows: 45 }));
    ws.send(JSON.stringify({ type: 'input', data: 'stty size\n' }));
    await session.until((m) => outputOf(m).includes('45 123'));
    ws.send(JSON.stringify({ type: 'input', data: 'exit 7\n' }));
    const close = await session.closed;
    expect(parsed(session.messages).at(-1)).toEqual({ type: 'exit', code: 7 });
    expect(close.code).toBe(1000);
  });

  it('ends what the shell left running in its terminal session when the shell exits (a nohup background job too)', async () => {
    const seconds = String(200_000 + Math.floor(Math.random() * 100_000));
    const sleeps = () => processesRunning(['sleep', seconds]);
    const ws = await mustOpen(wsUrl('/terminal'), auth());
    const session = collect(ws);
    try {
      ws.send(JSON.stringify({ type: 'input', data: `nohup sleep ${seconds} >/dev/null 2>&1 &\n` }));
      expect(await waitFor(() => sleeps().length === 1, 5_000)).toBe(true);
      ws.send(JSON.stringify({ type: 'input', data: 'exit\n' }));
      await session.closed;
      expect(await waitFor(() => sleeps().length === 0, 3_000)).toBe(true);
    } finally {
      for (const pid of sleeps()) process.kill(pid, 'SIGKILL');
    }
  });

  it('refuses an upgrade without the bearer token with the agent\'s 401, before any session exists', async () => {
    const refused = (await openSocket(wsUrl('/terminal'), { authorization: 'Bearer wrong' })) as Refused;
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'AUTHENTICATION_REQUIRED' });
    expect(JSON.stringify(refused.body)).not.toContain(emulator.token);
  });

  it('answers the streams no source describes with 501 in the agent\'s error shape', async () => {
    for (const path of ['/commands/stream', '/stream', '/stream/ipython']) {
      const refused = (await openSocket(wsUrl(path), auth())) as Refused;
      expect(refused.status).toBe(501);
      expect(refused.body).toMatchObject({ code: 'NOT_IMPLEMENTED' });
      expect((refused.body as { error: string }).error).toContain('not emulated by sandbox-procs');
    }
  });
});

describe('an agent token that expired', () => {
  let controlPlane: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    controlPlane = await startEmulator('hopx', { token: testKey('hopx-ws-ttl'), isolation: 'none', controlPlane: true, tokenTtlSeconds: 1 });
  });
  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('is refused on the upgrade with the agent\'s 401 TOKEN_EXPIRED, as on every other agent route', async () => {
    const apiKey = { 'x-api-key': controlPlane.token, 'content-type': 'application/json' };
    const created = await fetch(`${controlPlane.baseUrl}/v1/sandboxes`, { method: 'POST', headers: apiKey, body: JSON.stringify({ template_name: 'code-interpreter' }) });
    const sandbox = (await created.json()) as { public_host: string; auth_token: string };
    const url = `${sandbox.public_host.replace('http:', 'ws:')}/execute/stream`;
    const auth = { authorization: `Bearer ${sandbox.auth_token}` };
    (await mustOpen(url, auth)).close();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const refused = (await openSocket(url, auth)) as Refused;
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'TOKEN_EXPIRED' });
  });
});
