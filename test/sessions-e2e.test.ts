// Our typed client's WebSocket sessions against the real emulators (not stand-ins):
// the flows the official SDKs run (test/official-hopx-sdk-sessions.test.ts,
// test/official-sdk-tensorlake-pty.test.ts), plus the neutral processes.openTerminal
// on both, and cancellation by AbortSignal mid-session leaving no process of ours
// in the sandbox (found by a marker only this test's processes carry; nobody else's
// processes are looked at, let alone touched). Confined and unconfined.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, createHopxClient, createTensorlakeClient, type HopxClient, type TensorlakeClient, type TerminalSession } from '../src/index.js';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { processesNamed, processesWithEnv, waitFor } from './support/processes.js';
import { testKey } from './support/secrets.js';
import { rejectionOf } from './support/rejection.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

/** Reads a session's output until `done` holds for all of it so far; the output's iterator goes on from there. */
async function readUntil(reader: AsyncIterator<Uint8Array>, text: { value: string }, done: (all: string) => boolean): Promise<void> {
  const decoder = new TextDecoder();
  while (!done(text.value)) {
    const next = await reader.next();
    if (next.done) throw new Error(`the output ended before the expected text; it was: ${JSON.stringify(text.value.slice(-400))}`);
    text.value += decoder.decode(next.value, { stream: true });
  }
}

/** echo hi -> resize to `cols` x `rows`, seen through `stty size`: the output's iterator, and what it has read. */
async function echoAndResize(terminal: TerminalSession, cols: number, rows: number) {
  const reader = terminal.output[Symbol.asyncIterator]();
  const text = { value: '' };
  await terminal.write('echo h""i\n');
  await readUntil(reader, text, (all) => all.includes('hi\r\n'));
  await terminal.resize(cols, rows);
  await terminal.write('stty size\n');
  await readUntil(reader, text, (all) => all.includes(`${rows} ${cols}`));
  return { reader, text };
}

/** echo hi -> resize (stty size) -> exit 5: the exit code, the output read. */
async function terminalFlow(terminal: TerminalSession): Promise<{ exitCode: number; output: string }> {
  const { reader, text } = await echoAndResize(terminal, 123, 45);
  await terminal.write('exit 5\n');
  // Read to the end: the output ends when the program exits.
  for (let next = await reader.next(); !next.done; next = await reader.next()) text.value += new TextDecoder().decode(next.value);
  return { exitCode: await terminal.exitCode, output: text.value };
}

