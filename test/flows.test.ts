// The flows on the neutral interface, against the emulators with real processes:
// what Prism's stateless mocks cannot show.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import {
  AbortedError,
  TimeoutError,
  createHopxClient,
  createTensorlakeClient,
  killAll,
  runWithTimeout,
  terminate,
  waitForExit,
  type SandboxProcesses,
  type TensorlakeClient,
} from '../src/index.js';

const node = process.execPath;
let tensorlakeEmulator: RunningEmulator;
let hopxEmulator: RunningEmulator;
let tensorlake: TensorlakeClient;
let neutral: Record<'tensorlake' | 'hopx', SandboxProcesses>;

beforeAll(async () => {
  [tensorlakeEmulator, hopxEmulator] = await Promise.all([startEmulator('tensorlake'), startEmulator('hopx')]);
  tensorlake = createTensorlakeClient({ apiKey: tensorlakeEmulator.token, baseUrl: tensorlakeEmulator.baseUrl });
  neutral = {
    tensorlake: tensorlake.processes,
    hopx: createHopxClient({ apiKey: hopxEmulator.token, baseUrl: hopxEmulator.baseUrl }).processes,
  };
});
afterAll(async () => {
  await Promise.all([tensorlakeEmulator?.stop(), hopxEmulator?.stop()]);
});

/** A node script that prints "ready" once its SIGTERM handler is installed. */
function script(onTerm: string): string[] {
  return ['-e', `process.on('SIGTERM', () => { ${onTerm} }); console.log('ready'); setInterval(() => {}, 1000);`];
}

async function untilReady(pid: number): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if ((await tensorlake.getStdout(pid)).lines.includes('ready')) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`process ${pid} never got ready`);
}

describe('terminate (Tensorlake: SIGTERM, grace, then SIGKILL)', () => {
  it('stops a process that handles SIGTERM before the grace period ends', async () => {
    const started = await tensorlake.startProcess({ command: node, args: script('process.exit(3)') });
    await untilReady(started.pid);
    const t0 = Date.now();
    const result = await terminate(neutral.tensorlake, started.pid, { graceMs: 5_000 });
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(result.outcome).toBe('exited');
    expect(result.record).toMatchObject({ status: 'exited', exitCode: 3, running: false });
  });

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    const started = await tensorlake.startProcess({ command: node, args: script('/* ignore */') });
    await untilReady(started.pid);
    const t0 = Date.now();
    const result = await terminate(neutral.tensorlake, started.pid, { graceMs: 400 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(result.outcome).toBe('killed');
    expect(result.record).toMatchObject({ status: 'signaled', running: false, exitCode: null });
    expect((result.record!.raw as { signal: number }).signal).toBe(9);
  });

  it('reports a process that is not there as gone', async () => {
    expect(await terminate(neutral.tensorlake, 2_147_483_646)).toEqual({ outcome: 'gone', record: undefined });
  });
});

