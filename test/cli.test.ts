// The CLI as users run it: the built bin in a child process, and main() in-process
// for the cheap flag cases.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../src/cli.js';
import { COMMAND_HELP, HELP } from '../src/cli-help.js';
import { runnableOn } from '../src/contract/run.js';
import { controlScenariosFor, scenariosFor } from '../src/contract/scenarios.js';
import { createHopxClient, createTensorlakeClient } from '../src/index.js';
import { childrenOf, commandLineOf, descendantsOf, isAlive, waitFor } from './support/processes.js';
import { full } from './support/profile.js';

const bin = join(import.meta.dirname, '..', 'dist', 'src', 'bin.js');

function runBin(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const done = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, stdout, stderr }));
  return { child, done, output: () => stdout + stderr };
}

function capture(): Io & { text: () => string } {
  let text = '';
  return { out: (t) => (text += t), err: (t) => (text += t), color: false, text: () => text };
}

describe('sandbox-procs check (built bin)', () => {
  // The main job end to end (Prism for both providers): CI runs it; the fast local profile leaves it out.
  it.runIf(full)('prints one row per scenario for both providers and exits 0', async () => {
    const { done } = runBin(['check']);
    const { code, stdout, stderr } = await done;
    expect(stderr).toContain('Starting Prism mocks for tensorlake, hopx');
    const rows = stdout.split('\n').filter((line) => /^(tensorlake|hopx) /.test(line));
    const tensorlake = scenariosFor(['tensorlake']).length;
    const hopx = scenariosFor(['hopx']).length;
    expect(rows).toHaveLength(tensorlake + hopx);
    expect(rows.filter((r) => r.startsWith('tensorlake'))).toHaveLength(tensorlake);
    // A mock cannot upgrade a connection: the WebSocket channels are skipped, and said to be.
    const skipped = scenariosFor().filter((s) => s.channel).length;
    expect(rows.filter((r) => / skip /.test(r))).toHaveLength(skipped);
    expect(rows.every((r) => / pass | skip /.test(r))).toBe(true);
    expect(stdout.match(/^ {4}- skipped: a mock \(Prism\) cannot upgrade a connection to a WebSocket/gm)).toHaveLength(skipped);
    const total = tensorlake + hopx;
    expect(stdout).toMatch(new RegExp(`^${total - skipped} passed, 0 failed, ${skipped} skipped \\(${total} scenarios: tensorlake ${tensorlake}, hopx ${hopx}\\) in \\d+\\.\\d s$`, 'm'));
    expect(stdout + stderr).not.toMatch(/sp-test-|Bearer/);
    expect(code).toBe(0);
  });

  it.each(['SIGKILL', 'SIGINT'] as const)('leaves no Prism behind when %s stops it mid-run', async (signal) => {
    const run = runBin(['check']);
    const cliPid = run.child.pid!;
    let prisms: number[] = [];
    expect(await waitFor(() => (prisms = childrenOf(cliPid)).length === 2, 10_000, 10)).toBe(true);
    run.child.kill(signal);
    const { code } = await run.done;
    if (signal === 'SIGINT') expect(code).toBe(130);
    expect(await waitFor(() => prisms.every((pid) => !isAlive(pid)), 10_000)).toBe(true);
  });
});


describe('sandbox-procs check --target emulator (built bin)', () => {
  it('runs the reachable scenarios against the emulators and exits 0', async () => {
    const { code, stdout, stderr } = await runBin(['check', '--target', 'emulator']).done;
    expect(stderr).toContain('against emulator');
    const rows = stdout.split('\n').filter((line) => /^(tensorlake|hopx) /.test(line));
    // The emulator target serves the control planes too: their scenarios run as well.
    const expected = runnableOn({ kind: 'stateful' }, scenariosFor()).length + controlScenariosFor().length;
    expect(rows).toHaveLength(expected);
    expect(stdout).toMatch(new RegExp(`^${expected} passed, 0 failed`, 'm'));
    expect(code).toBe(0);
  });
});

