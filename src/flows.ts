// Flows built on the provider-neutral interface only: they work the same on
// every provider. Polling is bounded (interval and total time) and cancellable.
import { AbortedError, TimeoutError } from './errors.js';
import type { ProcessRecord, SandboxProcesses, StartProcessSpec } from './processes.js';
import { sleep } from './core/sleep.js';

/** How long and how often waitForExit asks, and how to cancel it. */
export interface WaitOptions {
  /** Give up after this long with TimeoutError. Default 60 000 ms. */
  timeoutMs?: number;
  /**
   * First poll interval; it doubles up to maxIntervalMs. Default 2 ms: a process that
   * exits at once is seen within milliseconds, and a long one costs only about five
   * more polls in its first second than a 50 ms start would (2, 4, ... 512 ms, then the cap).
   */
  intervalMs?: number;
  /** Default 1 000 ms. */
  maxIntervalMs?: number;
  /** Cancels the wait with AbortedError. */
  signal?: AbortSignal;
}

/**
 * Neither provider pushes an exit to a client that waits for one (HopX has no stream
 * at all; Tensorlake's follow streams end at exit, but hold a connection per wait and
 * still need a read to learn the exit code), so the wait polls, starting small.
 */
const FIRST_POLL_INTERVAL_MS = 2;

/**
 * Polls until the process is no longer running. Resolves with its last record,
 * or undefined when the provider no longer knows it.
 */
export async function waitForExit<Raw>(
  processes: SandboxProcesses<Raw>,
  id: string | number,
  options: WaitOptions = {},
): Promise<ProcessRecord<Raw> | undefined> {
  const { timeoutMs = 60_000, maxIntervalMs = 1_000, signal } = options;
  const context = { provider: processes.provider, operation: 'waitForExit' };
  const deadline = Date.now() + timeoutMs;
  let interval = Math.max(1, options.intervalMs ?? FIRST_POLL_INTERVAL_MS);
  for (;;) {
    if (signal?.aborted) throw new AbortedError('the wait was cancelled', { ...context, cause: signal.reason });
    const record = await processes.get(id);
    if (!record || !record.running) return record;
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`process ${id} still running after ${timeoutMs} ms`, context);
    try {
      await sleep(Math.min(interval, left), signal);
    } catch (reason) {
      throw new AbortedError('the wait was cancelled', { ...context, cause: reason });
    }
    interval = Math.min(interval * 2, maxIntervalMs);
  }
}

/** How terminate() ended, with the process's last record. */
export interface TerminateResult<Raw> {
  /** `exited`: it stopped within the grace period; `killed`: it was killed; `gone`: it was not there. */
  outcome: 'exited' | 'killed' | 'gone';
  /** The last record seen; undefined when the provider no longer knows the process. */
  record: ProcessRecord<Raw> | undefined;
}

/**
 * Stops a process gracefully where the provider can: SIGTERM, up to `graceMs`
 * for it to exit, then kill (Tensorlake's advice). Without signals (HopX): kill.
 *
 * @param options.graceMs - How long SIGTERM gets before the kill, in milliseconds. Default 5 000.
 * @param options.signal - Cancels the waits with AbortedError.
 * @throws AbortedError when `options.signal` fires; any error of the calls it makes.
 */
export async function terminate<Raw>(
  processes: SandboxProcesses<Raw>,
  id: string | number,
  options: { graceMs?: number; signal?: AbortSignal } = {},
): Promise<TerminateResult<Raw>> {
  const { graceMs = 5_000, signal } = options;
  if (processes.capabilities.signals) {
    const before = await processes.get(id);
    if (!before) return { outcome: 'gone', record: undefined };
    if (!before.running) return { outcome: 'exited', record: before };
    await processes.signal(id, 15);
    try {
      const record = await waitForExit(processes, id, { timeoutMs: graceMs, maxIntervalMs: 200, ...(signal && { signal }) });
      return { outcome: record ? 'exited' : 'gone', record };
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
  }
  const killed = await processes.kill(id);
  if (!killed) return { outcome: 'gone', record: undefined };
  const record = await waitForExit(processes, id, { timeoutMs: 10_000, maxIntervalMs: 200, ...(signal && { signal }) });
  return { outcome: 'killed', record };
}

/**
 * Kills every running process that `filter` accepts (all by default), at once;
 * resolves with the ids it killed (not those that were already gone).
 */
export async function killAll<Raw>(
  processes: SandboxProcesses<Raw>,
  filter: (record: ProcessRecord<Raw>) => boolean = () => true,
): Promise<string[]> {
  const targets = (await processes.list()).filter((record) => record.running && filter(record));
  const results = await Promise.all(targets.map(async (record) => ((await processes.kill(record.id)) ? record.id : undefined)));
  return results.filter((id): id is string => id !== undefined);
}

/** How runWithTimeout() ended, with the process's last record. */
export interface RunWithTimeoutResult<Raw> {
  /** The last record seen; undefined when the provider no longer knows the process. */
  record: ProcessRecord<Raw> | undefined;
  /** True when the process outlived `timeoutMs` and was terminated. */
  timedOut: boolean;
}

/**
 * Starts a process and waits for it; past `timeoutMs` it is terminated (grace, then kill).
 *
 * @param options.timeoutMs - How long the process may run, in milliseconds.
 * @param options.graceMs - How long SIGTERM gets before the kill, in milliseconds. Default 1 000.
 * @param options.signal - Cancels the wait; the process is then terminated and the call rejects with AbortedError.
 */
export async function runWithTimeout<Raw>(
  processes: SandboxProcesses<Raw>,
  spec: StartProcessSpec,
  options: { timeoutMs: number; graceMs?: number; signal?: AbortSignal },
): Promise<RunWithTimeoutResult<Raw>> {
  const started = await processes.start(spec);
  try {
    const record = await waitForExit(processes, started.id, { timeoutMs: options.timeoutMs, ...(options.signal && { signal: options.signal }) });
    return { record, timedOut: false };
  } catch (error) {
    if (!(error instanceof TimeoutError || error instanceof AbortedError)) throw error;
    const { record } = await terminate(processes, started.id, { graceMs: options.graceMs ?? 1_000 });
    if (error instanceof AbortedError) throw error;
    return { record, timedOut: true };
  }
}
