// Tensorlake's control plane (`startEmulator('tensorlake', { controlPlane: true })`,
// `emulate --provider tensorlake --control-plane`): the official SDK's flow against
// it, configured by the environment only (test/official-sdks/tensorlake/run-control-flow.mjs
// under Node 22, as test/official-sdk-tensorlake.test.ts runs run-sdk.mjs), and each
// sandbox's isolation, checked over plain HTTP with the Host header the SDK sends.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations as controlOperations } from '../generated/tensorlake-control.operations.js';
import { operations as processOperations } from '../generated/tensorlake.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import type { TensorlakeControlPlane } from '../src/providers/tensorlake/emulator/control-plane.js';
import { startEmulator } from '../src/emulator/index.js';
import type { OpenApiDocument } from '../src/specs.js';
import { ensureInstalled, officialSdkSkipped, resolveNode22, runBounded, TENSORLAKE_SDK_DIR, INSTALL_TIMEOUT_MS, RUN_TIMEOUT_MS, type RecordedRequest, type StepResult } from './support/official-sdk.js';
import { isAlive, waitFor } from './support/processes.js';
import { specViolations, type Exchange } from './support/recording-proxy.js';
import { testKey } from './support/secrets.js';

const SDK_DIR = TENSORLAKE_SDK_DIR;
const ROOT = fileURLToPath(new URL('..', import.meta.url));


async function startControlPlane(token: string): Promise<TensorlakeControlPlane> {
  // Unconfined (isolation none): these tests follow processes by host PID; confined sandboxes are test/confinement.test.ts's.
  return (await startEmulator('tensorlake', { controlPlane: true, token, isolation: 'none' })) as TensorlakeControlPlane;
}

/** Runs run-control-flow.mjs under Node 22 with exactly these settings; its steps by name. */
async function runFlow(settings: Record<string, string>): Promise<Map<string, StepResult>> {
  const install = await ensureInstalled(SDK_DIR, { timeoutMs: INSTALL_TIMEOUT_MS, mustExist: ['node_modules/tensorlake/package.json'] });
  if (install.installed) console.info(`installed ${SDK_DIR} (npm ci) in ${install.ms} ms`);
  const node = resolveNode22(SDK_DIR);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TENSORLAKE_') && name !== 'NODE_OPTIONS'));
  const run = await runBounded(node.path, ['run-control-flow.mjs'], { cwd: SDK_DIR, env: { ...env, ...settings }, timeoutMs: RUN_TIMEOUT_MS });
  const parsed = run.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as StepResult & { done?: boolean });
  if (run.timedOut || run.code !== 0 || !parsed.some((entry) => entry.done)) {
    throw new Error(`run-control-flow.mjs ${run.timedOut ? 'timed out' : `exited with ${run.code ?? run.signal}`}.\nstdout:\n${run.stdout.slice(-4000)}\nstderr:\n${run.stderr.slice(-4000)}`);
  }
  return new Map(parsed.filter((entry) => typeof entry.step === 'string').map((entry) => [entry.step, entry]));
}

function describeStep(s: StepResult): string {
  return `step "${s.step}": ${s.ok ? 'succeeded' : `${s.error?.name}: ${s.error?.message}`}\n${s.requests.map((r) => `  ${r.method} ${r.path} (Host ${r.headers.host}) -> ${r.status}`).join('\n')}`;
}

function exchangesOf(steps: Map<string, StepResult>, lifecycle: boolean): Exchange[] {
  return [...steps.values()]
    .flatMap((s) => s.requests)
    .filter((r) => r.path.startsWith('/v1/namespaces/') === lifecycle)
    .map((r) => {
      const url = new URL(r.path, 'http://x');
      return { method: r.method, path: url.pathname, query: Object.fromEntries(url.searchParams), requestHeaders: {}, requestBody: r.body, status: Number(r.status), contentType: r.contentType ?? null, responseBody: r.response ?? '' };
    });
}

const controlSpec = parse(readFileSync(`${ROOT}/specs/tensorlake-control.yaml`, 'utf8')) as OpenApiDocument;

