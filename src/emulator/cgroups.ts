// A control group per sandbox: the kernel's own bound on what the sandbox's
// processes may use (processes, memory, CPU), and the one list of its members
// that no process can leave by itself (setsid, double fork and a cleared
// environment all keep the cgroup), so ending a sandbox kills them all.
//
// Machines differ (NOTES.md): cgroup v1 controllers mounted and writable for root,
// cgroup v2 with or without delegation, or nothing usable. This module detects
// what this process may manage and creates groups only below its own cgroup in
// each hierarchy, never elsewhere; a limit it cannot set is reported as not in
// force, never assumed.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** Caps the kernel holds for a whole sandbox (every process in it together). */
export interface CgroupLimits {
  /** Processes (and threads) the sandbox may hold at once: a fork storm ends here. */
  maxProcesses?: number;
  /** Memory (RSS and page cache) before the kernel's OOM killer ends a process of the sandbox. */
  memoryBytes?: number;
  /** CPU time, in cores (0.5: half of one core's time). */
  cpus?: number;
}

/** The limits a sandbox's group really holds, and the cgroup version that holds them. */
export interface LimitsInForce extends CgroupLimits {
  /** The cgroup version that holds them. */
  cgroup: 'v1' | 'v2';
}

export interface SandboxCgroup {
  /** The files a process writes its own PID to, to join the group (one per hierarchy). */
  readonly joinFiles: readonly string[];
  readonly inForce: LimitsInForce;
  /** The PIDs in the group now. */
  members(): Promise<number[]>;
  /** SIGKILLs every member until none is left (frozen first where a freezer lets us), or `timeoutMs` ran out. */
  killAll(timeoutMs?: number): Promise<boolean>;
  /** Kills what is left, then removes the group's directories. */
  remove(): Promise<void>;
  /** Freezes (true) or thaws (false) every member; false when the group has no freezer. */
  setFrozen(frozen: boolean): Promise<boolean>;
}

type Controller = 'pids' | 'memory' | 'cpu' | 'freezer';

/** Where each controller's group of this process is, for the hierarchies we may write to. */
interface Hierarchy {
  version: 'v1' | 'v2';
  /** v1: one directory per controller; v2: the one unified directory for all. */
  dirs: Partial<Record<Controller, string>>;
}

/** The mount points of cgroup hierarchies, from mountinfo: (mount root, mount point, fs type, super options). */
function cgroupMounts(): { root: string; point: string; type: string; options: string[] }[] {
  const mounts: { root: string; point: string; type: string; options: string[] }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [type, , superOptions] = right.split(' ');
    if (type !== 'cgroup' && type !== 'cgroup2') continue;
    mounts.push({ root: fields[3]!, point: fields[4]!.replace(/\\040/g, ' '), type, options: (superOptions ?? '').split(',') });
  }
  return mounts;
}

let detected: Hierarchy | { unavailable: string } | undefined;

/** This process's cgroup hierarchies that hold a controller we use, or why there are none (read once: they do not move). */
export function detectHierarchy(): Hierarchy | { unavailable: string } {
  return (detected ??= readHierarchy());
}

