// What the emulators promise holds for terminal sessions too: a program that prints
// a gigabyte into a terminal read slowly leaves the emulator's RSS under 256 MiB
// (HopX: the slow reader holds the terminal, so the program waits; Tensorlake: as
// the daemon does, a client that lags is closed with 1008 and the program goes on),
// SIGKILL of `sandbox-procs emulate` with an open terminal running `sleep`
// leaves no process, and 64 sessions are open at once at most. Emulators in processes of their own, measured from /proc.
// Both confined (where bubblewrap works here) and with isolation none.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { EMULATOR_RUN_MARKER } from '../src/emulator/reaper.js';
import { encodePtyFrame } from '../src/providers/tensorlake/pty-frames.js';
import { buildEmulator, hostEmulator, type HostedEmulator } from './support/emulator-process.js';
import { processesRunning, waitFor } from './support/processes.js';
import { collect, mustOpen, openSocket, type Refused } from './support/ws-session.js';
import { startEmulator } from '../src/emulator/index.js';
import { testKey } from './support/secrets.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);
const MiB = 1024 * 1024;
const GIGABYTE_COMMAND = 'head -c 1000000000 /dev/zero | tr "\\0" x';
const bin = join(import.meta.dirname, '..', 'dist', 'src', 'bin.js');

/** Stops reading the socket: what the server sends piles up in the kernel, then in the server. */
const stopReading = (ws: WebSocket) => (ws as unknown as { _socket: { pause(): void } })._socket.pause();
const startReading = (ws: WebSocket) => (ws as unknown as { _socket: { resume(): void } })._socket.resume();

