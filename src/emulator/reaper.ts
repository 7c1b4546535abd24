// No orphan, ever, and never a stranger's process. Every emulator instance has a
// unique id; every child it starts carries `SANDBOX_PROCS_EMULATOR_CHILD=<id>/<n>`
// in its environment, and so does everything that child starts, also what leaves
// its process group (setsid, double fork). Two things act on that mark:
// - sweep(): in-process, for stop() and kill(), finds marked processes in /proc.
// - a reaper process (Testcontainers' Ryuk is the model), one per owner process,
//   in its own session: the owner registers its instances over a pipe; when the
//   pipe closes (the owner exited, crashed, ran out of memory or was SIGKILLed),
//   the reaper kills what carries a registered id and removes the instances'
//   temporary directories, then exits.
// A process is killed only after its marker was read (twice: before and after it
// is stopped), so a reused PID is never hit. Without /proc (macOS, Windows) there
// is no scan: stop() and the exit hook still kill each child's process group.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** Set in every child's environment: `<instance id>/<sequence number>`. */
export const EMULATOR_MARKER = 'SANDBOX_PROCS_EMULATOR_CHILD';
/**
 * When the emulator's own environment holds this variable, every child gets it
 * too: a run-scoped mark (a test run, a CI job) that finds the children of every
 * emulator the run started, also those of `sandbox-procs emulate` subprocesses.
 */
export const EMULATOR_RUN_MARKER = 'SANDBOX_PROCS_EMULATOR_RUN';

/** Temporary directories of the emulator start with this; the reaper removes nothing else. */
export const WORKDIR_PREFIX = 'sandbox-procs-';

export function newInstanceId(): string {
  return randomBytes(8).toString('hex');
}

/** The marker of the children of `instanceId` starts with this. */
export const instancePrefix = (instanceId: string) => `${instanceId}/`;

/** The run mark for the children, if this process has a valid one. */
export function runMarkerEnv(): Record<string, string> {
  const run = process.env[EMULATOR_RUN_MARKER];
  return run && run.length <= 200 && !run.includes('\0') ? { [EMULATOR_RUN_MARKER]: run } : {};
}

const hasProc = existsSync('/proc/self/stat');

/** `name`'s value in a NUL-separated environ, or undefined. */
export function envValue(environ: string, name: string): string | undefined {
  const key = `${name}=`;
  let start = 0;
  while (start < environ.length) {
    let end = environ.indexOf('\0', start);
    if (end < 0) end = environ.length;
    if (environ.startsWith(key, start)) return environ.slice(start + key.length, end);
    start = end + 1;
  }
  return undefined;
}

function processGroupOf(stat: string): number {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and ')', so split after the last ')'.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

const ownGroup = hasProc ? processGroupOf(readFileSync('/proc/self/stat', 'utf8')) : -1;

async function markerOf(pid: number): Promise<string | undefined> {
  try {
    return envValue(await readFile(`/proc/${pid}/environ`, 'latin1'), EMULATOR_MARKER);
  } catch {
    return undefined; // gone, a zombie (empty environ), or not ours to read
  }
}

function send(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // gone already
  }
}

/** Live processes (not this one) whose marker `match` accepts, with their process groups. */
export async function findMarked(match: (marker: string) => boolean): Promise<{ pid: number; pgid: number }[]> {
  if (!hasProc) return [];
  const found: { pid: number; pgid: number }[] = [];
  for (const entry of await readdir('/proc').catch(() => [])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const marker = await markerOf(pid);
    if (marker === undefined || !match(marker)) continue;
    const pgid = await readFile(`/proc/${pid}/stat`, 'utf8').then(processGroupOf, () => Number.NaN);
    if (Number.isInteger(pgid)) found.push({ pid, pgid });
  }
  return found;
}

/**
 * SIGKILLs every process whose marker `match` accepts, and the process group of
 * each (which holds descendants that dropped the mark), until none is left or
 * `timeoutMs` passes. Each one is frozen (SIGSTOP) and its marker read again
 * before it is killed, so that neither a fork in between nor a reused PID
 * fools it. Resolves to the number of processes killed.
 */
