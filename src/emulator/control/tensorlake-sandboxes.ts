// The control plane's sandboxes: each one a running process-API emulator of its
// own, found by ID or name within its namespace. Bounded in number; removing one
// stops it (its processes, its server, its working directory).
import { randomBytes } from 'node:crypto';
import type { components } from '../../../generated/tensorlake-control.js';
import type { RunningEmulator } from '../emulator.js';

export interface Sandbox {
  readonly id: string;
  readonly namespace: string;
  readonly request: components['schemas']['CreateSandboxRequest'];
  readonly createdAt: number;
  readonly emulator: RunningEmulator;
}

export interface SandboxRegistry {
  /** A new running sandbox; 'full' at the cap, 'stopping' once stopAll began. */
  create(namespace: string, request: Sandbox['request']): Promise<Sandbox | 'full' | 'stopping'>;
  find(namespace: string, idOrName: string): Sandbox | undefined;
  /** By ID or name in any namespace: the proxy's Host names no namespace. */
  findAnywhere(idOrName: string): Sandbox | undefined;
  inNamespace(namespace: string): Sandbox[];
  all(): Sandbox[];
  remove(sandbox: Sandbox): Promise<void>;
  stopAll(): Promise<void>;
}

/**
 * Lowercase letters and digits, 21 of them: usable as a DNS label (the proxy's Host is `<id>.local`).
 * The cloud's own IDs look alike; their exact alphabet is not documented.
 */
function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(21)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

export function createSandboxRegistry(options: { max: number; start: () => Promise<RunningEmulator> }): SandboxRegistry {
  const sandboxes = new Map<string, Sandbox>();
  // Creations under way: counted against the cap, and awaited by stopAll so that none outlives it.
  const pending = new Set<Promise<unknown>>();
  let stopping = false;
  const matches = (s: Sandbox, idOrName: string) => s.id === idOrName || s.request.name === idOrName;

  return {
    async create(namespace, request) {
      if (stopping) return 'stopping';
      if (sandboxes.size + pending.size >= options.max) return 'full';
      const creating = (async (): Promise<Sandbox | 'stopping'> => {
        const emulator = await options.start();
        if (stopping) {
          await emulator.stop();
          return 'stopping';
        }
        const sandbox: Sandbox = { id: newSandboxId(), namespace, request, createdAt: Date.now(), emulator };
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
    find: (namespace, idOrName) => [...sandboxes.values()].find((s) => s.namespace === namespace && matches(s, idOrName)),
    findAnywhere: (idOrName) => sandboxes.get(idOrName) ?? [...sandboxes.values()].find((s) => matches(s, idOrName)),
    all: () => [...sandboxes.values()],
    inNamespace: (namespace) => [...sandboxes.values()].filter((s) => s.namespace === namespace),
    async remove(sandbox) {
      // Gone from view at once: the proxy refuses it while its processes are being stopped.
      sandboxes.delete(sandbox.id);
      await sandbox.emulator.stop();
    },
    async stopAll() {
      stopping = true;
      await Promise.allSettled([...pending]);
      const all = [...sandboxes.values()];
      sandboxes.clear();
      await Promise.all(all.map((s) => s.emulator.stop()));
    },
  };
}
