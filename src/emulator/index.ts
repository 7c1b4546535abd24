// The emulators' entry: start one per provider, from code or from the CLI.
import type { ProviderName } from '../errors.js';
import { startProviderEmulator, type EmulatorOptions, type RunningEmulator } from './emulator.js';
import { hopxEmulator } from './hopx.js';
import { tensorlakeEmulator } from './tensorlake.js';

export type { EmulatorOptions, RunningEmulator } from './emulator.js';
export type { SupervisorLimits } from './supervisor.js';
export { EMULATOR_MARKER, EMULATOR_RUN_MARKER } from './reaper.js';

const emulators = { tensorlake: tensorlakeEmulator, hopx: hopxEmulator } as const;

/** Starts a local emulator of `provider`'s process API on 127.0.0.1. Always stop() it. */
export function startEmulator(provider: ProviderName, options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startProviderEmulator(emulators[provider], options);
}
