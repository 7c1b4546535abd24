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
  /** Gives the sandbox this name (PATCH); the caller has checked that no other sandbox of its namespace has it. */
  rename(sandbox: Sandbox, name: string): void;
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

/**
 * `start`: a sandbox's emulator, made for its create request (its resources become its limits).
 * `onTimeout`: called as a sandbox whose timeout_secs ran out is removed (its processes then stop).
 */
export function createSandboxRegistry(options: { start: (request: Sandbox['request']) => Promise<RunningEmulator>; onTimeout?: (sandbox: Sandbox) => void }): SandboxRegistry {
  const timers = new Map<string, NodeJS.Timeout>();
  const sandboxes = createSandboxes<Sandbox>({
    onRemove: (sandbox) => {
      clearTimeout(timers.get(sandbox.id));
      timers.delete(sandbox.id);
    },
  });
  /** timeout_secs, counted from creation in wall-clock time (0 or none: no timeout); inferred: no source says whether a suspended sandbox's time counts. */
  const expire = (sandbox: Sandbox) => {
    const seconds = sandbox.request.timeout_secs;
    if (!seconds) return;
    const timer = setTimeout(() => {
      if (!sandboxes.get(sandbox.id)) return;
      options.onTimeout?.(sandbox);
      void sandboxes.remove(sandbox.id);
    }, Math.min(seconds * 1000, 2 ** 31 - 1));
    // Unref'd: it keeps no process alive.
    timer.unref();
    timers.set(sandbox.id, timer);
  };
  const matches = (s: Sandbox, idOrName: string) => s.id === idOrName || s.request.name === idOrName;

  return {
    create: (namespace, request) =>
      sandboxes.create(
        (emulator) => {
          const sandbox = { id: newSandboxId(), namespace, request, createdAt: Date.now(), emulator };
          expire(sandbox);
          return sandbox;
        },
        () => options.start(request),
      ),
    find: (namespace, idOrName) => sandboxes.all().find((s) => s.namespace === namespace && matches(s, idOrName)),
    findAnywhere: (idOrName) => sandboxes.get(idOrName) ?? sandboxes.all().find((s) => matches(s, idOrName)),
    all: sandboxes.all,
    inNamespace: (namespace) => sandboxes.all().filter((s) => s.namespace === namespace),
    rename(sandbox, name) {
      sandbox.request.name = name;
    },
    async remove(sandbox) {
      await sandboxes.remove(sandbox.id);
    },
    stopAll: sandboxes.stopAll,
  };
}

/** At most this many ended sandboxes are remembered, the oldest forgotten first. */
const MAX_ENDED = 64;

/** Sandboxes that ended by themselves (their timeout ran out), as they last read: found by ID or name in their namespace. */
export function createEndedSandboxes() {
  type Info = components['schemas']['SandboxInfo'];
  const ended: Info[] = [];
  return {
    add(info: Info) {
      ended.push(info);
      if (ended.length > MAX_ENDED) ended.shift();
    },
    find: (namespace: string, idOrName: string): Info | undefined =>
      [...ended].reverse().find((e) => e.namespace === namespace && (e.sandbox_id === idOrName || e.name === idOrName)),
  };
}
