// Looking at live processes through /proc (Linux), for tests that prove nothing
// we start outlives its owner.
import { readdirSync, readFileSync } from 'node:fs';

function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

export function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => stat(pid)?.ppid === parent && isAlive(pid));
}

/** Every live process below `ancestor`: its children, theirs, and so on (a confined sandbox's processes are bwrap's grandchildren). */
export function descendantsOf(ancestor: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s && s.state !== 'Z' && s.state !== 'X') parents.set(s.ppid, [...(parents.get(s.ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const visit = (pid: number) => (parents.get(pid) ?? []).forEach((child) => (found.push(child), visit(child)));
  visit(ancestor);
  return found;
}

/** The command line of `pid` as one string (arguments joined by spaces), or undefined when it is gone. */
export function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/** The PIDs /proc lists now. */
function pidsNow(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** Live processes whose command line holds `marker` (a fresh one makes them this test's own). */
export function processesNamed(marker: string): number[] {
  return pidsNow().filter((pid) => commandLineOf(pid)?.includes(marker) === true);
}

/** Live processes whose command line is exactly `argv` (a unique argument makes it this test's own). */
export function processesRunning(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  return pidsNow().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === wanted;
    } catch {
      return false;
    }
  });
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return predicate();
}

/** Live processes whose environment holds `name=value`. */
export function processesWithEnv(name: string, value: string): number[] {
  return processesWhoseEnv((entry) => entry === `${name}=${value}`);
}

/** Live processes whose environment holds `name=<value starting with prefix>`. */
export function processesWithEnvPrefix(name: string, prefix: string): number[] {
  return processesWhoseEnv((entry) => entry.startsWith(`${name}=${prefix}`));
}

function processesWhoseEnv(matches: (entry: string) => boolean): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return isAlive(pid) && readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').some(matches);
      } catch {
        return false;
      }
    });
}

/** The NUL-separated environment of `pid`, or undefined (gone, a zombie, or not readable). */
function environOf(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return text ? text.split('\0') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Live emulator children (they carry `childMarker`) of the run `runId`: their
 * `runMarker` is `runId` or `runId.<anything>` (a sub-run, e.g. one test's own
 * emulator processes). Nobody else's children: another run's differ.
 */
export function emulatorChildrenOfRun(childMarker: string, runMarker: string, runId: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const env = environOf(pid);
      if (!env || !isAlive(pid) || !env.some((entry) => entry.startsWith(`${childMarker}=`))) return false;
      const run = env.find((entry) => entry.startsWith(`${runMarker}=`))?.slice(runMarker.length + 1);
      return run === runId || run?.startsWith(`${runId}.`) === true;
    });
}
