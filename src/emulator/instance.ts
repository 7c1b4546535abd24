// What every emulator and control plane claims before it serves: an id of its own
// (the mark on its children), a registration with the reaper (so that even a
// SIGKILL leaves nothing behind), a temporary working directory, and an exit hook
// that cleans up when this process exits without stop().
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './exit-hooks.js';
import { registerWithReaper, WORKDIR_PREFIX } from './reaper.js';

export interface Instance {
  readonly workdir: string;
  /** What the exit hook does: `beforeExit`, then the directory removed. For a signal that must end things now. */
  exitNow(): void;
  /** Undoes the claim, once the instance has stopped: the exit hook, the directory, the reaper's watch. */
  release(): Promise<void>;
  /** Has the reaper also clean up these cgroup directories (a confined sandbox's), should this process die. */
  watchCgroups(dirs: readonly string[]): void;
}

/** `name` goes into the directory's name (after the reaper's prefix); `beforeExit` runs first at exit (e.g. kill children). */
export async function claimInstance(id: string, name: string, beforeExit?: () => void): Promise<Instance> {
  const reaper = await registerWithReaper(id);
  let workdir: string;
  try {
    workdir = await mkdtemp(join(tmpdir(), `${WORKDIR_PREFIX}${name}-`));
  } catch (error) {
    reaper.release();
    throw error;
  }
  reaper.setWorkdir(workdir);
  const exitNow = () => {
    beforeExit?.();
    try {
      rmSync(workdir, { recursive: true, force: true });
    } catch {
      // a child still writing there: the reaper removes it once we are gone
    }
  };
  const forgetExitHook = onProcessExit(exitNow);
  return {
    workdir,
    exitNow,
    watchCgroups: (dirs) => reaper.setCgroups(dirs),
    async release() {
      forgetExitHook();
      await rm(workdir, { recursive: true, force: true });
      reaper.release();
    },
  };
}
