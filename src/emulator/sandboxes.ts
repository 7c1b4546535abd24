// A control plane's sandboxes, whatever the provider: each one a process-API
// emulator of its own (server, supervisor, working directory, token), at most
// MAX_SANDBOXES at once so that their number bounds the memory. Removing one stops
// everything in it; stopAll() also waits for those still starting, so none
// outlives the control plane.
import type { SandboxEmulator as RunningEmulator } from './emulator.js';

export const MAX_SANDBOXES = 16;

export interface SandboxEntry {
  readonly id: string;
  readonly emulator: RunningEmulator;
}

export interface Sandboxes<S extends SandboxEntry> {
  readonly max: number;
  /**
   * A new running sandbox made from its emulator; 'full' at the cap, 'stopping' once stopAll() began.
   * `start` replaces the set's own start for this one (e.g. with the limits its create request asked for).
   */
  create(make: (emulator: RunningEmulator) => S, start?: () => Promise<RunningEmulator>): Promise<S | 'full' | 'stopping'>;
  get(id: string): S | undefined;
  /** In creation order. */
  all(): S[];
  /** Gone from view at once, then stopped; false when there is no such sandbox. */
  remove(id: string): Promise<boolean>;
  stopAll(): Promise<void>;
}

export function createSandboxes<S extends SandboxEntry>(options: {
  /** How a sandbox's emulator starts, unless create() is given its own start. */
  start?: () => Promise<RunningEmulator>;
  /** Called as a sandbox is removed (e.g. to clear its timeout). */
  onRemove?: (sandbox: S) => void;
  max?: number;
  /**
   * Sandboxes of the set's own `start` kept started ahead, so that a create takes one
   * at once (a confined sandbox takes ~130 ms to start). They count against nothing a
   * user sees, and stopAll() stops them. Default 0.
   */
  spares?: number;
}): Sandboxes<S> {
  const max = options.max ?? MAX_SANDBOXES;
  const sandboxes = new Map<string, S>();
  // Creations under way: counted against the cap, and awaited by stopAll.
  const pending = new Set<Promise<unknown>>();
  let stopping = false;
  // Oldest first: the one that has had the longest to get ready is taken first.
  const spares: Promise<RunningEmulator>[] = [];
  const fillSpares = () => {
    while (options.start && !stopping && spares.length < (options.spares ?? 0)) {
      const spare = options.start();
      spare.catch(() => undefined);
      spares.push(spare);
    }
  };
  /** A spare if there is one (a fresh one is started behind it), else a new start. */
  const takeOwnStart = (): Promise<RunningEmulator> => {
    const taken = spares.shift();
    fillSpares();
    return taken ? taken.catch(() => options.start!()) : options.start!();
  };
  fillSpares();

  async function remove(id: string): Promise<boolean> {
    const sandbox = sandboxes.get(id);
    if (!sandbox) return false;
    // Gone for every request from now on, before its processes are stopped.
    sandboxes.delete(id);
    options.onRemove?.(sandbox);
    await sandbox.emulator.stop();
    return true;
  }

  return {
    max,
    async create(make, own) {
      const start = own ?? (options.start && takeOwnStart);
      if (!start) throw new Error('this sandbox set starts each sandbox from its own request: pass create() a start');
      if (stopping) return 'stopping';
      if (sandboxes.size + pending.size >= max) return 'full';
      const creating = (async (): Promise<S | 'stopping'> => {
        const emulator = await start();
        if (stopping) {
          await emulator.stop();
          return 'stopping';
        }
        const sandbox = make(emulator);
        sandboxes.set(sandbox.id, sandbox);
        return sandbox;
      })();
      pending.add(creating);
      try {
        return await creating;
      } finally {
        pending.delete(creating);
      }
    },
    get: (id) => sandboxes.get(id),
    all: () => [...sandboxes.values()],
    remove,
    async stopAll() {
      stopping = true;
      await Promise.all(spares.splice(0).map((idle) => idle.then((emulator) => emulator.stop(), () => undefined)));
      // One started meanwhile sees `stopping` and stops itself within create().
      await Promise.allSettled([...pending]);
      await Promise.allSettled([...sandboxes.keys()].map(remove));
    },
  };
}
