// One Prism mock per spec for the whole run; stopped in teardown, which vitest
// runs whether tests pass or fail (and Prism's orphan guard covers a killed run).
// The run has its own id: every emulator a test starts (in a worker or in a
// subprocess that inherits the environment) passes it on to its children, and the
// leak check at the end looks for those children only, never for the children of
// emulators that other people or other runs have running on this machine.
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import type { ProviderName } from '../../src/errors.js';
import { startPrismTarget } from '../../src/contract/run.js';
import { providers } from '../../src/contract/scenarios.js';
import { EMULATOR_MARKER, EMULATOR_RUN_MARKER } from '../../src/emulator/reaper.js';
import { emulatorChildrenOfRun, waitFor } from './processes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    prismBaseUrls: Partial<Record<ProviderName, string>>;
    /** This run's id, also in every worker's `SANDBOX_PROCS_EMULATOR_RUN`. */
    emulatorRun: string;
  }
}

export default async function setup(project: TestProject) {
  // Set before any worker starts: workers and their subprocesses inherit it.
  const runId = `vitest-${process.pid}-${randomBytes(6).toString('hex')}`;
  process.env[EMULATOR_RUN_MARKER] = runId;
  project.provide('emulatorRun', runId);
  const running = await startPrismTarget(providers);
  project.provide('prismBaseUrls', running.target.baseUrls);
  return async () => {
    await running.stop();
    // After the whole suite, no child of this run's emulators may be left alive
    // (a failure here fails the run).
    const leftovers = await leftoverAfter(runId, 2_000);
    if (leftovers.length > 0) {
      // Checked again just before the kill: a PID that was reused is not ours.
      for (const pid of leftovers) if (leftoverNow(runId).includes(pid)) process.kill(pid, 'SIGKILL');
      // vitest reports a teardown error but keeps its exit code: set it ourselves.
      process.exitCode = 1;
      throw new Error(`emulator child processes outlived the test suite: ${leftovers.join(', ')}`);
    }
  };
}

const leftoverNow = (runId: string) => emulatorChildrenOfRun(EMULATOR_MARKER, EMULATOR_RUN_MARKER, runId);

async function leftoverAfter(runId: string, graceMs: number): Promise<number[]> {
  let leftovers: number[] = [];
  await waitFor(() => (leftovers = leftoverNow(runId)).length === 0, graceMs);
  return leftovers;
}
