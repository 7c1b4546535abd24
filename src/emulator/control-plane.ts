// The control plane: a provider's sandbox lifecycle API (create, connect, list,
// delete a sandbox) served locally, so that the official SDKs run unchanged but
// for their endpoint settings. Each sandbox is a process-API emulator of its own
// (own working directory, processes and token); deleting it stops everything in it.
// Each provider's own control plane lives in that provider's folder (see the registry).
import type { RunningEmulator } from './emulator.js';

/** A started control plane: a RunningEmulator of the sandbox lifecycle API, plus the official SDK's settings. */
export interface RunningControlPlane extends RunningEmulator {
  /**
   * What to set so that the provider's official SDK uses this control plane:
   * environment variables (or SDK options) with their values, in the order a user
   * sets them (the provider's API URL, its key). The API key is among them.
   */
  readonly settings: Readonly<Record<string, string>>;
}
