// The Tensorlake control plane's sandboxes (see ./sandboxes.ts), found by ID or
// name within their namespace, as the lifecycle API and the proxy look them up.
import { randomBytes } from 'node:crypto';
import type { components } from '../../../../generated/tensorlake-control.js';
import type { SandboxEmulator as RunningEmulator } from '../../../emulator/emulator.js';
import { createSandboxes } from '../../../emulator/sandboxes.js';

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

/** `start`: a sandbox's emulator, made for its create request (its resources become its limits). */
export function createSandboxRegistry(options: { start: (request: Sandbox['request']) => Promise<RunningEmulator> }): SandboxRegistry {
  const sandboxes = createSandboxes<Sandbox>({});
  const matches = (s: Sandbox, idOrName: string) => s.id === idOrName || s.request.name === idOrName;

  return {
    create: (namespace, request) =>
      sandboxes.create(
        (emulator) => ({ id: newSandboxId(), namespace, request, createdAt: Date.now(), emulator }),
        () => options.start(request),
      ),
    find: (namespace, idOrName) => sandboxes.all().find((s) => s.namespace === namespace && matches(s, idOrName)),
    findAnywhere: (idOrName) => sandboxes.get(idOrName) ?? sandboxes.all().find((s) => matches(s, idOrName)),
    all: sandboxes.all,
    inNamespace: (namespace) => sandboxes.all().filter((s) => s.namespace === namespace),
    async remove(sandbox) {
      await sandboxes.remove(sandbox.id);
    },
    stopAll: sandboxes.stopAll,
  };
}
