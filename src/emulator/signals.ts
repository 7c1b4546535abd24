// What a library user's process does with running emulators on Ctrl-C, SIGTERM
// or a closed terminal (SIGHUP): stop them all, then die of the same signal, as
// if we had not been there (exit status 128 + n). Installed while at least one
// emulator that asked for it runs, so that afterwards Node's defaults are back.
// If the program has its own listener for that signal, it decides what happens
// next: the emulators are stopped and the process is left to it.
import { constants } from 'node:os';

export interface SignalOwned {
  /** Stops cleanly (bounded by the caller's grace period). */
  stop(): Promise<void>;
  /** A second signal while stopping: no more waiting. Synchronous. */
  killNow(): void;
}

export const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Handled = (typeof HANDLED_SIGNALS)[number];

/** How long a stop may take before the signal is re-raised anyway. */
const GRACE_MS = 5_000;

const owned = new Set<SignalOwned>();
const listeners = new Map<Handled, () => void>();
let stopping = false;

function uninstall(): void {
  for (const [signal, listener] of listeners) process.off(signal, listener);
  listeners.clear();
}

function reraise(signal: Handled): void {
  uninstall();
  if (process.listenerCount(signal) > 0) return; // someone else took over meanwhile
  process.kill(process.pid, signal);
  // Where the default action cannot end us (the signal is ignored, e.g. under nohup), exit as it would have.
  setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1_000).unref();
}

function onSignal(signal: Handled): void {
  if (stopping) {
    for (const o of owned) o.killNow();
    reraise(signal);
    return;
  }
  stopping = true;
  // Ours is one of the listeners: any other means the program handles the signal itself.
  const programHandles = process.listenerCount(signal) > 1;
  const all = [...owned];
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, GRACE_MS);
  });
  void Promise.race([Promise.allSettled(all.map((o) => o.stop())), grace]).then(() => {
    clearTimeout(timer);
    stopping = false;
    if (programHandles) {
      if (owned.size === 0) uninstall();
      return;
    }
    for (const o of all) o.killNow();
    reraise(signal);
  });
}

/** Stops `target` on SIGINT, SIGTERM and SIGHUP until the returned function is called. */
export function stopOnSignals(target: SignalOwned): () => void {
  owned.add(target);
  if (listeners.size === 0) {
    for (const signal of HANDLED_SIGNALS) {
      const listener = () => onSignal(signal);
      listeners.set(signal, listener);
      process.on(signal, listener);
    }
  }
  return () => {
    owned.delete(target);
    if (owned.size === 0 && !stopping) uninstall();
  };
}