export async function sweep(match: (marker: string) => boolean, timeoutMs = 3_000): Promise<number> {
  if (!hasProc) return 0;
  const deadline = Date.now() + timeoutMs;
  let killed = 0;
  for (let round = 0; ; round++) {
    const found = await findMarked(match);
    if (found.length === 0 || Date.now() > deadline) return killed;
    for (const { pid } of found) send(pid, 'SIGSTOP');
    for (const { pid, pgid } of found) {
      const marker = await markerOf(pid);
      if (marker === undefined || !match(marker)) {
        send(pid, 'SIGCONT'); // not ours after all (it exited and the PID was reused)
        continue;
      }
      if (pgid > 1 && pgid !== ownGroup) send(-pgid, 'SIGKILL');
      send(pid, 'SIGKILL');
      killed++;
    }
    // A killed process keeps its environ until it has exited: give it a moment.
    await delay(Math.min(5 * (round + 1), 50));
  }
}

// ---------------------------------------------------------------------------
// The reaper process. Plain CommonJS run with `node -e`, so that it works from
// the TypeScript sources (tests) and from dist alike. Arguments: the marker name
// and the workdir prefix. Input: JSON lines {"add":id,"dir":path,"cgroups":[path]} / {"remove":id}.
const REAPER_SOURCE = String.raw`'use strict';
const fs = require('fs');
const path = require('path');
const [, MARKER, PREFIX] = process.argv;
process.title = 'sandbox-procs-reaper';
for (const s of ['SIGINT', 'SIGHUP', 'SIGPIPE']) process.on(s, () => {});
const instances = new Map();
const hasProc = fs.existsSync('/proc/self/stat');
const groupOf = (stat) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
const ownGroup = hasProc ? groupOf(fs.readFileSync('/proc/self/stat', 'utf8')) : -1;
function markerOf(pid) {
  let env;
  try { env = fs.readFileSync('/proc/' + pid + '/environ', 'latin1'); } catch { return undefined; }
  for (const entry of env.split('\0')) if (entry.startsWith(MARKER + '=')) return entry.slice(MARKER.length + 1);
  return undefined;
}
function ours(marker) {
  if (marker === undefined) return false;
  const slash = marker.indexOf('/');
  return slash > 0 && instances.has(marker.slice(0, slash));
}
function send(target, signal) { try { process.kill(target, signal); } catch {} }
function sweep() {
  if (!hasProc) return;
  const deadline = Date.now() + 5000;
  for (let round = 0; Date.now() < deadline; round++) {
    const found = [];
    for (const entry of fs.readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !ours(markerOf(pid))) continue;
      let pgid = NaN;
      try { pgid = groupOf(fs.readFileSync('/proc/' + pid + '/stat', 'utf8')); } catch {}
      found.push([pid, pgid]);
    }
    if (found.length === 0) return;
    for (const [pid] of found) send(pid, 'SIGSTOP');
    for (const [pid, pgid] of found) {
      if (!ours(markerOf(pid))) { send(pid, 'SIGCONT'); continue; }
      if (pgid > 1 && pgid !== ownGroup) send(-pgid, 'SIGKILL');
      send(pid, 'SIGKILL');
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(5 * (round + 1), 50));
  }
}
function removeCgroup(dir) {
  // Only a confined sandbox's own group: below the cgroup mounts, named by us.
  if (typeof dir !== 'string' || !dir.startsWith('/sys/fs/cgroup/') || !path.basename(dir).startsWith(PREFIX)) return;
  for (let attempt = 0; attempt < 100; attempt++) {
    let members = '';
    try { members = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8'); } catch { return; }
    for (const pid of members.split('\n').filter(Boolean)) send(Number(pid), 'SIGKILL');
    // One frozen meanwhile takes the SIGKILL only once thawed.
    thawCgroup(dir);
    try { fs.rmdirSync(dir); return; } catch (error) { if (error.code === 'ENOENT') return; }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
function thawCgroup(dir) {
  if (typeof dir !== 'string' || !dir.startsWith('/sys/fs/cgroup/') || !path.basename(dir).startsWith(PREFIX)) return;
  try { fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED'); } catch {}
  try { fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0'); } catch {}
}
function finish() {
  // A paused sandbox's group is frozen, and a frozen process takes no signal: thawed first, then swept.
  for (const { cgroups } of instances.values()) for (const group of Array.isArray(cgroups) ? cgroups : []) thawCgroup(group);
  sweep();
  for (const { dir, cgroups } of instances.values()) {
    if (typeof dir === 'string' && path.isAbsolute(dir) && path.basename(dir).startsWith(PREFIX)) {
      try { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); } catch {}
    }
    for (const group of Array.isArray(cgroups) ? cgroups : []) removeCgroup(group);
  }
  process.exit(0);
}
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    try {
      const message = JSON.parse(line);
      if (typeof message.add === 'string') instances.set(message.add, { dir: message.dir, cgroups: message.cgroups });
      else if (typeof message.remove === 'string') instances.delete(message.remove);
    } catch {}
  }
  if (buffered.length > 65536) buffered = '';
});
process.stdin.on('end', finish);
process.stdin.on('close', finish);
process.stdin.on('error', finish);
`;

