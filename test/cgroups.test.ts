// A sandbox's cgroup (src/emulator/cgroups.ts) on a machine that lets us manage
// one: the kernel ends a fork storm at the process cap and a memory hog at the
// memory cap, and killAll() ends every member, a setsid/env -i escapee included,
// and nothing outside. Skipped, saying why, where this process may manage none.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSandboxCgroup, detectHierarchy, type SandboxCgroup } from '../src/emulator/cgroups.js';
import { isAlive } from './support/processes.js';

const hierarchy = detectHierarchy();
const started: ChildProcess[] = [];
let group: SandboxCgroup | undefined;

afterEach(async () => {
  await group?.remove();
  group = undefined;
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
});

/** Runs `script` in bash inside `cgroup` (it joins before the script runs), bounded by `seconds`. */
function runInside(cgroup: SandboxCgroup, script: string, seconds = 10) {
  const join = cgroup.joinFiles.map((file) => `echo $$ > '${file}' || exit 126`).join('; ');
  const child = spawn('/bin/sh', ['-c', `${join}; exec timeout ${seconds} bash -c "$1"`, 'sh', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, output }));
  return { child, exited, output: () => output };
}

describe.skipIf('unavailable' in hierarchy)(`a sandbox's cgroup (${'unavailable' in hierarchy ? hierarchy.unavailable : hierarchy.version})`, () => {
  it('holds the limits it reports, and joins only below this process’s own cgroups', async () => {
    group = await createSandboxCgroup(`sandbox-procs-test-${process.pid}-a`, { maxProcesses: 16, memoryBytes: 64 * 1024 * 1024, cpus: 0.5 });
    expect(group.inForce).toMatchObject({ maxProcesses: 16 });
    for (const file of group.joinFiles) expect(existsSync(file)).toBe(true);
    const own = 'unavailable' in hierarchy ? {} : hierarchy.dirs;
    for (const file of group.joinFiles) expect(Object.values(own).some((dir) => dirname(dirname(file)) === dir)).toBe(true);
  });

  it('ends a fork storm at the process cap; killAll ends every member, an escapee too, and spares a process outside', async () => {
    group = await createSandboxCgroup(`sandbox-procs-test-${process.pid}-b`, { maxProcesses: 16 });
    const outside = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    started.push(outside);
    const storm = runInside(group, 'setsid env -i sleep 300 < /dev/null > /dev/null 2>&1 & for i in $(seq 100); do sleep 300 & done 2>/dev/null; wait', 30);
    // The storm has filled the group once 15 are in (the cap counts the shell itself).
    let members: number[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && members.length < 15; ) {
      members = await group.members();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(members.length).toBeGreaterThanOrEqual(15);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await group.members()).length).toBeLessThanOrEqual(16);
    const escapee = (await group.members()).find((pid) => pid !== storm.child.pid);
    expect(await group.killAll()).toBe(true);
    expect(await group.members()).toEqual([]);
    expect(escapee !== undefined && isAlive(escapee)).toBe(false);
    expect((await storm.exited).signal).toBe('SIGKILL');
    expect(isAlive(outside.pid!)).toBe(true);
  });

  it.skipIf('unavailable' in hierarchy || !hierarchy.dirs.memory)('lets a program use memory under the cap and kills one that goes over it', async () => {
    group = await createSandboxCgroup(`sandbox-procs-test-${process.pid}-c`, { maxProcesses: 16, memoryBytes: 64 * 1024 * 1024 });
    // Under the cap: 16 MiB held at once.
    const small = await runInside(group, 'head -c 16777216 /dev/zero | tail -c 16777216 | wc -c').exited;
    expect(small.output.trim()).toBe('16777216');
    // Over it: `tail` keeps /dev/zero's one endless line; ulimit -v is a backstop that ends it at 512 MiB with an error, not a SIGKILL.
    const hog = await runInside(group, 'ulimit -v 524288; exec tail /dev/zero').exited;
    expect(hog.signal ?? (hog.code === 137 ? 'SIGKILL' : String(hog.code))).toBe('SIGKILL');
  });
});
