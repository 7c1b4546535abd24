// The control plane: a provider's sandbox lifecycle API (create, connect, list,
// delete a sandbox) served locally, so that the official SDKs run unchanged but
// for their endpoint settings. Each sandbox is a process-API emulator of its own
// (own working directory, processes and token); deleting it stops everything in it.
import type { ProviderName } from '../../errors.js';
import type { EmulatorOptions, RunningEmulator } from '../emulator.js';

/** A started control plane: a RunningEmulator of the sandbox lifecycle API, plus the official SDK's settings. */
export interface RunningControlPlane extends RunningEmulator {
  /**
   * What to set so that the provider's official SDK uses this control plane:
   * environment variables (or SDK options) with their values, in the order a user
   * sets them, e.g. `TENSORLAKE_API_URL`. The API key is among them.
   */
  readonly settings: Readonly<Record<string, string>>;
}

/** Starts `provider`'s control plane on 127.0.0.1; `token` (or a random one) is the API key it accepts. */
export async function startControlPlane(provider: ProviderName, options: EmulatorOptions = {}): Promise<RunningControlPlane> {
  const module = provider === 'hopx' ? await import('./hopx.js') : await import('./tensorlake.js');
  return module.startControlPlane(options);
}
