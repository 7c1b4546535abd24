// drift with only the provider's API key: it creates a throwaway sandbox through the
// control plane, checks it and deletes it, on every way out (no drift, a timeout, a
// signal mid-run), or checks a sandbox named by ID and leaves it running. Run as users
// run it (the built CLI, a process of its own), against both emulators' control planes,
// which are then asked what is left.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import type { ProviderName } from '../src/errors.js';
import { connectSandbox, createSandbox } from '../src/sandbox.js';
import type { DriftReport } from '../src/contract/drift.js';
import { sandboxesAt } from './support/control-planes.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'dist/src/bin.js');
const KEY_ENV = 'SP_DRIFT_API_KEY';
/** The start of every JWT the HopX control plane hands out ({"alg":"HS256","typ":"JWT"}): no agent token may show. */
const JWT_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

interface Run {
  code: Promise<number | null>;
  signal: Promise<NodeJS.Signals | null>;
  stdout(): string;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

/** The built CLI with the control plane's own variables (what `emulate --control-plane` exports) and its key in KEY_ENV. */
function drift(controlPlane: RunningEmulator, args: string[]): Run {
  const env = { ...process.env, ...controlPlane.env, [KEY_ENV]: controlPlane.token, NO_COLOR: '1' };
  const child = spawn(process.execPath, [bin, 'drift', '--api-key-env', KEY_ENV, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
  // 'exit' can come before the pipes are drained: wait for both.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    code: Promise.all([exited, closed]).then(([[code]]) => code),
    signal: exited.then(([, signal]) => signal),
    stdout: () => stdout,
    stderr: () => stderr,
    kill: (signal) => child.kill(signal),
  };
}


async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return predicate();
}

const providers: ProviderName[] = ['tensorlake', 'hopx'];
const controlPlanes = {} as Record<ProviderName, RunningEmulator>;
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'sp-drift-sandbox-'));
  const [tensorlake, hopx] = await Promise.all(providers.map((p) => startEmulator(p, { controlPlane: true })));
  Object.assign(controlPlanes, { tensorlake, hopx });
});
afterAll(async () => {
  await Promise.all(Object.values(controlPlanes).map((c) => c.stop()));
  await rm(folder, { recursive: true, force: true });
});