/** Starts `sleep` under a shell whose command line carries a fresh marker, in the terminal; resolves once it runs. */
async function startMarkedSleeper(terminal: TerminalSession): Promise<string> {
  const marker = `e2e-${randomBytes(6).toString('hex')}`;
  await terminal.write(`sh -c 'sleep 600; : ${marker}'\n`);
  expect(await waitFor(() => processesNamed(marker).length > 0, 10_000)).toBe(true);
  return marker;
}

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let hopxEmulator: RunningEmulator;
  let tensorlakeEmulator: RunningEmulator;
  let hopx: HopxClient;
  let tensorlake: TensorlakeClient;

  beforeAll(async () => {
    [hopxEmulator, tensorlakeEmulator] = await Promise.all([
      startEmulator('hopx', { token: testKey('e2e-hopx'), isolation }),
      startEmulator('tensorlake', { token: testKey('e2e-tensorlake'), isolation }),
    ]);
    hopx = createHopxClient({ apiKey: hopxEmulator.token, baseUrl: hopxEmulator.baseUrl });
    tensorlake = createTensorlakeClient({ apiKey: tensorlakeEmulator.token, baseUrl: tensorlakeEmulator.baseUrl });
  });
  afterAll(async () => {
    await Promise.allSettled([hopxEmulator?.stop(), tensorlakeEmulator?.stop()]);
  });

  describe('HopX', () => {
    it.each([
      ['python', 'import sys\nfor i in range(3):\n    print(f"line {i}", flush=True)\nprint("oops", file=sys.stderr)'],
      ['bash', 'for i in 0 1 2; do echo "line $i"; done; echo oops >&2'],
    ] as const)('runCodeStream (%s) yields the output lines, the result and the completion', async (language, code) => {
      const messages = [];
      for await (const message of hopx.runCodeStream({ code, language })) messages.push(message);
      expect(messages.filter((m) => m.type === 'stdout').map((m) => m.data).join('')).toBe('line 0\nline 1\nline 2\n');
      expect(messages.filter((m) => m.type === 'stderr').map((m) => m.data).join('')).toBe('oops\n');
      expect(messages.find((m) => m.type === 'result')).toMatchObject({ exit_code: 0 });
      expect(messages.at(-1)).toEqual({ type: 'complete', success: true });
    });

    it('openTerminal: echo hi -> resize (stty size) -> exit -> exitCode', async () => {
      const { exitCode, output } = await terminalFlow(await hopx.openTerminal({ cols: 80, rows: 24 }));
      expect(output).toContain('hi\r\n');
      expect(exitCode).toBe(5);
    });

    it('the neutral processes.openTerminal does the same', async () => {
      expect((await terminalFlow(await hopx.processes.openTerminal())).exitCode).toBe(5);
    });

    it('aborting runCodeStream mid-stream ends the iteration with AbortedError and leaves no process of the run', async () => {
      const mark = randomBytes(6).toString('hex');
      const controller = new AbortController();
      const seen: string[] = [];
      const run = (async () => {
        for await (const message of hopx.runCodeStream({ code: 'echo started; sleep 600', language: 'bash', env: { SANDBOX_PROCS_E2E_MARK: mark } }, { signal: controller.signal })) {
          if (message.type === 'stdout') {
            seen.push(message.data);
            controller.abort();
          }
        }
      })();
      expect(await rejectionOf(run)).toBeInstanceOf(AbortedError);
      expect(seen.join('')).toContain('started');
      expect(await waitFor(() => processesWithEnv('SANDBOX_PROCS_E2E_MARK', mark).length === 0, 10_000)).toBe(true);
    });

    it('aborting a terminal mid-session rejects its output and exit code with AbortedError and leaves no process of it', async () => {
      const controller = new AbortController();
      const terminal = await hopx.processes.openTerminal({ signal: controller.signal });
      const marker = await startMarkedSleeper(terminal);
      controller.abort();
      expect(await rejectionOf(terminal.exitCode)).toBeInstanceOf(AbortedError);
      expect(await waitFor(() => processesNamed(marker).length === 0, 10_000)).toBe(true);
    });
  });

  describe('Tensorlake', () => {
    it('createPty -> echo hi -> resize -> connectPty again to the same session -> killPty', async () => {
      const pty = await tensorlake.createPty({ command: '/bin/sh', rows: 24, cols: 80 });
      await echoAndResize(pty, 120, 40);

      const again = await tensorlake.connectPty(pty.sessionId, pty.token);
      const replayed = { value: '' };
      await readUntil(again.output[Symbol.asyncIterator](), replayed, (all) => all.includes('hi\r\n') && all.includes('40 120'));
      expect((await tensorlake.getPty(pty.sessionId))).toMatchObject({ is_alive: true, rows: 40, cols: 120 });

      await tensorlake.killPty(pty.sessionId);
      // A kill is no exit: both handles end with the daemon's 1001 "session terminated".
      for (const handle of [pty, again]) expect(await rejectionOf(handle.exitCode)).toMatchObject({ name: 'SessionClosedError', closeCode: 1001, closeReason: 'session terminated' });
      expect((await tensorlake.listPtys()).map((s) => s.session_id)).not.toContain(pty.sessionId);
    });

    it('a PTY session ends with its program\'s exit code (close 1000 "exit:<code>")', async () => {
      const { exitCode } = await terminalFlow(await tensorlake.createPty({ command: '/bin/sh', rows: 24, cols: 80 }));
      expect(exitCode).toBe(5);
    });

    it('the neutral processes.openTerminal does the same', async () => {
      expect((await terminalFlow(await tensorlake.processes.openTerminal())).exitCode).toBe(5);
    });

    it('aborting the neutral terminal mid-session rejects with AbortedError, kills its PTY session and leaves no process of it', async () => {
      const before = new Set((await tensorlake.listPtys()).map((s) => s.session_id));
      const controller = new AbortController();
      const terminal = await tensorlake.processes.openTerminal({ signal: controller.signal });
      const marker = await startMarkedSleeper(terminal);
      const opened = (await tensorlake.listPtys()).filter((s) => !before.has(s.session_id));
      expect(opened).toHaveLength(1);
      controller.abort();
      expect(await rejectionOf(terminal.exitCode)).toBeInstanceOf(AbortedError);
      expect(await waitFor(() => processesNamed(marker).length === 0, 10_000)).toBe(true);
      let sessions = await tensorlake.listPtys();
      for (let i = 0; i < 50 && sessions.some((s) => s.session_id === opened[0]!.session_id); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        sessions = await tensorlake.listPtys();
      }
      expect(sessions.map((s) => s.session_id)).not.toContain(opened[0]!.session_id);
    });
  });
});
