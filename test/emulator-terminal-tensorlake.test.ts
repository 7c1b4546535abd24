// The Tensorlake daemon emulator's PTY sessions with `ws` as the client, as the
// daemon serves them (indexify crates/container-daemon http_server.rs 632-1030,
// pty_manager.rs) and the official SDK drives them (npm tensorlake createPty,
// connectPty): REST to create, list, read, resize and kill; a WebSocket per client
// with binary frames (pty-frames.ts), output held until READY, history replayed on
// reconnect, the session's end said in the close frame. Both confined (the default,
// where bubblewrap works here) and with isolation none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { encodePtyFrame } from '../src/providers/tensorlake/pty-frames.js';
import { collect, mustOpen, openSocket, type Refused } from './support/ws-session.js';
import { testKey } from './support/secrets.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

/** The text of every DATA frame received, in order. */
const textOf = (messages: Buffer[]) =>
  messages
    .filter((m) => m[0] === 0)
    .map((m) => m.subarray(1).toString())
    .join('');

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let emulator: RunningEmulator;
  const headers = () => ({ authorization: `Bearer ${emulator.token}`, 'content-type': 'application/json' });
  const api = (path: string, init: RequestInit = {}) => fetch(`${emulator.baseUrl}${path}`, { ...init, headers: headers() });
  const wsUrl = (id: string, token: string) => `${emulator.baseUrl.replace('http:', 'ws:')}/api/v1/pty/${id}/ws?token=${token}`;

  beforeAll(async () => {
    emulator = await startEmulator('tensorlake', { token: testKey('tensorlake-ws'), isolation });
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  // bash without the host user's startup files: a slow ~/.bashrc is no part of what is under test.
  async function create(body: object = { command: 'bash', args: ['--norc', '--noprofile'], rows: 24, cols: 80 }): Promise<{ session_id: string; token: string }> {
    const response = await api('/api/v1/pty', { method: 'POST', body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { session_id: string; token: string };
  }
  const send = (ws: WebSocket, frame: Parameters<typeof encodePtyFrame>[0]) => ws.send(encodePtyFrame(frame));

  it('create -> ws READY -> echo hi -> resize -> reconnect to the same session (its history replayed) -> DELETE closes 1001', async () => {
    const { session_id, token } = await create();
    expect(session_id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const first = await mustOpen(wsUrl(session_id, token), headers());
    const one = collect(first);
    send(first, { op: 'ready' });
    send(first, { op: 'data', data: Buffer.from('echo h""i\n') });
    await one.until((m) => textOf(m).includes('hi\r\n'));
    send(first, { op: 'resize', cols: 101, rows: 33 });
    send(first, { op: 'data', data: Buffer.from('stty size\n') });
    await one.until((m) => textOf(m).includes('33 101'));
    const info = (await (await api(`/api/v1/pty/${session_id}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ session_id, rows: 33, cols: 101, is_alive: true, command: 'bash' });
    // Unknown while it runs, so left out (the daemon's serde skips a None), and never the session's token.
    for (const absent of ['exit_code', 'ended_at', 'token']) expect(info).not.toHaveProperty(absent);

    // A second client on the same session: what was printed before it came, then live output to both.
    const second = await mustOpen(wsUrl(session_id, token), headers());
    const two = collect(second);
    send(second, { op: 'ready' });
    await two.until((m) => textOf(m).includes('hi\r\n') && textOf(m).includes('33 101'));
    send(second, { op: 'data', data: Buffer.from('echo again\n') });
    await one.until((m) => textOf(m).includes('again\r\n'));

    const listed = (await (await api('/api/v1/pty')).json()) as { sessions: { session_id: string }[] };
    expect(listed.sessions.map((s) => s.session_id)).toContain(session_id);

    expect((await api(`/api/v1/pty/${session_id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await one.closed).toEqual({ code: 1001, reason: 'session terminated' });
    expect(await two.closed).toEqual({ code: 1001, reason: 'session terminated' });
    expect((await api(`/api/v1/pty/${session_id}`)).status).toBe(404);
  });

  it('holds output until READY, and ends the session with close 1000 "exit:<code>"', async () => {
    const { session_id, token } = await create({ command: 'sh', args: ['-c', 'echo early; sleep 0.3; exit 5'] });
    const ws = await mustOpen(wsUrl(session_id, token), headers());
    const session = collect(ws);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(session.messages).toEqual([]);
    send(ws, { op: 'ready' });
    expect(await session.closed).toEqual({ code: 1000, reason: 'exit:5' });
    expect(textOf(session.messages)).toContain('early');
    const info = (await (await api(`/api/v1/pty/${session_id}`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ is_alive: false, exit_code: 5 });
  });

  it('resizes through REST, and answers 404 NOT_FOUND for a session that does not exist', async () => {
    const { session_id } = await create({ command: 'cat' });
    expect((await api(`/api/v1/pty/${session_id}/resize`, { method: 'POST', body: JSON.stringify({ rows: 10, cols: 20 }) })).status).toBe(204);
    expect(await (await api(`/api/v1/pty/${session_id}`)).json()).toMatchObject({ rows: 10, cols: 20 });
    for (const [path, method] of [
      ['/api/v1/pty/nope', 'GET'],
      ['/api/v1/pty/nope', 'DELETE'],
      ['/api/v1/pty/nope/resize', 'POST'],
    ] as const) {
      const response = await api(path, { method, ...(method === 'POST' && { body: JSON.stringify({ rows: 1, cols: 1 }) }) });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'PTY session nope not found', code: 'NOT_FOUND' });
    }
    await api(`/api/v1/pty/${session_id}`, { method: 'DELETE' });
  });

  it('refuses a wrong session token with 403 INVALID_TOKEN before the upgrade, and a missing bearer with 401', async () => {
    const { session_id, token } = await create({ command: 'cat' });
    const wrong = (await openSocket(wsUrl(session_id, 'f'.repeat(64)), headers())) as Refused;
    expect(wrong).toEqual({ status: 403, body: { error: 'Invalid token', code: 'INVALID_TOKEN' } });
    const unknown = (await openSocket(wsUrl('no-such-session', token), headers())) as Refused;
    expect(unknown.status).toBe(403);
    const anonymous = (await openSocket(wsUrl(session_id, token))) as Refused;
    expect(anonymous.status).toBe(401);
    expect(JSON.stringify([wrong, unknown, anonymous])).not.toContain(token);
    await api(`/api/v1/pty/${session_id}`, { method: 'DELETE' });
  });

  it('closes a client that sends a message over 64 KiB (1009), or more than 1 MiB of input in a second (1008)', async () => {
    const { session_id, token } = await create({ command: 'cat' });
    const big = await mustOpen(wsUrl(session_id, token), headers());
    const bigSession = collect(big);
    big.send(encodePtyFrame({ op: 'data', data: Buffer.alloc(65 * 1024, 'x') }));
    expect((await bigSession.closed).code).toBe(1009);
    const flood = await mustOpen(wsUrl(session_id, token), headers());
    const floodSession = collect(flood);
    send(flood, { op: 'ready' });
    // 17 frames of 63 KiB: past 1 MiB within a second.
    for (let i = 0; i < 17; i++) flood.send(encodePtyFrame({ op: 'data', data: Buffer.alloc(63 * 1024, 'y') }));
    expect(await floodSession.closed).toEqual({ code: 1008, reason: 'input rate limit exceeded' });
    await api(`/api/v1/pty/${session_id}`, { method: 'DELETE' });
  });

  it('answers 429 TOO_MANY_SESSIONS at the daemon\'s cap of 64 sessions', async () => {
    const listed = (await (await api('/api/v1/pty')).json()) as { sessions: unknown[] };
    const created: string[] = [];
    for (let i = listed.sessions.length; i < 64; i++) created.push((await create({ command: 'cat' })).session_id);
    const response = await api('/api/v1/pty', { method: 'POST', body: JSON.stringify({ command: 'cat' }) });
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({ error: 'Maximum number of concurrent PTY sessions (64) reached', code: 'TOO_MANY_SESSIONS' });
    await Promise.all(created.map((id) => api(`/api/v1/pty/${id}`, { method: 'DELETE' })));
    expect((await api('/api/v1/pty', { method: 'POST', body: JSON.stringify({ command: 'cat' }) })).status).toBe(201);
  });
});

describe('through the control plane\'s sandbox proxy, as the official SDK reaches a sandbox', () => {
  let controlPlane: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    controlPlane = await startEmulator('tensorlake', { token: testKey('tensorlake-ws-cp'), isolation: 'none', controlPlane: true });
  });
  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('creates a PTY session and attaches to it with the API key, the sandbox named by X-Tensorlake-Sandbox-Id', async () => {
    const auth = { authorization: `Bearer ${controlPlane.token}`, 'content-type': 'application/json' };
    const created = await fetch(`${controlPlane.baseUrl}/v1/namespaces/default/sandboxes`, { method: 'POST', headers: auth, body: JSON.stringify({ resources: { cpus: 1, memory_mb: 512 } }) });
    expect(created.status).toBe(200);
    const { sandbox_id } = (await created.json()) as { sandbox_id: string };
    const headers = { ...auth, 'x-tensorlake-sandbox-id': sandbox_id };
    const pty = await fetch(`${controlPlane.baseUrl}/api/v1/pty`, { method: 'POST', headers, body: JSON.stringify({ command: 'sh' }) });
    expect(pty.status).toBe(201);
    const { session_id, token } = (await pty.json()) as { session_id: string; token: string };
    const url = `${controlPlane.baseUrl.replace('http:', 'ws:')}/api/v1/pty/${session_id}/ws?token=${token}`;
    expect(((await openSocket(url.replace(token, 'f'.repeat(64)), headers)) as Refused).status).toBe(403);
    expect(((await openSocket(url, { ...headers, authorization: 'Bearer wrong' })) as Refused).status).toBe(401);
    const ws = await mustOpen(url, headers);
    const session = collect(ws);
    ws.send(encodePtyFrame({ op: 'ready' }));
    ws.send(encodePtyFrame({ op: 'data', data: Buffer.from('echo via""proxy; exit 3\n') }));
    expect(await session.closed).toEqual({ code: 1000, reason: 'exit:3' });
    expect(textOf(session.messages)).toContain('viaproxy');
  });
});
