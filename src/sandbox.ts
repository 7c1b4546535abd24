// A sandbox of either provider behind one handle: create one (or connect to one by
// ID) with the API key, run processes through the neutral interface, delete it.
// `await using` deletes a sandbox this handle created and only closes one it
// connected to, so that a program cannot end somebody else's sandbox by leaving a block.
import type { SandboxProcesses } from './processes.js';
import type { ClientOptions } from './core/options.js';
import type { ProviderName } from './errors.js';
import { connectHopxSandbox } from './providers/hopx/connect.js';
import { createHopxControlClient } from './providers/hopx/control-client.js';
import { connectTensorlakeSandbox } from './providers/tensorlake/connect.js';
import { createTensorlakeControlClient } from './providers/tensorlake/control-client.js';

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

const HOPX_TEMPLATE = 'code-interpreter';

/** Creates a sandbox at `target.provider` and connects to it. */
export async function createSandbox(target: SandboxTarget, spec: NewSandbox = {}): Promise<SandboxHandle> {
  const { provider, controlPlaneUrl, proxyUrl: _proxy, ...options } = target;
  const controlOptions = { ...options, ...(controlPlaneUrl !== undefined && { baseUrl: controlPlaneUrl }) };
  if (provider === 'hopx') {
    const control = createHopxControlClient(controlOptions);
    try {
      const known = await control.createSandbox({ template_name: spec.template ?? HOPX_TEMPLATE, ...(spec.timeoutSeconds !== undefined && { timeout_seconds: spec.timeoutSeconds }) });
      return await handleOf(provider, known.sandbox_id, true, target, { hopxControl: control, known });
    } catch (error) {
      await control.close();
      throw error;
    }
  }
  const control = createTensorlakeControlClient(controlOptions);
  try {
    const created = await control.createSandbox({
      resources: { cpus: spec.cpus ?? 1, memory_mb: spec.memoryMb ?? 512 },
      ...(spec.timeoutSeconds !== undefined && { timeout_secs: spec.timeoutSeconds }),
    });
    return await handleOf(provider, created.sandbox_id, true, target, { tensorlakeControl: control });
  } catch (error) {
    await control.close();
    throw error;
  }
}

/** Connects to the sandbox `id` at `target.provider`; disposing of the handle leaves the sandbox running. */
export async function connectSandbox(target: SandboxTarget, id: string): Promise<SandboxHandle> {
  return handleOf(target.provider, id, false, target, {});
}

type Controls = {
  hopxControl?: ReturnType<typeof createHopxControlClient>;
  tensorlakeControl?: ReturnType<typeof createTensorlakeControlClient>;
  known?: Awaited<ReturnType<ReturnType<typeof createHopxControlClient>['createSandbox']>>;
};

async function handleOf(provider: ProviderName, id: string, created: boolean, target: SandboxTarget, given: Controls): Promise<SandboxHandle> {
  const { provider: _p, controlPlaneUrl, proxyUrl, ...options } = target;
  const controlOptions = { ...options, ...(controlPlaneUrl !== undefined && { baseUrl: controlPlaneUrl }) };
  let processes: SandboxProcesses;
  let deleteIt: () => Promise<void>;
  let closeAll: () => Promise<void>;
  if (provider === 'hopx') {
    const control = given.hopxControl ?? createHopxControlClient(controlOptions);
    const client = await connectHopxSandbox({ ...options, sandboxId: id, control, ...(given.known && { known: given.known }) }).catch(async (error: unknown) => {
      if (!given.hopxControl) await control.close();
      throw error;
    });
    processes = client.processes as SandboxProcesses;
    deleteIt = () => control.deleteSandbox(id);
    closeAll = async () => {
      await client.close();
      await control.close();
    };
  } else {
    const control = given.tensorlakeControl ?? createTensorlakeControlClient(controlOptions);
    const client = await connectTensorlakeSandbox({ ...options, sandboxId: id, control, ...(proxyUrl !== undefined && { proxyUrl }) }).catch(async (error: unknown) => {
      if (!given.tensorlakeControl) await control.close();
      throw error;
    });
    processes = client.processes as SandboxProcesses;
    deleteIt = () => control.deleteSandbox(client.sandboxId);
    closeAll = async () => {
      await client.close();
      await control.close();
    };
  }
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeAll());
  let deleting: Promise<void> | undefined;
  const remove = () =>
    (deleting ??= (async () => {
      try {
        await deleteIt().catch((error: unknown) => {
          // Gone already (its timeout, or another deleter): what delete() promised holds.
          if ((error as { status?: number }).status !== 404) throw error;
        });
      } finally {
        await close();
      }
    })());
  return { provider, id, created, processes, delete: remove, close, [Symbol.asyncDispose]: () => (created ? remove() : close()) };
}