let reaper: ChildProcess | undefined;
/** What this process has registered, so that a replacement reaper gets it all again. */
const registered = new Map<string, { dir?: string; cgroups?: string[] }>();

function write(child: ChildProcess, message: object): void {
  child.stdin?.write(`${JSON.stringify(message)}\n`);
}

async function ensureReaper(): Promise<ChildProcess> {
  if (reaper) return reaper;
  const child = spawn(process.execPath, ['-e', REAPER_SOURCE, EMULATOR_MARKER, WORKDIR_PREFIX], {
    // Its own session: a closed terminal or Ctrl-C to our group never reaches it.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  reaper = child;
  child.stdin!.on('error', () => {}); // it died: 'exit' below replaces it
  child.once('exit', () => {
    if (reaper !== child) return;
    reaper = undefined;
    // Killed by someone while instances are alive: start another and tell it everything.
    if (registered.size > 0) {
      void ensureReaper().then(
        (next) => {
          for (const [add, { dir, cgroups }] of registered) write(next, { add, dir, cgroups });
        },
        () => {},
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  }).catch((error: unknown) => {
    if (reaper === child) reaper = undefined;
    throw error;
  });
  // It must never keep this process alive: it lives exactly as long as we do.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return child;
}

export interface ReaperRegistration {
  /** The instance's temporary directory, removed by the reaper should this process die. */
  setWorkdir(dir: string): void;
  /** A confined sandbox's cgroup directories: the reaper kills what is left in them and removes them should this process die. */
  setCgroups(dirs: readonly string[]): void;
  /** The instance stopped cleanly: the reaper forgets it. */
  release(): void;
}

/**
 * Registers an emulator instance with this process's reaper (started on first
 * use): should this process end before release(), the reaper kills every process
 * marked with `instanceId` and removes `workdir`.
 */
export async function registerWithReaper(instanceId: string, workdir?: string): Promise<ReaperRegistration> {
  const child = await ensureReaper();
  registered.set(instanceId, { ...(workdir !== undefined && { dir: workdir }) });
  write(child, { add: instanceId, dir: workdir });
  const update = (change: { dir?: string; cgroups?: string[] }) => {
    const entry = registered.get(instanceId);
    if (!entry) return;
    Object.assign(entry, change);
    if (reaper) write(reaper, { add: instanceId, ...entry });
  };
  return {
    setWorkdir: (dir) => update({ dir }),
    setCgroups: (dirs) => update({ cgroups: [...dirs] }),
    release() {
      if (!registered.delete(instanceId)) return;
      if (reaper) write(reaper, { remove: instanceId });
    },
  };
}

/** The reaper's PID, for tests. */
export const reaperPid = (): number | undefined => reaper?.pid;