/** The checks every run of the SDK flow must pass, whoever started the control plane. */
function expectFlowPassed(steps: Map<string, StepResult>): void {
  const step = (name: string) => {
    const s = steps.get(name);
    if (!s) throw new Error(`run-control-flow.mjs printed no result for step "${name}"`);
    return s;
  };
  const ok = (name: string) => {
    const s = step(name);
    expect(s.ok, describeStep(s)).toBe(true);
    return s.value;
  };
  expect(ok('create A').sandboxId).toMatch(/^[a-z0-9]+$/);
  expect(ok('A followStdout')).toEqual(['hello', 'world']);
  expect(ok('A getProcess after kill')).toMatchObject({ status: 'signaled' });
  expect(ok('A run')).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^ran\n/) });
  ok('A terminate');
  ok('B terminate');
  // The sandbox proxy was reached by Host <sandbox id>.local, with the API key, as the SDK does on a loopback URL.
  const a = ok('create A').sandboxId as string;
  for (const r of step('A startProcess').requests) expect(r.headers).toMatchObject({ host: `${a}.local`, authorization: 'Bearer <TOKEN>' });
  // create(timeoutSecs) -> suspend -> resume -> the timeout runs out: the sandbox ends, as the SDK reads it.
  expect(ok('C suspend')).toBe('suspended');
  expect(ok('C resume')).toBe('running');
  expect(ok('C getProcess sleeper after resume')).toMatchObject({ pid: ok('C startProcess sleeper').pid, status: 'running' });
  const ran = ok('C timeout runs out') as { statuses: string[]; afterMs: number };
  expect(ran.statuses).toEqual(['running', 'terminated']);
  // Not before its time: counted from the create request (the clock runs on while suspended, as the emulator infers).
  expect(ran.afterMs).toBeGreaterThanOrEqual(3_900);
  expect(ok('C info after timeout')).toMatchObject({ sandboxId: ok('create C timeoutSecs').sandboxId, name: 'sandbox-c', status: 'terminated', timeoutSecs: 4 });
  expect(step('C listProcesses after timeout'), describeStep(step('C listProcesses after timeout'))).toMatchObject({ ok: false });
}

const skipped = officialSdkSkipped('the official Tensorlake SDK against the control plane (test/control-plane-tensorlake.test.ts)');

describe.skipIf(skipped)('the official Tensorlake SDK (Node 22) against startEmulator(tensorlake, { controlPlane: true })', () => {
  let controlPlane: TensorlakeControlPlane | undefined;
  let steps = new Map<string, StepResult>();
  let setupError: Error | undefined;
  const token = testKey('control-plane');

  beforeAll(async () => {
    try {
      controlPlane = await startControlPlane(token);
      expect(Object.keys(controlPlane.settings)).toEqual(['TENSORLAKE_API_URL', 'TENSORLAKE_SANDBOX_PROXY_URL', 'TENSORLAKE_API_KEY']);
      steps = await runFlow(controlPlane.settings);
    } catch (error) {
      setupError = error as Error;
    }
  }, INSTALL_TIMEOUT_MS + RUN_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await controlPlane?.stop();
  });

  function value(name: string): any {
    if (setupError) throw setupError;
    const s = steps.get(name)!;
    expect(s?.ok, s && describeStep(s)).toBe(true);
    return s.value;
  }

  it('runs create -> startProcess -> followStdout -> killProcess -> run -> terminate', () => {
    if (setupError) throw setupError;
    expectFlowPassed(steps);
  });

  it('suspend freezes the sandbox\'s processes and resume thaws them; when timeout_secs runs out they are stopped', async () => {
    // Isolation none: the SDK's PIDs are this machine's, so /proc tells their state.
    expect(value('C sleeper state while suspended')).toBe('T');
    expect(value('C sleeper state after resume')).toMatch(/^[SR]$/);
    const sleeper = value('C startProcess sleeper').pid as number;
    expect(await waitFor(() => !isAlive(sleeper), 5_000)).toBe(true);
    // The SDK suspended and resumed through the lifecycle API, not the sandbox proxy.
    const paths = [...steps.values()].flatMap((s) => s.requests).filter((r) => r.method === 'POST').map((r) => r.path);
    expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(/\/sandboxes\/[^/]+\/suspend$/), expect.stringMatching(/\/sandboxes\/[^/]+\/resume$/)]));
  });

  it('list, info and connect see the sandbox; after terminate it is gone', () => {
    const a = value('create A').sandboxId;
    const b = value('create B').sandboxId;
    expect(value('list').map((s: any) => s.sandboxId).sort()).toEqual([a, b].sort());
    expect(value('A info')).toMatchObject({ sandboxId: a, status: 'running', namespace: 'default' });
    expect(value('connect A').sort()).toEqual([value('A startProcess').pid, value('A startProcess sleeper').pid].sort());
    expect(value('list after terminate A').map((s: any) => s.sandboxId)).toEqual([b]);
    expect(steps.get('get A after terminate')).toMatchObject({ ok: false, error: { name: 'SandboxNotFoundError' } });
  });

  it('two sandboxes side by side: B sees none of A\'s processes and cannot kill them', () => {
    const sleeper = value('A startProcess sleeper').pid;
    expect(value('B listProcesses')).toEqual([]);
    expect(steps.get('B killProcess A sleeper'), describeStep(steps.get('B killProcess A sleeper')!)).toMatchObject({ ok: false, error: { statusCode: 404 } });
    expect(value('A getProcess sleeper after B kill')).toMatchObject({ pid: sleeper, status: 'running' });
  });

  it('terminate stopped every process of the sandbox and removed its working directory', async () => {
    const pids = [value('A startProcess').pid, value('A startProcess sleeper').pid] as number[];
    expect(await waitFor(() => pids.every((pid) => !isAlive(pid)), 5_000)).toBe(true);
    const workdir = (value('A run').stdout as string).split('\n')[1]!;
    expect(workdir).toMatch(/sandbox-procs-tensorlake-/);
    expect(existsSync(workdir)).toBe(false);
    expect(controlPlane!.sandboxes()).toEqual([]);
  });

  it('every exchange conforms: lifecycle to specs/tensorlake-control.yaml, sandbox proxy to specs/tensorlake.yaml', () => {
    if (setupError) throw setupError;
    const lifecycle = exchangesOf(steps, true);
    // Not the one to a sandbox that has ended: the proxy answers it (404, no such sandbox), not a sandbox's API (specs/tensorlake.yaml).
    const proxied = exchangesOf(new Map([...steps].filter(([name]) => name !== 'C listProcesses after timeout')), false);
    expect(new Set(lifecycle.map((x) => x.method))).toEqual(new Set(['POST', 'GET', 'DELETE']));
    expect(proxied.length).toBeGreaterThan(8);
    expect(specViolations(lifecycle, controlOperations, new SpecValidator('tensorlake', controlSpec))).toEqual([]);
    expect(specViolations(proxied, processOperations, new SpecValidator('tensorlake'))).toEqual([]);
  });
});

