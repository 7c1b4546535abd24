// A sandbox of either provider behind one handle: create one (or connect to one by
// ID) with the API key, run processes through the neutral interface, delete it.
// `await using` deletes a sandbox this handle created and only closes one it
// connected to, so that a program cannot end somebody else's sandbox by leaving a block.
import type { SandboxProcesses } from './processes.js';
import type { ClientOptions } from './core/options.js';
import type { ProviderName } from './errors.js';
import { hopxSandboxes } from './providers/hopx/sandbox.js';
import { tensorlakeSandboxes } from './providers/tensorlake/sandbox.js';

/** Where and how to reach a provider: its API key, and its control plane (default: the provider's own). */
export type SandboxTarget = Omit<ClientOptions, 'baseUrl' | 'sandbox'> & {
  /** Which provider. */
  provider: ProviderName;
  /** The control plane's URL (an emulator's, say). */
  controlPlaneUrl?: string;
  /** Tensorlake: the sandbox proxy to go through (the SDK's TENSORLAKE_SANDBOX_PROXY_URL). */
  proxyUrl?: string;
};

/** What a new sandbox gets; each provider's smallest where left out. */
export interface NewSandbox {
  /** A backstop: the provider deletes the sandbox after this many seconds. */
  timeoutSeconds?: number;
  /** HopX: the template. Default `code-interpreter`. */
  template?: string;
  /** Tensorlake: CPUs and memory. Default 1 CPU, 512 MiB. */
  cpus?: number;
  /** Tensorlake: memory in MiB. Default 512. */
  memoryMb?: number;
}

/** One sandbox, whichever provider's. */
export interface SandboxHandle {
  /** Its provider. */
  readonly provider: ProviderName;
  /** Its ID at the provider. */
  readonly id: string;
  /** True when this handle created it (then disposal deletes it). */
  readonly created: boolean;
  /** Its processes, through the provider-neutral interface. */
  readonly processes: SandboxProcesses;
  /** Deletes the sandbox and everything in it, then closes the handle. A sandbox already gone counts as deleted. */
  delete(): Promise<void>;
  /** Closes the connections; the sandbox keeps running. */
  close(): Promise<void>;
  /** delete() for a sandbox this handle created, close() for one it connected to. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a provider's folder gives the handle: a sandbox created or connected to, open. */
export interface ProviderSandboxes {
  create(control: ControlOptions, options: ConnectOptions, spec: NewSandbox): Promise<OpenSandbox>;
  connect(control: ControlOptions, options: ConnectOptions, id: string): Promise<OpenSandbox>;
}

/** The control plane client's options: the target's, with its URL as the base URL. */
export type ControlOptions = Omit<ClientOptions, 'sandbox'>;
/** The sandbox client's options: the target's transport settings, and Tensorlake's proxy. */
export type ConnectOptions = Omit<ClientOptions, 'baseUrl' | 'sandbox'> & { proxyUrl?: string };

/** A sandbox as a provider's folder opens it. */
export interface OpenSandbox {
  readonly id: string;
  readonly processes: SandboxProcesses<unknown>;
  delete(): Promise<unknown>;
  close(): Promise<void>;
}

const providers: Readonly<Record<ProviderName, ProviderSandboxes>> = { hopx: hopxSandboxes, tensorlake: tensorlakeSandboxes };

function split(target: SandboxTarget): { control: ControlOptions; options: ConnectOptions } {
  const { provider: _provider, controlPlaneUrl, proxyUrl, ...options } = target;
  return {
    control: { ...options, ...(controlPlaneUrl !== undefined && { baseUrl: controlPlaneUrl }) },
    options: { ...options, ...(proxyUrl !== undefined && { proxyUrl }) },
  };
}

/** Creates a sandbox at `target.provider` and connects to it. */
export async function createSandbox(target: SandboxTarget, spec: NewSandbox = {}): Promise<SandboxHandle> {
  const { control, options } = split(target);
  return handleOf(target.provider, await providers[target.provider].create(control, options, spec), true);
}

/** Connects to the sandbox `id` at `target.provider`; disposing of the handle leaves the sandbox running. */
export async function connectSandbox(target: SandboxTarget, id: string): Promise<SandboxHandle> {
  const { control, options } = split(target);
  return handleOf(target.provider, await providers[target.provider].connect(control, options, id), false);
}

function handleOf(provider: ProviderName, sandbox: OpenSandbox, created: boolean): SandboxHandle {
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= sandbox.close());
  let deleting: Promise<void> | undefined;
  const remove = () =>
    (deleting ??= (async () => {
      try {
        await sandbox.delete().catch((error: unknown) => {
          // Gone already (its timeout, or another deleter): what delete() promised holds.
          if ((error as { status?: number }).status !== 404) throw error;
        });
      } finally {
        await close();
      }
    })());
  const processes = sandbox.processes as SandboxProcesses;
  return { provider, id: sandbox.id, created, processes, delete: remove, close, [Symbol.asyncDispose]: () => (created ? remove() : close()) };
}
