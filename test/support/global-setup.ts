// One Prism mock per spec for the whole run; stopped in teardown, which vitest
// runs whether tests pass or fail (and Prism's orphan guard covers a killed run).
import type { TestProject } from 'vitest/node';
import type { ProviderName } from '../../src/errors.js';
import { startPrismTarget } from '../../src/contract/run.js';
import { providers } from '../../src/contract/scenarios.js';
import { EMULATOR_MARKER } from '../../src/emulator/supervisor.js';
import { processesWithEnv, waitFor } from './processes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    prismBaseUrls: Partial<Record<ProviderName, string>>;
  }
}

export default async function setup(project: TestProject) {
  const running = await startPrismTarget(providers);
  project.provide('prismBaseUrls', running.target.baseUrls);
  return async () => {
    await running.stop();
    // Every emulator child carries a marker in its environment: after the whole
    // suite, none may be left alive (a failure here fails the run).
    const leftovers = await leftoverAfter(2_000);
    if (leftovers.length > 0) {
      for (const pid of leftovers) process.kill(pid, 'SIGKILL');
      // vitest reports a teardown error but keeps its exit code: set it ourselves.
      process.exitCode = 1;
      throw new Error(`emulator child processes outlived the test suite: ${leftovers.join(', ')}`);
    }
  };
}

async function leftoverAfter(graceMs: number): Promise<number[]> {
  let leftovers: number[] = [];
  await waitFor(() => (leftovers = processesWithEnv(EMULATOR_MARKER, '1')).length === 0, graceMs);
  return leftovers;
}