describe.skipIf(skipped)('the official Tensorlake SDK against the built CLI: emulate --provider tensorlake --control-plane', () => {
  it('prints the settings that the SDK flow runs on unchanged', async () => {
    const token = testKey('control-plane-cli');
    const child = spawn(process.execPath, [`${ROOT}/dist/src/bin.js`, 'emulate', '--provider', 'tensorlake', '--control-plane', '--token-env', 'CP_TOKEN'], {
      env: { ...process.env, CP_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      expect(await waitFor(() => out.includes('Press Ctrl-C'), 20_000)).toBe(true);
      const settings = Object.fromEntries([...out.matchAll(/^ {2}(TENSORLAKE_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      // The key the user chose is not echoed.
      expect(settings).toEqual({ TENSORLAKE_API_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), TENSORLAKE_SANDBOX_PROXY_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), TENSORLAKE_API_KEY: '<your token>' });
      expectFlowPassed(await runFlow({ ...settings, TENSORLAKE_API_KEY: token }));
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }, INSTALL_TIMEOUT_MS + RUN_TIMEOUT_MS + 30_000);
});

/** The official SDK's example, with the variables `emulate --control-plane` prints. */
const EXAMPLE = 'examples/tensorlake-official-sdk.mjs';

describe.skipIf(skipped)(EXAMPLE, () => {
  /** Evaluated as a module in the SDK's folder, so that `import ... from 'tensorlake'` resolves there. */
  async function runExampleWith(settings: Record<string, string>) {
    await ensureInstalled(SDK_DIR, { timeoutMs: INSTALL_TIMEOUT_MS, mustExist: ['node_modules/tensorlake/package.json'] });
    const node = resolveNode22(SDK_DIR);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TENSORLAKE_') && name !== 'NODE_OPTIONS'));
    return runBounded(node.path, ['--input-type=module', '-e', readFileSync(`${ROOT}/${EXAMPLE}`, 'utf8')], { cwd: SDK_DIR, env: { ...env, ...settings }, timeoutMs: RUN_TIMEOUT_MS });
  }

  it('runs unchanged under Node 22 against the control plane and prints what its comments say', async () => {
    const token = testKey('control-plane-readme');
    const cp = await startControlPlane(token);
    try {
      const run = await runExampleWith(cp.settings);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trim().split('\n')).toEqual(['hello world', '0 ran']);
      expect(cp.sandboxes()).toEqual([]);
    } finally {
      await cp.stop();
    }
  }, INSTALL_TIMEOUT_MS + RUN_TIMEOUT_MS + 30_000);

  it('refuses to run without each of its variables, naming it, and sends nothing (rather than reach Tensorlake\'s cloud)', async () => {
    const cp = await startControlPlane(testKey('control-plane-refusal'));
    try {
      for (const missing of Object.keys(cp.settings)) {
        const run = await runExampleWith(Object.fromEntries(Object.entries(cp.settings).filter(([name]) => name !== missing)));
        expect(run.code, missing).not.toBe(0);
        expect(run.stderr).toContain(`${missing} is not set`);
        expect(run.stdout).toBe('');
      }
      expect(Object.keys(cp.settings).sort()).toEqual(['TENSORLAKE_API_KEY', 'TENSORLAKE_API_URL', 'TENSORLAKE_SANDBOX_PROXY_URL']);
      expect(cp.sandboxes()).toEqual([]);
    } finally {
      await cp.stop();
    }
  }, INSTALL_TIMEOUT_MS + 3 * RUN_TIMEOUT_MS + 30_000);
});

/** One request with the Host header the SDK sends for a sandbox (fetch may not set Host). */
function call(baseUrl: string, options: { method: string; path: string; host?: string; token: string; body?: unknown }): Promise<{ status: number; json: any }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path,
        headers: { authorization: `Bearer ${options.token}`, ...(options.host ? { host: options.host } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('control plane isolation (plain HTTP)', () => {
  const apiKey = testKey('control-plane-isolation');
  const create = async (cp: TensorlakeControlPlane) => {
    const answer = await call(cp.baseUrl, { method: 'POST', path: '/v1/namespaces/default/sandboxes', token: apiKey, body: { resources: { cpus: 1, memory_mb: 512 } } });
    expect(answer.status).toBe(200);
    return cp.sandboxes().find((s) => s.id === answer.json.sandbox_id)!;
  };
  const startSleep = async (cp: TensorlakeControlPlane, id: string, token = apiKey) => {
    const answer = await call(cp.baseUrl, { method: 'POST', path: '/api/v1/processes', host: `${id}.local`, token, body: { command: 'sleep', args: ['30'] } });
    expect(answer.status).toBe(201);
    return answer.json.pid as number;
  };

  it('a sandbox accepts the API key or its own token; another sandbox\'s token is refused, and so is it on the lifecycle API', async () => {
    const cp = await startControlPlane(apiKey);
    try {
      const a = await create(cp);
      const b = await create(cp);
      expect(a.token).not.toBe(b.token);
      const list = (host: string, token: string) => call(cp.baseUrl, { method: 'GET', path: '/api/v1/processes', host, token });
      expect((await list(`${a.id}.local`, a.token)).status).toBe(200);
      expect((await list(`${b.id}.local`, apiKey)).status).toBe(200);
      expect(await list(`${b.id}.local`, a.token)).toMatchObject({ status: 401, json: { error: expect.any(String) } });
      expect((await call(cp.baseUrl, { method: 'GET', path: '/v1/namespaces/default/sandboxes', token: a.token })).status).toBe(401);
      expect((await list('nosuchsandbox.local', apiKey)).status).toBe(404);
    } finally {
      await cp.stop();
    }
  });

  it('deleting a sandbox stops its processes and removes its working directory; the other one runs on', async () => {
    const cp = await startControlPlane(apiKey);
    try {
      const a = await create(cp);
      const b = await create(cp);
      const pidA = await startSleep(cp, a.id, a.token);
      const pidB = await startSleep(cp, b.id);
      expect(existsSync(a.workdir)).toBe(true);
      expect((await call(cp.baseUrl, { method: 'DELETE', path: `/v1/namespaces/default/sandboxes/${a.id}`, token: apiKey })).status).toBe(200);
      expect(isAlive(pidA)).toBe(false);
      expect(existsSync(a.workdir)).toBe(false);
      expect(isAlive(pidB)).toBe(true);
      expect((await call(cp.baseUrl, { method: 'GET', path: '/api/v1/processes', host: `${a.id}.local`, token: apiKey })).status).toBe(404);
      expect((await call(cp.baseUrl, { method: 'GET', path: `/v1/namespaces/default/sandboxes/${a.id}`, token: apiKey })).status).toBe(404);
    } finally {
      await cp.stop();
    }
  });

  it('stop() of the control plane stops every sandbox, its processes and its working directory', async () => {
    const cp = await startControlPlane(apiKey);
    const sandboxes = [await create(cp), await create(cp)];
    const pids = await Promise.all(sandboxes.map((s) => startSleep(cp, s.id)));
    expect(pids.every(isAlive)).toBe(true);
    await cp.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(sandboxes.map((s) => s.workdir).filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(cp.workdir)).toBe(false);
  });
});