let entry: string;
beforeAll(async () => {
  entry = await buildEmulator();
}, 180_000);

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  describe('a gigabyte into a terminal read slowly', () => {
    let hosted: HostedEmulator | undefined;
    afterAll(async () => {
      await hosted?.stop();
    });

    it('HopX: the terminal waits for the reader; the emulator stays under 256 MiB', async () => {
      hosted = await hostEmulator(entry, 'hopx', undefined, isolation);
      const ws = await mustOpen(`${hosted.baseUrl.replace('http:', 'ws:')}/terminal`, { authorization: `Bearer ${hosted.token}` });
      let received = 0;
      let dropped = false;
      ws.on('message', (data: Buffer) => {
        received += data.length;
        if (data.includes('sandbox-procs dropped')) dropped = true;
      });
      ws.send(JSON.stringify({ type: 'input', data: `${GIGABYTE_COMMAND}; echo done-printing\n` }));
      await waitFor(() => received > MiB, 10_000);
      // Slowly: nothing read for a while, then a trickle, the peak measured throughout.
      let peak = 0;
      for (let round = 0; round < 10; round++) {
        stopReading(ws);
        await new Promise((resolve) => setTimeout(resolve, 400));
        peak = Math.max(peak, hosted.memory().peak);
        startReading(ws);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(`hopx terminal, isolation ${isolation}: ${(received / MiB).toFixed(1)} MiB read slowly, emulator peak RSS ${(peak / MiB).toFixed(0)} MiB`);
      expect(peak).toBeLessThan(256 * MiB);
      // Held, not dropped: far less than the gigabyte has reached us, and none of it was thrown away.
      expect(received).toBeLessThan(500 * MiB);
      expect(dropped).toBe(false);
      ws.close();
      await once(ws, 'close');
      await hosted.stop();
      hosted = undefined;
    }, 60_000);

    it('Tensorlake: a lagging client is closed with 1008, as the daemon does; the emulator stays under 256 MiB', async () => {
      hosted = await hostEmulator(entry, 'tensorlake', undefined, isolation);
      const headers = { authorization: `Bearer ${hosted.token}`, 'content-type': 'application/json' };
      const created = await fetch(`${hosted.baseUrl}/api/v1/pty`, { method: 'POST', headers, body: JSON.stringify({ command: 'sh', args: ['-c', `read go; ${GIGABYTE_COMMAND}`] }) });
      const { session_id, token } = (await created.json()) as { session_id: string; token: string };
      const ws = await mustOpen(`${hosted.baseUrl.replace('http:', 'ws:')}/api/v1/pty/${session_id}/ws?token=${token}`, headers);
      const session = collect(ws);
      // The program waits for this line: printing before READY is taken would overflow the 1 MiB pre-ready buffer (closed 1008, as the daemon does) on a busy machine.
      ws.send(encodePtyFrame({ op: 'ready' }));
      ws.send(encodePtyFrame({ op: 'data', data: Buffer.from('go\n') }));
      await session.until((m) => m.length > 10, 10_000);
      stopReading(ws);
      let peak = 0;
      const closed = session.closed;
      for (let round = 0; round < 40; round++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        peak = Math.max(peak, hosted.memory().peak);
      }
      startReading(ws);
      const close = await closed;
      console.log(`tensorlake terminal, isolation ${isolation}: closed ${close.code} (${close.reason}), emulator peak RSS ${(peak / MiB).toFixed(0)} MiB`);
      expect(close.code).toBe(1008);
      expect(close.reason).toMatch(/^output lagged by \d+ messages$/);
      expect(peak).toBeLessThan(256 * MiB);
      await hosted.stop();
      hosted = undefined;
    }, 60_000);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('%s of `sandbox-procs emulate` with an open terminal running sleep leaves no process', async (signal) => {
    expect(existsSync(bin)).toBe(true);
    const seconds = String(86_400 + Math.floor(Math.random() * 100_000));
    const run = `${inject('emulatorRun')}.terminal-${signal}-${isolation}`;
    const token = `tk_${Math.random().toString(16).slice(2)}`;
    const child = spawn(process.execPath, [bin, 'emulate', '--provider', 'hopx', '--token', token, '--isolation', isolation], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', [EMULATOR_RUN_MARKER]: run },
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c));
    child.stderr!.on('data', (c: Buffer) => (output += c));
    const exited = once(child, 'exit');
    // Found by its unique command line: only this test's sleep has it.
    const sleeps = () => processesRunning(['sleep', seconds]);
    try {
      expect(await waitFor(() => /listening on http:\S+/.test(output), 15_000)).toBe(true);
      const baseUrl = /listening on (http:\S+)/.exec(output)![1]!;
      const ws = await mustOpen(`${baseUrl.replace('http:', 'ws:')}/terminal`, { authorization: `Bearer ${token}` });
      ws.on('error', () => undefined);
      // Deaf to the SIGHUP a closing terminal sends: only the emulator's own cleanup (marks, reaper, sandbox) can end it.
      ws.send(JSON.stringify({ type: 'input', data: `nohup sleep ${seconds} >/dev/null 2>&1\n` }));
      expect(await waitFor(() => sleeps().length === 1, 10_000)).toBe(true);
      child.kill(signal);
      await exited;
      expect(await waitFor(() => sleeps().length === 0, 5_000)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // On failure too: this test's own sleep (its number is unique) does not outlive it.
      for (const pid of sleeps()) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});

describe('HopX: the session cap and a paused sandbox', () => {
  let controlPlane: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    controlPlane = await startEmulator('hopx', { token: testKey('hopx-ws-cp'), isolation: 'none', controlPlane: true });
  });
  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('refuses the 65th session with 429, and a paused sandbox\'s upgrades with 503 SANDBOX_PAUSED', async () => {
    const apiKey = { 'x-api-key': controlPlane.token, 'content-type': 'application/json' };
    const created = await fetch(`${controlPlane.baseUrl}/v1/sandboxes`, { method: 'POST', headers: apiKey, body: JSON.stringify({ template_name: 'code-interpreter' }) });
    expect(created.status).toBeLessThan(300);
    const sandbox = (await created.json()) as { id: string; public_host: string; auth_token: string };
    const url = `${sandbox.public_host.replace('http:', 'ws:')}/terminal`;
    const auth = { authorization: `Bearer ${sandbox.auth_token}` };
    const open: WebSocket[] = [];
    try {
      for (let i = 0; i < 64; i++) open.push(await mustOpen(url, auth));
      const refused = (await openSocket(url, auth)) as Refused;
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
    } finally {
      for (const ws of open) ws.close();
    }
    expect((await fetch(`${controlPlane.baseUrl}/v1/sandboxes/${sandbox.id}/pause`, { method: 'POST', headers: apiKey })).status).toBeLessThan(300);
    const paused = (await openSocket(url, auth)) as Refused;
    expect(paused.status).toBe(503);
    expect(paused.body).toMatchObject({ code: 'SANDBOX_PAUSED' });
  }, 180_000);
});
