// The HopX control plane's sandboxes: each one a process-API emulator of its own,
// at most MAX_SANDBOXES at once (each holds a server, a supervisor and a working
// directory, so their number bounds the memory), deleted on request, at its
// timeout, or all at once when the control plane stops.
import { randomBytes } from 'node:crypto';
import { startProviderEmulator, type EmulatorOptions, type RunningEmulator } from '../emulator.js';
import { hopxEmulator } from '../hopx.js';

export const MAX_SANDBOXES = 16;

export interface HopxSandbox {
  id: string;
  emulator: RunningEmulator;
  templateName: string | undefined;
  templateId: string | undefined;
  region: string;
  internetAccess: boolean;
  timeoutSeconds: number | null;
  /** When the timeout deletes it (ms since the epoch), or null without a timeout. */
  expiresAt: number | null;
  createdAt: number;
}

export type SandboxSpec = Pick<HopxSandbox, 'templateName' | 'templateId' | 'region' | 'internetAccess' | 'timeoutSeconds'>;

export interface SandboxRegistry {
  readonly max: number;
  /** The new sandbox; `full` at MAX_SANDBOXES, `stopping` once stopAll() began. */
  create(spec: SandboxSpec): Promise<HopxSandbox | 'full' | 'stopping'>;
  get(id: string): HopxSandbox | undefined;
  /** In creation order. */
  list(): HopxSandbox[];
  /** Stops everything in it; false when there is no such sandbox. */
  delete(id: string): Promise<boolean>;
  stopAll(): Promise<void>;
}

export function createSandboxRegistry(options: Omit<EmulatorOptions, 'port' | 'token'>): SandboxRegistry {
  const sandboxes = new Map<string, HopxSandbox>();
  const timers = new Map<string, NodeJS.Timeout>();
  /** Emulators being started: stopAll() waits for them too, so that none outlives it. */
  const starting = new Set<Promise<RunningEmulator>>();
  let stopped = false;

  async function remove(id: string): Promise<boolean> {
    const sandbox = sandboxes.get(id);
    if (!sandbox) return false;
    // Gone for every request from now on, before its processes are stopped.
    sandboxes.delete(id);
    clearTimeout(timers.get(id));
    timers.delete(id);
    await sandbox.emulator.stop();
    return true;
  }

  return {
    max: MAX_SANDBOXES,
    async create(spec) {
      if (stopped) return 'stopping';
      if (sandboxes.size + starting.size >= MAX_SANDBOXES) return 'full';
      const start = startProviderEmulator(hopxEmulator, options);
      starting.add(start);
      let emulator: RunningEmulator;
      try {
        emulator = await start;
      } finally {
        starting.delete(start);
      }
      if (stopped) {
        await emulator.stop();
        return 'stopping';
      }
      const createdAt = Date.now();
      const id = `sbx_${randomBytes(8).toString('hex')}`;
      const expiresAt = spec.timeoutSeconds === null ? null : createdAt + spec.timeoutSeconds * 1000;
      const sandbox: HopxSandbox = { ...spec, id, emulator, createdAt, expiresAt };
      sandboxes.set(id, sandbox);
      if (spec.timeoutSeconds !== null) {
        // Auto-kill at the timeout, as HopX does (SandboxCreateOptions.timeoutSeconds); unref'd: it keeps no process alive.
        const timer = setTimeout(() => void remove(id), Math.min(spec.timeoutSeconds * 1000, 2 ** 31 - 1));
        timer.unref();
        timers.set(id, timer);
      }
      return sandbox;
    },
    get: (id) => sandboxes.get(id),
    list: () => [...sandboxes.values()],
    delete: remove,
    async stopAll() {
      stopped = true;
      // One started meanwhile sees `stopped` and stops itself within create().
      await Promise.allSettled([...starting]);
      await Promise.allSettled([...sandboxes.keys()].map(remove));
    },
  };
}