function readHierarchy(): Hierarchy | { unavailable: string } {
  if (process.platform !== 'linux' || !existsSync('/proc/self/cgroup')) return { unavailable: 'no cgroups on this system' };
  let own: string;
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch (error) {
    return { unavailable: `cannot read /proc/self/cgroup (${(error as NodeJS.ErrnoException).code})` };
  }
  const mounts = cgroupMounts();
  const dirs: Partial<Record<Controller, string>> = {};
  // v1: one line per hierarchy, "id:controllers:path".
  for (const line of own.split('\n')) {
    const [, list, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (!list || path === undefined) continue;
    for (const controller of list.split(',') as Controller[]) {
      if (!['pids', 'memory', 'cpu', 'freezer'].includes(controller)) continue;
      const mount = mounts.find((m) => m.type === 'cgroup' && m.options.includes(controller) && path.startsWith(m.root));
      if (mount) dirs[controller] = join(mount.point, path.slice(mount.root.length));
    }
  }
  if (dirs.pids) return { version: 'v1', dirs };
  // v2: "0::path" and one unified mount; its controllers are what the parent delegates.
  const unified = /^0::(.*)$/m.exec(own)?.[1];
  const mount = mounts.find((m) => m.type === 'cgroup2' && unified?.startsWith(m.root));
  if (unified !== undefined && mount) {
    const dir = join(mount.point, unified.slice(mount.root.length));
    const available = readFileSafe(join(dir, 'cgroup.subtree_control')).split(/\s+/);
    if (available.includes('pids')) {
      for (const controller of ['pids', 'memory', 'cpu'] as Controller[]) if (available.includes(controller)) dirs[controller] = dir;
      // v2's freezer is built in (cgroup.freeze in every non-root group, Linux 5.2+).
      if (existsSync(join(dir, 'cgroup.freeze')) || existsSync(join(dir, 'cgroup.events'))) dirs.freezer = dir;
      return { version: 'v2', dirs };
    }
  }
  return { unavailable: 'no pids controller this process may manage (cgroup v1 pids not mounted, or cgroup v2 without pids delegated)' };
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const CPU_PERIOD_US = 100_000;

/**
 * Creates the group `name` (one directory per hierarchy, below this process's own
 * cgroup) with `limits`. Throws when the machine lets us manage none; a limit whose
 * controller is missing is left out of `inForce`.
 */
export async function createSandboxCgroup(name: string, limits: CgroupLimits): Promise<SandboxCgroup> {
  const hierarchy = detectHierarchy();
  if ('unavailable' in hierarchy) throw new Error(hierarchy.unavailable);
  const created: string[] = [];
  const dirOf = (controller: Controller) => (hierarchy.dirs[controller] ? join(hierarchy.dirs[controller]!, name) : undefined);
  const inForce: LimitsInForce = { cgroup: hierarchy.version };
  try {
    for (const dir of new Set((['pids', 'memory', 'cpu', 'freezer'] as Controller[]).map(dirOf).filter((d): d is string => d !== undefined))) {
      await mkdir(dir);
      created.push(dir);
    }
    const v1 = hierarchy.version === 'v1';
    const pids = dirOf('pids')!;
    if (limits.maxProcesses !== undefined) {
      await writeFile(join(pids, 'pids.max'), String(limits.maxProcesses));
      inForce.maxProcesses = limits.maxProcesses;
    }
    const memory = dirOf('memory');
    if (limits.memoryBytes !== undefined && memory) {
      if (v1) {
        await writeFile(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        // Swap must not be a way around the limit: memory+swap gets the same bound where the kernel accounts it.
        await writeFile(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes)).catch(() => undefined);
      } else {
        await writeFile(join(memory, 'memory.max'), String(limits.memoryBytes));
        await writeFile(join(memory, 'memory.swap.max'), '0').catch(() => undefined);
      }
      inForce.memoryBytes = limits.memoryBytes;
    }
    const cpu = dirOf('cpu');
    if (limits.cpus !== undefined && cpu) {
      const quota = Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
      if (v1) {
        await writeFile(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(quota));
      } else {
        await writeFile(join(cpu, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
      }
      inForce.cpus = limits.cpus;
    }
  } catch (error) {
    await Promise.all(created.map((dir) => rmdir(dir).catch(() => undefined)));
    throw new Error(`could not set up the sandbox's cgroup ${name}: ${(error as Error).message}`);
  }

  const pidsDir = dirOf('pids')!;
  const freezerDir = dirOf('freezer');
  const members = async () =>
    (await readFile(join(pidsDir, 'cgroup.procs'), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  const freeze = async (frozen: boolean): Promise<boolean> => {
    if (!freezerDir) return false;
    const file = hierarchy.version === 'v1' ? join(freezerDir, 'freezer.state') : join(freezerDir, 'cgroup.freeze');
    const value = hierarchy.version === 'v1' ? (frozen ? 'FROZEN' : 'THAWED') : frozen ? '1' : '0';
    return writeFile(file, value).then(
      () => true,
      () => false,
    );
  };
  const killAll = async (timeoutMs = 5_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = await members();
      if (pids.length === 0) return true;
      if (Date.now() > deadline) return false;
      // Frozen, nobody forks between the listing and the kill; SIGKILL is delivered to frozen tasks on thaw.
      await freeze(true);
      for (const pid of await members()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await freeze(false);
      await delay(5);
    }
  };
  let removed: Promise<void> | undefined;
  return {
    joinFiles: [...new Set(created.map((dir) => join(dir, 'cgroup.procs')))],
    inForce,
    members,
    killAll,
    // killAll thaws at its end: a SIGKILL reaches a frozen process only once it is thawed, so a paused group still dies whole.
    setFrozen: freeze,
    remove() {
      removed ??= (async () => {
        await killAll();
        // A group empties a moment after its last member died (usually within a few ms): retry
        // often at first, since a delete answers only once its sandbox's groups are gone.
        for (const dir of created.reverse()) {
          for (let attempt = 0; attempt < 120; attempt++) {
            try {
              await rmdir(dir);
              break;
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
              await delay(attempt < 20 ? 1 : 10);
            }
          }
        }
      })();
      return removed;
    },
  };
}
