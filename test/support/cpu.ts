// CPU time of live processes, from /proc (Linux): tests that a frozen sandbox uses none.
import { readFileSync } from 'node:fs';

/** CPU time (user + system clock ticks) `pid` has used, or undefined when it is gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** The clock ticks `pids` used together over the next `ms`. */
export async function cpuTicksOver(pids: number[], ms: number): Promise<number> {
  const before = pids.map((pid) => cpuTicks(pid) ?? 0);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return pids.reduce((sum, pid, i) => sum + (cpuTicks(pid) ?? 0) - before[i]!, 0);
}
