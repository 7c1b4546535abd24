// Freezing a sandbox's processes in place (a provider's pause or suspend) and
// thawing them. The cgroup freezer does it whole where the sandbox has one: no
// process can see it or fork past it. Without one (isolation none, or no cgroup
// we may manage), SIGSTOP to every process that carries the instance's mark and
// to each supervised child's process group, repeated until a fresh look at /proc
// finds none of them still running: a process that forked between the look and
// the signal is caught by the next round.
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { findMarked, instancePrefix } from './reaper.js';

/** How a sandbox's processes are frozen and thawed. */
export interface Freezer {
  /** Every process of the sandbox stops where it is and uses no CPU. */
  freeze(): Promise<void>;
  /** Every frozen process continues. */
  thaw(): Promise<void>;
}

const MAX_ROUNDS = 20;

/** The state letter of /proc/<pid>/stat ('T' stopped, 'Z' zombie, ...), or undefined when the process is gone. */
async function stateOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

function send(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // gone already
  }
}

/**
 * Freezes by signals: what carries `instanceId`'s mark, and the process group of
 * each PID `groups()` names (the supervised children, whose groups hold what
 * dropped the mark).
 */
export function signalFreezer(instanceId: string, groups: () => number[]): Freezer {
  const prefix = instancePrefix(instanceId);
  const ours = async () => (await findMarked((marker) => marker.startsWith(prefix))).map(({ pid }) => pid);
  return {
    async freeze() {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        for (const group of groups()) send(-group, 'SIGSTOP');
        const pids = await ours();
        for (const pid of pids) send(pid, 'SIGSTOP');
        const states = await Promise.all(pids.map(stateOf));
        // Stopped ('T', 't' traced), dead, or gone: nothing left to catch.
        if (states.every((state) => state === undefined || state === 'T' || state === 't' || state === 'Z' || state === 'X')) return;
        // A signal is delivered when its target next runs: give it that moment.
        await delay(5);
      }
    },
    async thaw() {
      for (const group of groups()) send(-group, 'SIGCONT');
      for (const pid of await ours()) send(pid, 'SIGCONT');
    },
  };
}
