// Tensorlake's part of a drift check run with the API key (../../contract/drift-sandbox.ts):
// the control plane creates the sandbox; its process API is reached through the sandbox
// proxy (an explicit proxy URL, else the sandbox's `sandbox_url`) or at its documented host,
// with the API key, as Tensorlake's SDK reaches it.
import type { DriftRoute, DriftSandboxes, DriftSandboxOptions } from '../../contract/drift-sandbox.js';
import { tensorlakeSandboxHost } from './client.js';
import { tensorlakeProxyRoute } from './connect.js';
import { createTensorlakeControlClient } from './control-client.js';

/** The smallest sandbox the SDKs' examples create (the create API requires resources). */
const CPUS = 1;
const MEMORY_MB = 512;

export function tensorlakeDriftSandboxes(options: DriftSandboxOptions): DriftSandboxes {
  const control = createTensorlakeControlClient({ apiKey: options.apiKey, timeoutMs: options.timeoutMs, ...(options.controlPlaneUrl !== undefined && { baseUrl: options.controlPlaneUrl }) });
  return {
    controlPlane: control.baseUrl,
    create: async (backstopSeconds) => (await control.createSandbox({ resources: { cpus: CPUS, memory_mb: MEMORY_MB }, timeout_secs: backstopSeconds })).sandbox_id,
    async route(id): Promise<DriftRoute> {
      const info = await control.getSandbox(id);
      const via = options.proxyUrl ?? info.sandbox_url ?? undefined;
      if (via === undefined) return { baseUrl: tensorlakeSandboxHost(info.sandbox_id), token: options.apiKey, headers: {} };
      // The SDK routes by the header on a remote proxy and by `Host: <id>.local` on a loopback one;
      // the check sends with Node's fetch, which sets Host itself, so it routes by the header everywhere.
      return { baseUrl: tensorlakeProxyRoute(via, info.sandbox_id).baseUrl, token: options.apiKey, headers: { 'X-Tensorlake-Sandbox-Id': info.sandbox_id } };
    },
    async delete(id) {
      await control.deleteSandbox(id).catch((error: unknown) => {
        if ((error as { status?: number }).status !== 404) throw error;
      });
    },
    close: () => control.close(),
  };
}
