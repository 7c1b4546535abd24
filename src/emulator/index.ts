// The emulators' entry: start one per provider, from code or from the CLI. Which
// emulators a provider has, the registry says (src/registry.ts).
import type { ProviderName } from '../errors.js';
import { registry } from '../registry.js';
import type { RunningControlPlane } from './control-plane.js';
import { startProviderEmulator, type EmulatorOptions, type RunningEmulator } from './emulator.js';

export type { EmulatorOptions, IsolationMode, IsolationState, NetworkInForce, RunningEmulator, SandboxNetwork } from './emulator.js';
export type { CgroupLimits, LimitsInForce } from './cgroups.js';
export type { SupervisorLimits } from './supervisor.js';
export type { RunningControlPlane } from './control-plane.js';
export { EMULATOR_MARKER, EMULATOR_RUN_MARKER } from './reaper.js';

/**
 * Starts a local emulator of `provider`'s process API on 127.0.0.1. Always stop() it.
 * With `controlPlane: true`, it serves the provider's sandbox lifecycle API too, and
 * each sandbox created through it is an emulator of its own (see `settings` for the
 * official SDK's endpoint settings).
 */
export function startEmulator(provider: ProviderName, options: EmulatorOptions & { controlPlane: true }): Promise<RunningControlPlane>;
export function startEmulator(provider: ProviderName, options?: EmulatorOptions & { controlPlane?: boolean }): Promise<RunningEmulator>;
export async function startEmulator(provider: ProviderName, options: EmulatorOptions & { controlPlane?: boolean } = {}): Promise<RunningEmulator> {
  const { controlPlane, ...rest } = options;
  const emulators = await registry[provider].emulators();
  if (controlPlane) return emulators.startControlPlane(rest);
  return startProviderEmulator(emulators.processApi, rest);
}