describe('sandbox-procs emulate (built bin)', () => {
  it('serves until SIGINT, then stops with every process it started', async () => {
    const run = runBin(['emulate', '--provider', 'tensorlake', '--token', 'cli-token']);
    expect(await waitFor(() => /listening on (http:\S+)/.test(run.output()), 10_000)).toBe(true);
    const baseUrl = /listening on (http:\S+)/.exec(run.output())![1]!;
    expect(run.output()).not.toContain('cli-token');
    const client = createTensorlakeClient({ apiKey: 'cli-token', baseUrl });
    await client.startProcess({ command: 'sleep', args: ['30.5'] });
    // By the host's PIDs, below the CLI (the API's pid is the sandbox's own when it is confined, the default where bwrap works).
    const started = descendantsOf(run.child.pid!);
    expect(started.map(commandLineOf)).toContain('sleep 30.5');
    run.child.kill('SIGINT');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(await waitFor(() => started.every((pid) => !isAlive(pid)), 5_000)).toBe(true);
  });

  it('takes its token from --token-env, keeps it out of argv and output, and honours --max-running', async () => {
    const token = 'env-token-3f1c9a';
    const run = runBin(['emulate', '--provider', 'tensorlake', '--token-env', 'SP_TEST_EMULATOR_TOKEN', '--max-running', '1'], { SP_TEST_EMULATOR_TOKEN: token });
    expect(await waitFor(() => run.output().includes('token: the one given with --token-env SP_TEST_EMULATOR_TOKEN'), 10_000)).toBe(true);
    const baseUrl = /listening on (http:\S+)/.exec(run.output())![1]!;
    expect(run.output()).not.toContain(token);
    expect(readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8')).not.toContain(token);
    const client = createTensorlakeClient({ apiKey: token, baseUrl, retry: { maxRetries: 0 } });
    await client.startProcess({ command: 'sleep', args: ['30'] });
    await expect(client.startProcess({ command: 'sleep', args: ['30'] })).rejects.toMatchObject({ status: 429 });
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  it('warns that --token is visible to other local users', async () => {
    const run = runBin(['emulate', '--provider', 'hopx', '--token', 'visible-token']);
    expect(await waitFor(() => /token: the one given/.test(run.output()), 10_000)).toBe(true);
    expect(run.output()).toMatch(/warning: --token is visible to every local user.*--token-env/);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  it('stops cleanly (exit 0) on a signal that comes with its first ready line', async () => {
    const run = runBin(['emulate', '--provider', 'tensorlake']);
    expect(await waitFor(() => run.output().includes('listening on'), 10_000, 1)).toBe(true);
    run.child.kill('SIGTERM');
    const { code, stderr } = await run.done;
    expect(stderr).toContain('SIGTERM: stopping the tensorlake emulator.');
    expect(code).toBe(0);
  });

  it('prints the token it generated, which then works', async () => {
    const run = runBin(['emulate', '--provider', 'hopx']);
    expect(await waitFor(() => /token: (emu_\w+)/.test(run.output()), 10_000)).toBe(true);
    const baseUrl = /listening on (http:\S+)/.exec(run.output())![1]!;
    const token = /token: (emu_\w+)/.exec(run.output())![1]!;
    expect(await createHopxClient({ apiKey: token, baseUrl }).listProcesses()).toEqual([]);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });
});

describe('sandbox-procs emulate: the variables for the examples and the official SDK (built bin)', () => {
  const exported = (output: string) => Object.fromEntries([...output.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));

  it('prints export lines with the names the examples read, which work as printed, and --write-env writes them for node --env-file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-env-'));
    const file = join(dir, 'emulator.env');
    const run = runBin(['emulate', '--provider', 'tensorlake', '--write-env', file]);
    try {
      expect(await waitFor(() => run.output().includes('Press Ctrl-C'), 10_000)).toBe(true);
      const baseUrl = /listening on (http:\S+)/.exec(run.output())![1]!;
      const token = /token: (emu_\w+)/.exec(run.output())![1]!;
      expect(exported(run.output())).toEqual({ TENSORLAKE_SANDBOX_URL: baseUrl, TENSORLAKE_API_KEY: token });
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      // A program started with the file reaches the emulator with the key it holds.
      const program = `const r = await fetch(process.env.TENSORLAKE_SANDBOX_URL + '/api/v1/processes', { headers: { authorization: 'Bearer ' + process.env.TENSORLAKE_API_KEY } }); console.log(r.status);`;
      const child = spawn(process.execPath, [`--env-file=${file}`, '--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH } });
      let printed = '';
      child.stdout.on('data', (c: Buffer) => (printed += c));
      await once(child, 'exit');
      expect(printed.trim()).toBe('200');
      run.child.kill('SIGTERM');
      expect((await run.done).code).toBe(0);
      // The key does not outlive the emulator on disk.
      await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      run.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refers to --token-env by name instead of printing the token; the control plane exports the SDK key and our base URL', async () => {
    const token = 'env-token-5d2e8b';
    const run = runBin(['emulate', '--provider', 'hopx', '--control-plane', '--token-env', 'SP_TEST_EMULATOR_TOKEN'], { SP_TEST_EMULATOR_TOKEN: token });
    expect(await waitFor(() => run.output().includes('Press Ctrl-C'), 10_000)).toBe(true);
    const baseUrl = /listening on (http:\S+)/.exec(run.output())![1]!;
    expect(exported(run.output())).toEqual({ HOPX_API_KEY: '"$SP_TEST_EMULATOR_TOKEN"', HOPX_BASE_URL: baseUrl });
    expect(run.output()).not.toContain(token);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  it('never replaces a file it did not write: exit 2, the file as it was, nothing left running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-env-'));
    const file = join(dir, '.env');
    await writeFile(file, 'MY_OWN=1\n');
    try {
      const run = runBin(['emulate', '--provider', 'hopx', '--write-env', file]);
      const { code, stdout, stderr } = await run.done;
      expect(code).toBe(2);
      expect(stderr).toMatch(/^error: --write-env .*: the file exists and was not written by sandbox-procs emulate/m);
      // Nothing that says "ready": a script reading stdout must not go looking for a server that is gone.
      expect(stdout).not.toMatch(/listening on|export /);
      expect(await readFile(file, 'utf8')).toBe('MY_OWN=1\n');
      expect(childrenOf(run.child.pid!)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the installed bin', () => {
  it('runs when started through a symlink, as node_modules/.bin and npx start it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-bin-'));
    try {
      const link = join(dir, 'sandbox-procs');
      await symlink(bin, link);
      const child = spawn(process.execPath, [link, '--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(0);
      expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sandbox-procs flags (in process)', () => {
  it('--json with --provider runs only that provider', async () => {
    const io = capture();
    expect(await main(['check', '--provider', 'hopx', '--json'], io)).toBe(0);
    const report = JSON.parse(io.text().slice(io.text().indexOf('{'))) as { passed: boolean; results: Array<{ provider: string }> };
    expect(report.results.filter((r) => !('passed' in r) || !(r as { passed: boolean }).passed)).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.results).toHaveLength(scenariosFor(['hopx']).length);
    expect(new Set(report.results.map((r) => r.provider))).toEqual(new Set(['hopx']));
  });

  it.each([
    [['check', '--provider', 'e2b'], /unknown provider "e2b"/],
    [['check', '--frobnicate'], /^error: unknown flag --frobnicate for check\nRun `sandbox-procs check --help` for usage\.\n$/],
    [['check', '-x'], /^error: unknown flag -x for check\n/],
    [['--frobnicate'], /^error: unknown flag --frobnicate\nRun `sandbox-procs --help` for usage\.\n$/],
    [['check', 'hopx'], /^error: unexpected argument "hopx" for check\n/],
    [['check', '--help=yes'], /^error: --help takes no value, got "yes"\n/],
    [['emulate', '--provider'], /^error: --provider needs a value\n/],
    [['drift', '--provider', 'hopx', '--json', '--junit', 'r.xml'], /^error: --json needs a value, got the flag --junit \(write --json=--junit if that is the value\)\n/],
    // A negative number is a value, judged by the flag's own check (parseArgs called it "ambiguous").
    [['drift', '--provider', 'hopx', '--base-url', 'https://sandbox.example', '--timeout-ms', '-5'], /^error: --timeout-ms must be a whole number of milliseconds from 1 to \d+, got "-5"\n/],
    [['emulate', '--provider', 'hopx', '--port', '-1'], /^error: --port must be a port number, got "-1"\n/],
    // --base-url is judged before the token: with no token set, the URL's problem is what is said.
    [['drift', '--provider', 'hopx', '--base-url', 'not-a-url', '--token-env', 'SP_TEST_SURELY_UNSET_VARIABLE'], /^error: --base-url must be an absolute http\(s\) URL .*got "not-a-url"\n/],
    [['check', '--json', ''], /^error: --json needs a file name\n/],
    [['deploy'], /unknown command "deploy"/],
    [['check', '--target', 'live'], /unknown target "live"/],
    [['drift', '--provider', 'hopx', '--base-url', 'http://127.0.0.1:1', '--token', 'abcdefgh1234'], /^error: unknown flag --token for drift\nThe token goes in an environment variable, named with --token-env VAR/],
    [['emulate'], /emulate needs --provider/],
    [['emulate', '--provider', 'hopx', '--port', 'x'], /--port must be a port number/],
    [['emulate', '--provider', 'hopx', '--max-running', '0'], /--max-running must be a positive whole number/],
    [['emulate', '--provider', 'hopx', '--max-body-bytes', '1e3'], /--max-body-bytes must be a positive whole number/],
    [['emulate', '--provider', 'hopx', '--token-env', 'SP_TEST_SURELY_UNSET_VARIABLE'], /--token-env SP_TEST_SURELY_UNSET_VARIABLE: the variable is not set/],
    [['emulate', '--provider', 'hopx', '--token', 'a', '--token-env', 'B'], /--token or --token-env, not both/],
    [[], /Usage:/],
  ])('%j exits 2 with a clear message', async (argv, message) => {
    const io = capture();
    expect(await main(argv, io)).toBe(2);
    expect(io.text()).toMatch(message);
    // One style: "error: " and a lowercase start, never parseArgs' own wording.
    if (argv.length > 0) expect(io.text()).toMatch(/^error: [^A-Z]/);
    expect(io.text()).not.toMatch(/Unknown option|argument is ambiguous|Option '|positional/);
  });

  it('check --json FILE writes the JSON report to the file and still prints the table; --json alone prints only JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-check-json-'));
    try {
      const file = join(dir, 'check.json');
      const toFile = capture();
      expect(await main(['check', '--target', 'emulator', '--provider', 'hopx', '--json', file], toFile)).toBe(0);
      const expected = runnableOn({ kind: 'stateful' }, scenariosFor(['hopx'])).length + controlScenariosFor(['hopx']).length;
      expect(toFile.text()).toMatch(new RegExp(`^${expected} passed, 0 failed`, 'm'));
      const report = JSON.parse(await readFile(file, 'utf8')) as { target: string; passed: boolean; results: unknown[] };
      expect(report).toMatchObject({ target: 'emulator', passed: true });
      expect(report.results).toHaveLength(expected);

      let stdout = '';
      const toStdout: Io = { out: (t) => (stdout += t), err: () => {}, color: false };
      expect(await main(['check', '--target', 'emulator', '--provider', 'hopx', '--json'], toStdout)).toBe(0);
      expect((JSON.parse(stdout) as { results: unknown[] }).results).toHaveLength(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('check --json into a folder that does not exist stops before anything runs', async () => {
    const io = capture();
    expect(await main(['check', '--target', 'emulator', '--json', join(tmpdir(), 'sandbox-procs-surely-missing', 'r.json')], io)).toBe(2);
    expect(io.text()).toMatch(/^error: --json \S+r\.json: the folder \S+surely-missing does not exist; nothing was run\n/);
    expect(io.text()).not.toMatch(/Starting/);
  });

  it('emulate on a port in use says so and suggests --port 0', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = holder.address() as { port: number };
      const io = capture();
      expect(await main(['emulate', '--provider', 'hopx', '--port', String(port)], io)).toBe(2);
      expect(io.text()).toBe(`error: port ${port} on 127.0.0.1 is in use; choose another --port, or --port 0 for a free one\n`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  // npm rebuilds the package first: full profile only.
  it.runIf(full)('npm run -s check -- --json prints only JSON on stdout, as docs/cli.md says', async () => {
    const child = spawn('npm', ['run', '-s', 'check', '--', '--json', '--target', 'emulator', '--provider', 'hopx'], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { passed: boolean }).passed).toBe(true);
  }, 120_000);

  it('--help and --version exit 0', async () => {
    const help = capture();
    expect(await main(['--help'], help)).toBe(0);
    expect(help.text()).toMatch(/sandbox-procs check/);
    const version = capture();
    expect(await main(['--version'], version)).toBe(0);
    expect(version.text().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('the top-level synopsis names every flag each command documents (a newcomer reads only --help)', () => {
    const flags = (text: string) => new Set([...text.matchAll(/--[a-z][a-z-]*/g)].map(([flag]) => flag).filter((flag) => flag !== '--help'));
    const usage = HELP.slice(HELP.indexOf('Usage:'), HELP.indexOf('Commands:'));
    for (const [command, page] of Object.entries(COMMAND_HELP)) {
      const lines = usage.split(/\n(?=  sandbox-procs )/).find((line) => line.startsWith(`  sandbox-procs ${command} `));
      expect(lines, command).toBeDefined();
      const options = page.slice(page.indexOf('\n  -'));
      expect([...flags(options)].filter((flag) => !flags(lines!).has(flag)), command).toEqual([]);
    }
    expect(HELP).toMatch(/--control-plane/);
  });
});
