// The sandbox a drift check runs against when it is given the provider's API key
// instead of a sandbox's URL: a throwaway one it creates (and must delete on every
// path: drift, failure, timeout, a signal), or one named by ID, reached as the
// provider's SDK reaches it. The provider's part is in src/providers/<p>/drift-sandbox.ts.
import type { ProviderName } from '../errors.js';
import { registry } from '../registry.js';

/** How a provider's part is set up. */
export interface DriftSandboxOptions {
  /** The provider's API key: sent to its control plane (and, at Tensorlake, its sandbox proxy). */
  apiKey: string;
  /** The control plane's URL; the provider's own when left out. */
  controlPlaneUrl?: string;
  /** Tensorlake: the sandbox proxy to go through (the SDK's TENSORLAKE_SANDBOX_PROXY_URL). */
  proxyUrl?: string;
  /** Time limit of each control-plane call. */
  timeoutMs: number;
}

/** Where the check sends a sandbox's requests: its process API, the token it takes, and the routing headers of a proxy in front of it. */
export interface DriftRoute {
  baseUrl: string;
  token: string;
  headers: Record<string, string>;
}

/** A provider's part: its control plane, as much of it as a drift check needs. */
export interface DriftSandboxes {
  /** The control plane's URL. */
  readonly controlPlane: string;
  /** Creates the smallest sandbox the provider allows, which ends itself after `backstopSeconds`; answers its ID. */
  create(backstopSeconds: number): Promise<string>;
  /** Where the sandbox `id` is reached, and with which token. */
  route(id: string): Promise<DriftRoute>;
  /** Deletes it; one already gone counts as deleted. */
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}

/** What the check runs against. */
export interface LeasedSandbox extends DriftRoute {
  id: string;
  created: boolean;
  controlPlane: string;
}

/** A sandbox for one drift check: `ready` once it can be checked; `release()` deletes it if the check created it, on any path. */
export interface SandboxLease {
  readonly ready: Promise<LeasedSandbox>;
  /**
   * Deletes the sandbox the lease created (waiting for a create still in flight, since
   * its answer names what to delete) and closes the control client. The same promise
   * for every caller: a signal during the normal release waits for it. `deleted` is
   * false for a sandbox given by ID, and when there was none or it could not be deleted
   * (`problem` says why).
   */
  release(): Promise<{ id?: string; deleted: boolean; problem?: string }>;
}

export interface LeaseOptions extends DriftSandboxOptions {
  provider: ProviderName;
  /** An existing sandbox to check (left running); without it, a throwaway one is created. */
  sandboxId?: string;
  /** A created sandbox ends itself after this long, should every delete fail. */
  backstopSeconds: number;
  /** Called once a created sandbox's ID is known. */
  onCreated?(id: string): void;
}

/** Leases a sandbox for a drift check; nothing is sent before the call returns, so that a signal handler can be in place with the lease. */
export function leaseSandbox(options: LeaseOptions): SandboxLease {
  const { provider, sandboxId, backstopSeconds, onCreated, ...setup } = options;
  const sandboxes = registry[provider].driftSandboxes().then((make) => make(setup));
  let createdId: string | undefined;
  const ready = (async (): Promise<LeasedSandbox> => {
    const control = await sandboxes;
    let id = sandboxId;
    if (id === undefined) {
      id = createdId = await control.create(backstopSeconds);
      onCreated?.(id);
    }
    return { id, created: sandboxId === undefined, controlPlane: control.controlPlane, ...(await control.route(id)) };
  })();
  // Nobody may be listening yet (a signal came first): the failure is for whoever awaits `ready`.
  ready.catch(() => undefined);
  let releasing: ReturnType<SandboxLease['release']> | undefined;
  const release = () =>
    (releasing ??= (async () => {
      await ready.catch(() => undefined);
      const control = await sandboxes.catch(() => undefined);
      if (!control) return { deleted: false };
      try {
        if (createdId === undefined) return { ...(sandboxId !== undefined && { id: sandboxId }), deleted: false };
        await control.delete(createdId);
        return { id: createdId, deleted: true };
      } catch (error) {
        return { id: createdId!, deleted: false, problem: error instanceof Error ? error.message : String(error) };
      } finally {
        await control.close().catch(() => undefined);
      }
    })());
  return { ready, release };
}
