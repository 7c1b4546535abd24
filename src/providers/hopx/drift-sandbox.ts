// HopX's part of a drift check run with the API key (../../contract/drift-sandbox.ts):
// the control plane creates the sandbox, names its agent's `public_host` and hands out
// the agent token the check sends, as HopX's SDK gets them.
import type { DriftSandboxes, DriftSandboxOptions } from '../../contract/drift-sandbox.js';
import { UnexpectedResponseError } from '../../errors.js';
import { createHopxControlClient } from './control-client.js';

/** The SDK's default template; HopX sizes a sandbox by its template, and the create API takes no size. */
const TEMPLATE = 'code-interpreter';

export function hopxDriftSandboxes(options: DriftSandboxOptions): DriftSandboxes {
  const control = createHopxControlClient({ apiKey: options.apiKey, timeoutMs: options.timeoutMs, ...(options.controlPlaneUrl !== undefined && { baseUrl: options.controlPlaneUrl }) });
  return {
    controlPlane: control.baseUrl,
    create: async (backstopSeconds) => (await control.createSandbox({ template_name: TEMPLATE, timeout_seconds: backstopSeconds })).sandbox_id,
    async route(id) {
      // A fresh token, not the create answer's: the check gets the whole of its lifetime.
      const [info, token] = await Promise.all([control.getSandbox(id), control.refreshSandboxToken(id)]);
      if (!info.public_host) {
        throw new UnexpectedResponseError(`sandbox ${id} has no public_host (status ${info.status})`, { provider: 'hopx', operation: 'getSandbox', code: 'NO_PUBLIC_HOST' });
      }
      return { baseUrl: info.public_host.replace(/\/+$/, ''), token: token.auth_token, headers: {} };
    },
    async delete(id) {
      await control.deleteSandbox(id).catch((error: unknown) => {
        if ((error as { status?: number }).status !== 404) throw error;
      });
    },
    close: () => control.close(),
  };
}