describe.each(['tensorlake', 'hopx'] as const)('flows on %s', (provider) => {
  it('waitForExit returns the real exit code', async () => {
    const started = await neutral[provider].start({ command: node, args: ['-e', 'setTimeout(() => process.exit(7), 100)'] });
    const record = await waitForExit(neutral[provider], started.id, { timeoutMs: 10_000 });
    expect(record).toMatchObject({ id: started.id, exitCode: 7, running: false });
    expect(record!.endedAt).toBeInstanceOf(Date);
  });

  it('waitForExit is bounded and cancellable', async () => {
    const started = await neutral[provider].start({ command: 'sleep', args: ['30'] });
    await expect(waitForExit(neutral[provider], started.id, { timeoutMs: 150 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(waitForExit(neutral[provider], started.id, { timeoutMs: 10_000, signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(await neutral[provider].kill(started.id)).toBe(true);
  });

  it('terminate stops a running process', async () => {
    const started = await neutral[provider].start({ command: 'sleep', args: ['30'] });
    const result = await terminate(neutral[provider], started.id, { graceMs: 2_000 });
    expect(['exited', 'killed']).toContain(result.outcome);
    expect(result.record?.running).toBe(false);
  });

  it('kill answers false for a process that is already gone', async () => {
    const started = await neutral[provider].start({ command: 'true' });
    await waitForExit(neutral[provider], started.id, { timeoutMs: 10_000 });
    if (provider === 'hopx') expect(await neutral.hopx.kill(started.id)).toBe(false);
    expect(await neutral[provider].kill(provider === 'hopx' ? 'proc_000000000000' : 2_147_483_646)).toBe(false);
  });

  it('killAll leaves no running process', async () => {
    await Promise.all([1, 2, 3].map(() => neutral[provider].start({ command: 'sleep', args: ['30'] })));
    expect((await neutral[provider].list()).filter((p) => p.running).length).toBeGreaterThanOrEqual(3);
    const killed = await killAll(neutral[provider]);
    expect(killed.length).toBeGreaterThanOrEqual(3);
    const stillRunning = (await neutral[provider].list()).filter((p) => p.running);
    expect(stillRunning).toEqual([]);
  });

  it('killAll with a filter on the command kills only what matches', async () => {
    const sleepers = await Promise.all([1, 2].map(() => neutral[provider].start({ command: 'sleep', args: ['30'] })));
    const other = await neutral[provider].start({ command: 'tail', args: ['-f', '/dev/null'] });
    const killed = await killAll(neutral[provider], (p) => p.command === 'sleep');
    expect(killed.sort()).toEqual(sleepers.map((p) => p.id).sort());
    expect((await neutral[provider].get(other.id))?.running).toBe(true);
    expect(await neutral[provider].kill(other.id)).toBe(true);
  });

  it('runWithTimeout returns a quick process and terminates a slow one', async () => {
    const quick = await runWithTimeout(neutral[provider], { command: 'true' }, { timeoutMs: 10_000 });
    expect(quick).toMatchObject({ timedOut: false, record: { exitCode: 0 } });
    const slow = await runWithTimeout(neutral[provider], { command: 'sleep', args: ['30'] }, { timeoutMs: 200, graceMs: 200 });
    expect(slow.timedOut).toBe(true);
    expect(slow.record?.running).toBe(false);
  });
});

describe('waitForExit polls soon after a start, then less and less often (fake clock, scripted provider)', () => {
  afterEach(() => void vi.useRealTimers());

  /** A provider whose process reads as running for its first `runningPolls` gets; it records the clock at each get. */
  function scripted(runningPolls: number): { processes: SandboxProcesses; polls: number[] } {
    const t0 = Date.now();
    const polls: number[] = [];
    const unused = () => Promise.reject(new Error('not used by waitForExit'));
    const processes: SandboxProcesses = {
      provider: 'tensorlake',
      capabilities: { signals: true, directGet: true },
      start: unused,
      list: unused,
      kill: unused,
      signal: unused,
      openTerminal: unused,
      get: async (id) => {
        polls.push(Date.now() - t0);
        const running = polls.length <= runningPolls;
        return { id: String(id), status: running ? 'running' : 'exited', running, exitCode: running ? null : 0, command: 'true', args: [], startedAt: null, endedAt: null, raw: {} };
      },
    };
    return { processes, polls };
  }

  it('by default: at 0, 2, 6, 14, 30 ms... doubling up to maxIntervalMs, so an exit that comes at once is seen before the old first poll at 50 ms', async () => {
    vi.useFakeTimers();
    const { processes, polls } = scripted(7);
    const waiting = waitForExit(processes, 1, { maxIntervalMs: 40 });
    await vi.runAllTimersAsync();
    expect(await waiting).toMatchObject({ running: false, exitCode: 0 });
    expect(polls).toEqual([0, 2, 6, 14, 30, 62, 102, 142]);
  });

  it('an explicit intervalMs keeps its meaning (the first interval), and timeoutMs bounds the last sleep', async () => {
    vi.useFakeTimers();
    const slow = scripted(3);
    const waiting = waitForExit(slow.processes, 1, { intervalMs: 50, maxIntervalMs: 1_000 });
    await vi.runAllTimersAsync();
    await waiting;
    expect(slow.polls).toEqual([0, 50, 150, 350]);

    const endless = scripted(Number.POSITIVE_INFINITY);
    const bounded = waitForExit(endless.processes, 1, { timeoutMs: 10 }).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await bounded).toBeInstanceOf(TimeoutError);
    expect(endless.polls).toEqual([0, 2, 6, 10]);
  });

  it('an abort during a sleep ends the wait with AbortedError, and no further poll is made', async () => {
    vi.useFakeTimers();
    const { processes, polls } = scripted(Number.POSITIVE_INFINITY);
    const controller = new AbortController();
    const waiting = waitForExit(processes, 1, { signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(3);
    controller.abort();
    await vi.runAllTimersAsync();
    expect(await waiting).toBeInstanceOf(AbortedError);
    expect(polls).toEqual([0, 2]);
  });
});

describe('followed output (Tensorlake)', () => {
  it('arrives in order, from replay and live, and ends with eof', async () => {
    const count = 200;
    const started = await tensorlake.startProcess({
      command: node,
      args: ['-e', `let i = 0; const t = setInterval(() => { console.log(String(i++)); if (i === ${count}) { clearInterval(t); } }, 1);`],
    });
    await new Promise((resolve) => setTimeout(resolve, 30)); // some lines are replayed, the rest arrive live
    const lines: string[] = [];
    let sawEof = false;
    for await (const event of tensorlake.followStdout(started.pid)) {
      if (event.type === 'output') lines.push(event.line);
      else sawEof = true;
    }
    expect(lines).toEqual(Array.from({ length: count }, (_, i) => String(i)));
    expect(sawEof).toBe(true);
  });
});
