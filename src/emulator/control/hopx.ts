// hopx's control plane: see ./index.ts. Not built yet (issue 16).
import type { EmulatorOptions } from '../emulator.js';
import type { RunningControlPlane } from './index.js';

export async function startControlPlane(_options: EmulatorOptions): Promise<RunningControlPlane> {
  throw new Error('the hopx control plane is not built yet');
}
