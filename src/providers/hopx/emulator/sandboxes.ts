// The HopX control plane's sandboxes (see ./sandboxes.ts), with what HopX adds:
// template, region, internet access and memory as asked for, and a timeout that
// deletes the sandbox when it runs out (create's timeout_seconds, and PUT .../timeout
// which counts it again from now).
import { randomBytes } from 'node:crypto';
import { DEFAULT_ISOLATION, startProviderEmulator, type EmulatorOptions, type SandboxEmulator as RunningEmulator } from '../../../emulator/emulator.js';
import { hopxEmulator } from './agent.js';
import { createAgentTokens, type AgentTokens } from './agent-tokens.js';
import { createSandboxes } from '../../../emulator/sandboxes.js';

export interface HopxSandbox {
  id: string;
  emulator: RunningEmulator;
  /** Signs the agent tokens this sandbox's agent takes, and checks them there. */
  tokens: AgentTokens;
  /** How many times its token was refreshed (POST .../token/refresh): tests count renewals with it. */
  tokenRefreshes: number;
  templateName: string | undefined;
  templateId: string | undefined;
  region: string;
  internetAccess: boolean;
  /** The memory cap asked for (create's memory_mb), undefined for none. */
  memoryMb: number | undefined;
  timeoutSeconds: number | null;
  /** When the timeout deletes it (ms since the epoch), or null without a timeout. */
  expiresAt: number | null;
  createdAt: number;
}

export type SandboxSpec = Pick<HopxSandbox, 'templateName' | 'templateId' | 'region' | 'internetAccess' | 'memoryMb' | 'timeoutSeconds'>;

export interface SandboxRegistry {
  readonly max: number;
  /** The new sandbox; `full` at the cap, `stopping` once stopAll() began. */
  create(spec: SandboxSpec): Promise<HopxSandbox | 'full' | 'stopping'>;
  get(id: string): HopxSandbox | undefined;
  /** In creation order. */
  list(): HopxSandbox[];
  /** Stops everything in it; false when there is no such sandbox. */
  delete(id: string): Promise<boolean>;
  /** Deletes it `seconds` from now, whatever timeout it had; false when there is no such sandbox. */
  setTimeout(id: string, seconds: number): boolean;
  stopAll(): Promise<void>;
}

/** `options`: the caller's limits; each sandbox's port and token are its own, and its signals are the control plane's. */
export function createSandboxRegistry(options: Omit<EmulatorOptions, 'port' | 'token' | 'handleSignals'>): SandboxRegistry {
  const timers = new Map<string, NodeJS.Timeout>();
  // Each agent takes only the tokens signed for it (spares are started before their sandbox has an id).
  const tokensOf = new WeakMap<RunningEmulator, AgentTokens>();
  // internet_access (default true) as a confined sandbox's network: HTTP(S) through the egress proxy, or none at all.
  // memory_mb as a confined sandbox's cgroup memory cap.
  const start = async (internet: boolean, memoryMb?: number) => {
    const tokens = createAgentTokens(options.tokenTtlSeconds);
    const sandboxLimits = memoryMb === undefined ? options.sandboxLimits : { ...options.sandboxLimits, memoryBytes: memoryMb * 1024 * 1024 };
    const emulator = await startProviderEmulator(
      hopxEmulator,
      { ...options, handleSignals: false, network: { internet }, ...(sandboxLimits && { sandboxLimits }) },
      { authorize: tokens.check },
    );
    tokensOf.set(emulator, tokens);
    return emulator;
  };
  const sandboxes = createSandboxes<HopxSandbox>({
    start: () => start(true),
    // A confined sandbox takes ~130 ms to start: two (with internet access, the default) wait ready, so that Sandbox.create answers at once.
    spares: (options.isolation ?? DEFAULT_ISOLATION) !== 'none' ? 2 : 0,
    onRemove: (sandbox) => {
      clearTimeout(timers.get(sandbox.id));
      timers.delete(sandbox.id);
    },
  });

  /** Deletes the sandbox `seconds` from now (its processes stopped, its agent gone), replacing any earlier timeout. */
  const expireIn = (sandbox: HopxSandbox, seconds: number) => {
    clearTimeout(timers.get(sandbox.id));
    sandbox.expiresAt = Date.now() + seconds * 1000;
    // Unref'd: it keeps no process alive.
    const timer = setTimeout(() => void sandboxes.remove(sandbox.id), Math.min(seconds * 1000, 2 ** 31 - 1));
    timer.unref();
    timers.set(sandbox.id, timer);
  };

  return {
    max: sandboxes.max,
    async create(spec) {
      return sandboxes.create((emulator) => {
        const createdAt = Date.now();
        const id = `sbx_${randomBytes(8).toString('hex')}`;
        const sandbox: HopxSandbox = { ...spec, id, emulator, tokens: tokensOf.get(emulator)!, tokenRefreshes: 0, createdAt, expiresAt: null };
        if (spec.timeoutSeconds !== null) expireIn(sandbox, spec.timeoutSeconds);
        return sandbox;
        // A spare has internet access and no memory cap: anything else starts as asked.
      }, spec.internetAccess && spec.memoryMb === undefined ? undefined : () => start(spec.internetAccess, spec.memoryMb));
    },
    setTimeout(id, seconds) {
      const sandbox = sandboxes.get(id);
      if (!sandbox) return false;
      sandbox.timeoutSeconds = seconds;
      expireIn(sandbox, seconds);
      return true;
    },
    get: sandboxes.get,
    list: sandboxes.all,
    delete: sandboxes.remove,
    stopAll: sandboxes.stopAll,
  };
}
