// No orphan, ever, and never a stranger's process: emulators in real processes
// (the built `emulate` bin and library scripts) die by every signal, a crash and
// an out-of-memory abort, with children that left their process group (setsid,
// double fork); within 2 s nothing they started and no temporary directory is
// left. Other emulators' children on the same machine are never touched.
// Linux only (/proc): the marker scan is what is under test.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { EMULATOR_MARKER, EMULATOR_RUN_MARKER, findMarked, sweep } from '../src/emulator/reaper.js';
import { childrenOf, descendantsOf, emulatorChildrenOfRun, isAlive, processesWithEnvPrefix, waitFor } from './support/processes.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist', 'src', 'bin.js');
const emulatorModule = pathToFileURL(join(root, 'dist', 'src', 'emulator', 'index.js')).href;
const linux = existsSync('/proc/self/environ');

let sequence = 0;
/** A run id of this test's own, below the suite's: the suite's leak check covers it too. */
const subRun = (label: string) => `${inject('emulatorRun')}.${label}-${++sequence}`;
const marked = (run: string) => emulatorChildrenOfRun(EMULATOR_MARKER, EMULATOR_RUN_MARKER, run);

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

interface Owner {
  child: ChildProcess;
  run: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

const owners: Owner[] = [];
const workdirs: string[] = [];
afterEach(async () => {
  // On failure too: nothing of ours stays behind.
  for (const owner of owners.splice(0)) {
    if (owner.child.exitCode === null && owner.child.signalCode === null) owner.child.kill('SIGKILL');
    await waitFor(() => marked(owner.run).length === 0, 3_000);
    for (const pid of marked(owner.run)) process.kill(pid, 'SIGKILL');
  }
  for (const dir of workdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function startOwner(args: string[], run: string): Owner {
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', [EMULATOR_RUN_MARKER]: run },
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const owner = { child, run, exited, output: () => output };
  owners.push(owner);
  return owner;
}

/** `sandbox-procs emulate` as users run it. */
async function startCli(run: string, extraArgs: string[] = []): Promise<Owner & { baseUrl: string; token: string }> {
  const token = `tk_${randomBytes(6).toString('hex')}`;
  const owner = startOwner([bin, 'emulate', '--provider', 'tensorlake', '--token', token, ...extraArgs], run);
  expect(await waitFor(() => /listening on http:\S+/.test(owner.output()), 15_000)).toBe(true);
  return { ...owner, baseUrl: /listening on (http:\S+)/.exec(owner.output())![1]!, token };
}

// A library user's script: startEmulator(), then whatever `mode` says.
const SCRIPT = `
import { startEmulator } from ${JSON.stringify(emulatorModule)};
const mode = process.argv[1];
const e = await startEmulator('tensorlake', mode === 'unhandled' ? { handleSignals: false } : {});
if (mode === 'own-listener') process.on('SIGINT', () => setTimeout(() => process.exit(77), 300));
if (mode === 'unhandled') process.on('SIGINT', async () => {
  const list = await (await fetch(e.baseUrl + '/api/v1/processes', { headers: { authorization: 'Bearer ' + e.token } })).json();
  console.log('running: ' + list.processes.filter((p) => p.status === 'running').length);
  await e.stop();
  process.exit(78);
});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (line) => {
  if (line.startsWith('crash')) setImmediate(() => { throw new Error('boom'); });
  if (line.startsWith('oom')) { const hog = []; for (;;) hog.push(new Array(1e6).fill(Math.random())); }
});
console.log('ready ' + JSON.stringify({ baseUrl: e.baseUrl, token: e.token, workdir: e.workdir, id: e.id }));
setInterval(() => {}, 60_000);
`;

async function startScript(run: string, mode = 'default', nodeArgs: string[] = []) {
  const owner = startOwner([...nodeArgs, '--input-type=module', '-e', SCRIPT, mode], run);
  expect(await waitFor(() => /^ready /m.test(owner.output()), 15_000)).toBe(true);
  const info = JSON.parse(/^ready (.*)$/m.exec(owner.output())![1]!) as { baseUrl: string; token: string; workdir: string; id: string };
  workdirs.push(info.workdir);
  return { ...owner, ...info };
}

async function startProcess(baseUrl: string, token: string, command: string, args: string[]): Promise<number> {
  const response = await fetch(`${baseUrl}/api/v1/processes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ command, args }),
  });
  expect(response.status).toBeLessThan(300);
  return ((await response.json()) as { pid: number }).pid;
}

/**
 * A plain child, one that escaped with setsid, and a double fork (a sleep
 * re-parented to PID 1 beside its shell): four sleeps in three process groups
 * and two sessions of their own. Resolves to every marked process once all four run.
 */
async function startEscapees(baseUrl: string, token: string, run: string): Promise<number[]> {
  await startProcess(baseUrl, token, 'sleep', ['300']);
  // -w: setsid, a group leader here, forks; without -w its exit would kill the
  // fork (the leader's exit takes its group) before it escaped.
  await startProcess(baseUrl, token, 'setsid', ['-w', 'sleep', '300']);
  await startProcess(baseUrl, token, 'sh', ['-c', '(sleep 300 &) ; sleep 300']);
  let pids: number[] = [];
  expect(await waitFor(() => (pids = marked(run)).filter((pid) => comm(pid) === 'sleep').length === 4, 10_000)).toBe(true);
  return pids;
}

/**
 * The host directory a process works in: its cwd, or, for a confined one (whose cwd
 * reads /workspace, a path inside its sandbox), what its sandbox's bwrap binds there.
 */
function hostWorkdirOf(pid: number, ownerPid: number): string {
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  if (cwd !== '/workspace') return cwd;
  for (const candidate of descendantsOf(ownerPid)) {
    const args = readFileSync(`/proc/${candidate}/cmdline`, 'utf8').split('\0');
    if (!args[0]?.endsWith('bwrap')) continue;
    const at = args.findIndex((arg, i) => arg === '--bind' && args[i + 2] === '/workspace');
    if (at >= 0) return args[at + 1]!;
  }
  throw new Error(`no bwrap below ${ownerPid} binds /workspace`);
}

function reaperOf(ownerPid: number): number {
  const [reaper] = childrenOf(ownerPid).filter((pid) => cmdline(pid).includes('sandbox-procs-reaper'));
  expect(reaper).toBeDefined();
  return reaper!;
}

/** Milliseconds until no marked process of `run`, no `workdir` and no reaper is left (-1: not within `limitMs`). */
async function timeToClean(run: string, workdir: string, reaper: number, limitMs = 5_000): Promise<number> {
  const started = performance.now();
  const clean = await waitFor(() => marked(run).length === 0 && !existsSync(workdir) && !isAlive(reaper), limitMs, 10);
  return clean ? performance.now() - started : -1;
}

// In the default mode (confined where bwrap works: the sandbox's end ends them) and unconfined (the marks and the reaper end them).
describe.runIf(linux).each([
  ['the default isolation', []],
  ['--isolation none', ['--isolation', 'none']],
])('no orphan: `sandbox-procs emulate` (built bin), %s', (_mode, isolationArgs) => {
  it.each(['SIGKILL', 'SIGHUP', 'SIGTERM'] as const)('%s: every child (setsid, double fork too) and the workdir are gone within 2 s', async (signal) => {
    const run = subRun('cli');
    const cli = await startCli(run, isolationArgs);
    const pids = await startEscapees(cli.baseUrl, cli.token, run);
    const workdir = hostWorkdirOf(pids.find((pid) => comm(pid) === 'sleep')!, cli.child.pid!);
    expect(workdir).toMatch(/sandbox-procs-tensorlake-/);
    workdirs.push(workdir);
    const reaper = reaperOf(cli.child.pid!);
    // They are in sessions of their own: the emulator's group does not reach them.
    expect(new Set(pids.map((pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3])).size).toBeGreaterThanOrEqual(3);

    cli.child.kill(signal);
    const ms = await timeToClean(run, workdir, reaper);
    console.log(`emulate ${signal}: clean after ${ms.toFixed(0)} ms`);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(2_000);
    expect(pids.some(isAlive)).toBe(false);
    const { code, signal: died } = await cli.exited;
    if (signal === 'SIGKILL') expect(died).toBe('SIGKILL');
    else expect(code).toBe(0);
  });
});

describe.runIf(linux)('no orphan: a library script with startEmulator()', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGKILL'] as const)('%s: it stops, then dies of the signal; nothing is left within 2 s', async (signal) => {
    const run = subRun('lib');
    const script = await startScript(run);
    const pids = await startEscapees(script.baseUrl, script.token, run);
    expect(pids.every((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`${EMULATOR_MARKER}=${script.id}/`))).toBe(true);
    const reaper = reaperOf(script.child.pid!);

    script.child.kill(signal);
    const ms = await timeToClean(run, script.workdir, reaper);
    console.log(`library ${signal}: clean after ${ms.toFixed(0)} ms`);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(2_000);
    // The conventional ending: killed by that very signal (exit status 128 + n in a shell).
    expect(await script.exited).toEqual({ code: null, signal });
  });

  it.each([
    ['an uncaught error', 'crash', []],
    ['an out-of-memory crash', 'oom', ['--max-old-space-size=48']],
  ] as const)('%s: nothing is left within 2 s', async (_, command, nodeArgs) => {
    const run = subRun(command);
    const script = await startScript(run, 'default', [...nodeArgs]);
    await startEscapees(script.baseUrl, script.token, run);
    const reaper = reaperOf(script.child.pid!);

    script.child.stdin!.write(`${command}\n`);
    const { code, signal } = await script.exited;
    expect(code === 0).toBe(false);
    if (command === 'oom') expect(`${signal ?? ''} ${script.output()}`).toMatch(/SIGABRT|heap/i);
    const ms = await timeToClean(run, script.workdir, reaper);
    console.log(`library ${command}: clean after ${ms.toFixed(0)} ms after exit`);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(2_000);
  });

  it('leaves the signal to a program that listens for it, after stopping the emulator', async () => {
    const run = subRun('own');
    const script = await startScript(run, 'own-listener');
    await startEscapees(script.baseUrl, script.token, run);
    script.child.kill('SIGINT');
    // The program's own listener exits 77, 300 ms later; by then the emulator has stopped.
    expect(await script.exited).toEqual({ code: 77, signal: null });
    expect(marked(run)).toEqual([]);
    expect(existsSync(script.workdir)).toBe(false);
  });

  it('handleSignals: false leaves the emulator running for the program to stop', async () => {
    const run = subRun('unhandled');
    const script = await startScript(run, 'unhandled');
    await startEscapees(script.baseUrl, script.token, run);
    script.child.kill('SIGINT');
    expect(await script.exited).toEqual({ code: 78, signal: null });
    expect(script.output()).toContain('running: 3');
    expect(marked(run)).toEqual([]);
    expect(existsSync(script.workdir)).toBe(false);
  });
});

describe.runIf(linux)('never touch what it did not start', () => {
  const inProcess: RunningEmulator[] = [];
  afterEach(async () => {
    await Promise.all(inProcess.splice(0).map((e) => e.stop()));
  });

  it('a SIGKILLed emulator takes only its own children: another one\'s live on, with its workdir', async () => {
    const [runA, runB] = [subRun('a'), subRun('b')];
    const [a, b] = await Promise.all([startScript(runA), startScript(runB)]);
    const [pidsA, pidsB] = await Promise.all([startEscapees(a.baseUrl, a.token, runA), startEscapees(b.baseUrl, b.token, runB)]);
    // Found before the kill: once its owner is dead, the reaper is some other process's child.
    const reaper = reaperOf(a.child.pid!);
    a.child.kill('SIGKILL');
    expect(await timeToClean(runA, a.workdir, reaper)).toBeGreaterThanOrEqual(0);
    expect(pidsA.some(isAlive)).toBe(false);
    expect(pidsB.every(isAlive)).toBe(true);
    expect(existsSync(b.workdir)).toBe(true);
    b.child.kill('SIGTERM');
    expect(await waitFor(() => !pidsB.some(isAlive), 5_000)).toBe(true);
  });

  it('stop() and kill() end their own escaped descendants, and no other emulator\'s', async () => {
    const [e, other] = await Promise.all([startEmulator('tensorlake'), startEmulator('tensorlake')]);
    inProcess.push(e, other);
    const [mine, theirs] = [`${e.id}/`, `${other.id}/`];
    const pidsOf = async (prefix: string) => (await findMarked((m) => m.startsWith(prefix))).map((p) => p.pid);
    const killed = await startProcess(e.baseUrl, e.token, 'sh', ['-c', 'setsid sleep 300 & sleep 300']);
    // Exits after a second, leaving an escaped sleep behind.
    await startProcess(e.baseUrl, e.token, 'sh', ['-c', 'setsid sleep 300 >/dev/null 2>&1 </dev/null & sleep 1']);
    await startProcess(other.baseUrl, other.token, 'sh', ['-c', 'setsid sleep 300 & sleep 300']);
    let before: number[] = [];
    const sleeps300 = (pids: number[]) => pids.filter((pid) => cmdline(pid) === 'sleep 300 ');
    // Until the shell of the second has exited: three sleeps 300 left, one of them without a live parent of ours.
    for (let i = 0; i < 100 && ((before = await pidsOf(mine)).length !== 4 || sleeps300(before).length !== 3); i++) await new Promise((r) => setTimeout(r, 50));
    expect(sleeps300(before)).toHaveLength(3);
    expect(before).toHaveLength(4);
    let others: number[] = [];
    for (let i = 0; i < 100 && (others = await pidsOf(theirs)).filter((pid) => comm(pid) === 'sleep').length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(others.filter((pid) => comm(pid) === 'sleep')).toHaveLength(2);

    // kill(): the process, its group and its escaped sleep; the other escapee stays.
    const response = await fetch(`${e.baseUrl}/api/v1/processes/${killed}`, { method: 'DELETE', headers: { authorization: `Bearer ${e.token}` } });
    expect(response.status).toBeLessThan(300);
    let after: number[] = [];
    for (let i = 0; i < 100 && (after = await pidsOf(mine)).length !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(after).toHaveLength(1);
    expect(comm(after[0]!)).toBe('sleep');

    await e.stop();
    expect(await waitFor(() => !before.some(isAlive), 2_000)).toBe(true);
    expect(others.every(isAlive)).toBe(true);
    await other.stop();
    expect(await waitFor(() => !others.some(isAlive), 2_000)).toBe(true);
  });

  it('sweep() acts on the marker only: an unmarked process and another id\'s survive', async () => {
    const start = (marker: string | undefined) =>
      spawn('sleep', ['300'], { stdio: 'ignore', env: { PATH: process.env.PATH, ...(marker !== undefined && { [EMULATOR_MARKER]: marker }) } });
    const id = `t${randomBytes(6).toString('hex')}`;
    const [plain, stranger, similar, ours] = [start(undefined), start(`other${id}/1`), start(`${id}x/1`), start(`${id}/1`)];
    const oursExited = once(ours, 'exit');
    try {
      await Promise.all([plain, stranger, similar, ours].map((c) => once(c, 'spawn')));
      expect(await sweep((marker) => marker.startsWith(`${id}/`))).toBe(1);
      expect((await oursExited)[1]).toBe('SIGKILL');
      expect([plain, stranger, similar].every((c) => isAlive(c.pid!))).toBe(true);
    } finally {
      for (const c of [plain, stranger, similar, ours]) c.kill('SIGKILL');
    }
  });

  it('the suite\'s leak check ignores an unrelated emulator\'s child, which outlives an emulator of ours', async () => {
    // Not a sub-run of this suite: as if someone else ran `emulate` on this machine.
    const unrelatedRun = `unrelated-${randomBytes(6).toString('hex')}`;
    const unrelated = await startCli(unrelatedRun);
    await startProcess(unrelated.baseUrl, unrelated.token, 'sleep', ['600']);
    // Host PIDs, found by their marks: a confined sandbox's API gives its own.
    let stranger = 0;
    expect(await waitFor(() => ([stranger = 0] = marked(unrelatedRun)).length === 1, 5_000)).toBe(true);

    const ours = await startEmulator('tensorlake');
    inProcess.push(ours);
    await startProcess(ours.baseUrl, ours.token, 'sleep', ['600']);
    let own = 0;
    expect(await waitFor(() => ([own = 0] = processesWithEnvPrefix(EMULATOR_MARKER, `${ours.id}/`)).length === 1, 5_000)).toBe(true);
    // What global-setup.ts looks for at the end of the run: ours, not theirs.
    const suiteRun = inject('emulatorRun');
    expect(process.env[EMULATOR_RUN_MARKER]).toBe(suiteRun);
    expect(emulatorChildrenOfRun(EMULATOR_MARKER, EMULATOR_RUN_MARKER, suiteRun)).toContain(own);
    expect(emulatorChildrenOfRun(EMULATOR_MARKER, EMULATOR_RUN_MARKER, suiteRun)).not.toContain(stranger);
    await ours.stop();
    expect(isAlive(own)).toBe(false);
    expect(isAlive(stranger)).toBe(true);

    unrelated.child.kill('SIGTERM');
    expect(await waitFor(() => !isAlive(stranger), 5_000)).toBe(true);
  });
});
