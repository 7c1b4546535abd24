// What the shared emulator entry points (src/emulator/) need of HopX: see ProviderEmulators.
import type { ProviderEmulators } from '../../../emulator/emulator.js';
import { hopxEmulator } from './agent.js';
import { startControlPlane } from './control-plane.js';

export const emulators: ProviderEmulators = { processApi: hopxEmulator, startControlPlane };
