// The CLI as users run it: the built bin in a child process, and main() in-process
// for the cheap flag cases.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../src/cli.js';
import { runnableOn } from '../src/contract/run.js';
import { scenariosFor } from '../src/contract/scenarios.js';
import { createHopxClient, createTensorlakeClient } from '../src/index.js';
import { childrenOf, isAlive, waitFor } from './support/processes.js';

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
  it('prints one row per scenario for both providers and exits 0', async () => {
    const { done } = runBin(['check']);
    const { code, stdout, stderr } = await done;
    expect(stderr).toContain('Starting Prism mocks for tensorlake, hopx');
    const rows = stdout.split('\n').filter((line) => /^(tensorlake|hopx) /.test(line));
    const tensorlake = scenariosFor(['tensorlake']).length;
    const hopx = scenariosFor(['hopx']).length;
    expect(rows).toHaveLength(tensorlake + hopx);
    expect(rows.filter((r) => r.startsWith('tensorlake'))).toHaveLength(tensorlake);
    expect(rows.every((r) => / pass /.test(r))).toBe(true);
    const total = tensorlake + hopx;
    expect(stdout).toMatch(new RegExp(`^${total} passed, 0 failed \\(${total} scenarios: tensorlake ${tensorlake}, hopx ${hopx}\\) in \\d+\\.\\d s$`, 'm'));
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
    const expected = runnableOn({ kind: 'stateful' }, scenariosFor()).length;
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
    const { pid } = await client.startProcess({ command: 'sleep', args: ['30'] });
    expect(isAlive(pid)).toBe(true);
    run.child.kill('SIGINT');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(await waitFor(() => !isAlive(pid), 5_000)).toBe(true);
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
    [['check', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['deploy'], /unknown command "deploy"/],
    [['check', '--target', 'live'], /unknown target "live"/],
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
  });

  it('--help and --version exit 0', async () => {
    const help = capture();
    expect(await main(['--help'], help)).toBe(0);
    expect(help.text()).toMatch(/sandbox-procs check/);
    const version = capture();
    expect(await main(['--version'], version)).toBe(0);
    expect(version.text().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
