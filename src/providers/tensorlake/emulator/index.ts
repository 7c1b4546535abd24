// What the shared emulator entry points (src/emulator/) need of Tensorlake: see ProviderEmulators.
import type { ProviderEmulators } from '../../../emulator/emulator.js';
import { tensorlakeEmulator } from './daemon.js';
import { startControlPlane } from './control-plane.js';

export const emulators: ProviderEmulators = { processApi: tensorlakeEmulator, startControlPlane };