describe.each(providers)('drift --provider %s --api-key-env', (provider) => {
  it('creates a sandbox, checks it with mutations, deletes it, and says so in every report; no secret shows', async () => {
    const controlPlane = controlPlanes[provider];
    const files = { json: join(folder, `${provider}.json`), junit: join(folder, `${provider}.xml`), html: join(folder, `${provider}.html`) };
    const run = drift(controlPlane, ['--provider', provider, '--allow-mutations', '--json', files.json, '--junit', files.junit, '--html', files.html]);
    expect(await run.code, run.stderr()).toBe(0);
    const report = JSON.parse(await readFile(files.json, 'utf8')) as DriftReport;
    const id = report.sandbox?.id;
    expect(report.sandbox).toEqual({ id: expect.any(String), controlPlane: controlPlane.baseUrl, created: true, deleted: true });
    expect(report.summary).toMatchObject({ drift: 0 });
    expect(report.checks.filter((c) => c.operation === 'lifecycle').map((c) => c.outcome)).toEqual(expect.arrayContaining(['pass']));
    const schema = JSON.parse(await readFile(join(root, 'schemas/drift-report.schema.json'), 'utf8')) as object;
    const validate = addFormats.default(new Ajv2020({ allErrors: true, strict: false })).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(run.stderr()).toContain(`Created throwaway sandbox ${id}`);
    expect(run.stderr()).toContain(`Deleted throwaway sandbox ${id}`);
    expect(run.stdout()).toContain(`throwaway sandbox ${id} created and deleted`);
    const junit = await readFile(files.junit, 'utf8');
    expect(junit).toContain(`<property name="sandbox.id" value="${id}"/>`);
    expect(junit).toContain('<property name="sandbox.deleted" value="true"/>');
    expect(await readFile(files.html, 'utf8')).toContain(`data-sandbox="${id}" data-deleted="true"`);
    expect(await sandboxesAt(provider, controlPlane)).toEqual([]);
    for (const text of [run.stdout(), run.stderr(), JSON.stringify(report), junit, await readFile(files.html, 'utf8')]) {
      expect(text).not.toContain(controlPlane.token);
      expect(text).not.toContain(JWT_HEADER);
    }
  }, 120_000);

  it('--sandbox ID checks that sandbox, found through the control plane, and leaves it running', async () => {
    const controlPlane = controlPlanes[provider];
    const target = { provider, apiKey: controlPlane.token, controlPlaneUrl: controlPlane.baseUrl, ...(provider === 'tensorlake' && { proxyUrl: controlPlane.baseUrl }) };
    const sandbox = await createSandbox(target);
    try {
      const json = join(folder, `${provider}-given.json`);
      const run = drift(controlPlane, ['--provider', provider, '--sandbox', sandbox.id, '--allow-mutations', '--json', json]);
      expect(await run.code, run.stderr()).toBe(0);
      const report = JSON.parse(await readFile(json, 'utf8')) as DriftReport;
      expect(report.sandbox).toEqual({ id: sandbox.id, controlPlane: controlPlane.baseUrl, created: false, deleted: false });
      expect(run.stderr()).not.toMatch(/Created|Deleted/);
      expect(await sandboxesAt(provider, controlPlane)).toEqual([sandbox.id]);
      // Still usable: the check stopped only what it started.
      await using again = await connectSandbox(target, sandbox.id);
      const started = await again.processes.start({ command: 'sleep', args: ['30'] });
      expect((await again.processes.get(started.id))?.running).toBe(true);
      await again.processes.kill(started.id);
    } finally {
      await sandbox.delete();
    }
  }, 120_000);

  it('a check that times out (--timeout-ms 1) still deletes its sandbox', async () => {
    const controlPlane = controlPlanes[provider];
    const json = join(folder, `${provider}-timeout.json`);
    const run = drift(controlPlane, ['--provider', provider, '--timeout-ms', '1', '--json', json]);
    // Which request is the first to miss 1 ms decides the exit: the health check (2, could not run), or a later check (1, drift).
    const code = await run.code;
    if (code === 2) expect(run.stderr()).toMatch(/could not run the drift check: .*did not answer in time/);
    else expect({ code, timedOut: /within 1 ms|did not answer in time|not made within/.test(run.stdout()) }, run.stderr()).toEqual({ code: 1, timedOut: true });
    const id = /Created throwaway sandbox (\S+)/.exec(run.stderr())?.[1];
    expect(id).toBeDefined();
    expect(run.stderr()).toContain(`Deleted throwaway sandbox ${id}`);
    if (code === 2) await expect(readFile(json)).rejects.toThrow();
    else expect((JSON.parse(await readFile(json, 'utf8')) as DriftReport).sandbox).toMatchObject({ id, deleted: true });
    expect(await sandboxesAt(provider, controlPlane)).toEqual([]);
  }, 60_000);

  it.each([
    ['once the sandbox is created, before the check', /Created throwaway sandbox/],
    ['mid-check', /\d+ checks done/],
  ])('SIGTERM %s: exits 143 and leaves no sandbox', async (_when, moment) => {
    const controlPlane = controlPlanes[provider];
    const run = drift(controlPlane, ['--provider', provider, '--allow-mutations']);
    expect(await until(() => moment.test(run.stderr()), 60_000), run.stderr()).toBe(true);
    run.kill('SIGTERM');
    expect(await run.code, run.stderr()).toBe(143);
    expect(run.stderr()).toMatch(/Interrupted \(SIGTERM\); deleting the throwaway sandbox\.\nDeleted throwaway sandbox \S+\n/);
    expect(await sandboxesAt(provider, controlPlane)).toEqual([]);
  }, 90_000);
});

describe('drift --api-key-env refuses, before any request', () => {
  it.each([
    [['--base-url', 'http://127.0.0.1:1'], /give --base-url .* or --api-key-env .*, not both/],
    [['--token-env', 'X'], /--token-env goes with --base-url/],
    [['--sandbox', 'a/b'], /--sandbox must be a sandbox ID/],
    [['--control-plane-url', 'http://example.com'], /--control-plane-url: refusing to send an API key over plain http:\/\//],
  ])('%j', async (args, message) => {
    const run = drift(controlPlanes.hopx, ['--provider', 'hopx', ...args]);
    expect(await run.code).toBe(2);
    expect(run.stderr()).toMatch(message);
    expect(await sandboxesAt('hopx', controlPlanes.hopx)).toEqual([]);
  });

  it('--proxy-url is for a provider with a sandbox proxy; --sandbox needs the key', async () => {
    const proxy = drift(controlPlanes.hopx, ['--provider', 'hopx', '--proxy-url', 'http://127.0.0.1:1']);
    expect(await proxy.code).toBe(2);
    expect(proxy.stderr()).toMatch(/--proxy-url is for --provider tensorlake: hopx has no sandbox proxy/);
  });

  it('an unknown sandbox: exit 2, nothing created', async () => {
    const run = drift(controlPlanes.tensorlake, ['--provider', 'tensorlake', '--sandbox', 'no-such-sandbox']);
    expect(await run.code).toBe(2);
    expect(run.stderr()).toMatch(/could not reach sandbox no-such-sandbox through http:\/\/127\.0\.0\.1:\d+: .*not found/i);
    expect(await sandboxesAt('tensorlake', controlPlanes.tensorlake)).toEqual([]);
  });
});
