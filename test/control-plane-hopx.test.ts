// The official HopX SDK (@hopx-ai/sdk 0.5.1), used exactly as a user would with
// only its endpoint settings changed (apiKey, baseURL), against
// startEmulator('hopx', { controlPlane: true }) and against the built CLI's
// `emulate --control-plane`. A recording proxy sits between the SDK and the
// control plane: every control-plane exchange must validate against
// specs/hopx-control.yaml with the project's own validators. Then isolation: two
// sandboxes cannot see, kill or authenticate to each other, and deleting one (or
// stopping the control plane) ends its processes and removes its directory.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Sandbox } from '@hopx-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../generated/hopx-control.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import { loadSpec } from '../src/specs.js';
import { runExample } from './support/readme-examples.js';
import { startRecordingProxy, specViolations, type RecordingProxy } from './support/recording-proxy.js';
import { leakedKeys, testKey } from './support/secrets.js';

const root = join(import.meta.dirname, '..');
const validator = new SpecValidator('hopx', loadSpec('hopx-control'));
const TEMPLATE = 'code-interpreter';

let controlPlane: RunningControlPlane;
let proxy: RecordingProxy;
let apiKey: string;

beforeAll(async () => {
  apiKey = testKey('hopx-control');
  // Unconfined (isolation none): these tests follow a sandbox's processes by host PID and its workspace by host path;
  // confined sandboxes through the control plane are test/confinement.test.ts's.
  controlPlane = await startEmulator('hopx', { controlPlane: true, token: apiKey, isolation: 'none' });
  proxy = await startRecordingProxy(controlPlane.baseUrl);
});

afterAll(async () => {
  await proxy?.close();
  await controlPlane?.stop();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const endpoint = (x: { method: string; path: string }) => `${x.method} ${x.path.replace(/sbx_\w+/, '{sandbox_id}')}`;
/** The directory the sandbox runs its processes in (its /workspace), from inside the sandbox. */
const workspaceOf = async (sandbox: Sandbox) => (await sandbox.commands.run('pwd')).stdout.trim();
const ownWorkspaces = !existsSync('/workspace');

describe('@hopx-ai/sdk 0.5.1 against emulate --provider hopx --control-plane', () => {
  it('runs the issue flow, create -> runCode -> runCodeBackground -> listProcesses -> killProcess -> commands.run -> kill, with spec-valid control-plane exchanges', async () => {
    const from = proxy.exchanges.length;
    const sandbox = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl });
    expect(sandbox.sandboxId).toMatch(/^sbx_/);

    expect(await sandbox.runCode('print(6 * 7)')).toMatchObject({ success: true, stdout: '42\n', exit_code: 0 });
    const started = await sandbox.runCodeBackground('import time; time.sleep(60)', { name: 'sleeper' });
    const listed = (await sandbox.listProcesses()).find((p) => p.process_id === started.process_id);
    expect(listed).toMatchObject({ name: 'sleeper', status: 'running', pid: expect.any(Number) });
    expect(alive(listed!.pid!)).toBe(true);
    await sandbox.killProcess(started.process_id);
    expect((await sandbox.listProcesses()).find((p) => p.process_id === started.process_id)?.status).toBe('killed');
    expect(alive(listed!.pid!)).toBe(false);
    const command = await sandbox.commands.run('echo hello | tr a-z A-Z');
    expect(command).toMatchObject({ success: true, exit_code: 0 });
    expect(command.stdout.trim()).toBe('HELLO');

    const workspace = await workspaceOf(sandbox);
    const listedBefore = await Sandbox.list({ apiKey, baseURL: proxy.baseUrl });
    expect(listedBefore.map((s) => s.sandboxId)).toContain(sandbox.sandboxId);
    // Sandbox.iter pages with limit=100 (an integer in the query) and the cursor.
    const iterated: string[] = [];
    for await (const listed of Sandbox.iter({ apiKey, baseURL: proxy.baseUrl })) iterated.push(listed.sandboxId);
    expect(iterated).toContain(sandbox.sandboxId);
    expect(proxy.exchanges.slice(from).some((x) => x.query.limit === '100')).toBe(true);
    await sandbox.kill();
    expect((await Sandbox.list({ apiKey, baseURL: proxy.baseUrl })).map((s) => s.sandboxId)).not.toContain(sandbox.sandboxId);
    if (ownWorkspaces) expect(existsSync(dirname(workspace))).toBe(false);

    const exchanges = proxy.exchanges.slice(from);
    expect(specViolations(exchanges, operations, validator)).toEqual([]);
    expect([...new Set(exchanges.map(endpoint))].sort()).toEqual(['DELETE /v1/sandboxes/{sandbox_id}', 'GET /v1/sandboxes', 'GET /v1/sandboxes/{sandbox_id}', 'POST /v1/sandboxes'].sort());
    expect(exchanges.find((x) => x.method === 'POST')?.status).toBe(201);
  });

  it('Sandbox.connect: reads the sandbox and refreshes its token; a deleted one is gone (404, SandboxExpiredError)', async () => {
    const created = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl });
    const from = proxy.exchanges.length;
    const connected = await Sandbox.connect(created.sandboxId, apiKey, proxy.baseUrl);
    expect((await connected.runCode('echo $((6 * 7))', { language: 'bash' })).stdout).toBe('42\n');
    const info = await connected.getInfo();
    expect(info).toMatchObject({ sandboxId: created.sandboxId, status: 'running', publicHost: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    await created.kill();
    const gone = await Sandbox.connect(created.sandboxId, apiKey, proxy.baseUrl).then(() => undefined, (e: unknown) => e);
    expect(gone).toMatchObject({ name: 'SandboxExpiredError' });
    const exchanges = proxy.exchanges.slice(from);
    expect(exchanges.map(endpoint)).toContain('POST /v1/sandboxes/{sandbox_id}/token/refresh');
    expect(exchanges.filter((x) => x.status === 404).map(endpoint)).toEqual(['GET /v1/sandboxes/{sandbox_id}']);
    expect(specViolations(exchanges, operations, validator)).toEqual([]);
  });

  it('refuses an unknown API key with 401 (AuthenticationError), without echoing the key', async () => {
    const wrong = testKey('hopx-wrong');
    const from = proxy.exchanges.length;
    const error = await Sandbox.create({ template: TEMPLATE, apiKey: wrong, baseURL: proxy.baseUrl }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'AuthenticationError' });
    expect(proxy.exchanges.slice(from).map((x) => x.status)).toEqual([401]);
    expect(specViolations(proxy.exchanges.slice(from), operations, validator)).toEqual([]);
    expect(proxy.exchanges.slice(from)[0]!.responseBody).not.toContain(wrong);
    expect(leakedKeys(error).filter((text) => text.includes(apiKey))).toEqual([]);
  });
});

describe('sandboxes are isolated from each other', () => {
  it('B cannot list, kill or authenticate to what A runs; deleting A ends its processes and removes its directory, B goes on', async () => {
    const a = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl });
    const b = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl });
    try {
      const started = await a.runCodeBackground('import time; time.sleep(60)');
      const pid = (await a.listProcesses()).find((p) => p.process_id === started.process_id)!.pid!;
      expect(alive(pid)).toBe(true);

      expect((await b.listProcesses()).map((p) => p.process_id)).not.toContain(started.process_id);
      expect((await b.listSystemProcesses()).map((p) => p.pid)).not.toContain(pid);
      const refused = await b.killProcess(started.process_id).then(() => undefined, (e: unknown) => e);
      expect(refused).toMatchObject({ statusCode: 404 });
      expect((await a.listProcesses()).find((p) => p.process_id === started.process_id)?.status).toBe('running');

      // Each sandbox's agent takes its own token only.
      const [aInfo, bInfo] = [await a.getInfo(), await b.getInfo()];
      expect(aInfo.publicHost).not.toBe(bInfo.publicHost);
      const [aToken, bToken] = [await a.getToken(), await b.getToken()];
      expect(aToken).not.toBe(bToken);
      const listWith = (host: string, token: string) => fetch(`${host}/execute/processes`, { headers: { authorization: `Bearer ${token}` } });
      expect((await listWith(bInfo.publicHost, aToken)).status).toBe(401);
      expect((await listWith(aInfo.publicHost, bToken)).status).toBe(401);
      expect((await listWith(bInfo.publicHost, bToken)).status).toBe(200);
      // Nor does the account's API key open an agent.
      expect((await listWith(aInfo.publicHost, apiKey)).status).toBe(401);

      const [aWorkspace, bWorkspace] = [await workspaceOf(a), await workspaceOf(b)];
      if (ownWorkspaces) expect(dirname(aWorkspace)).not.toBe(dirname(bWorkspace));
      await a.kill();
      expect(alive(pid)).toBe(false);
      if (ownWorkspaces) expect(existsSync(dirname(aWorkspace))).toBe(false);
      expect((await b.runCode('print(1)')).stdout).toBe('1\n');
      if (ownWorkspaces) expect(existsSync(dirname(bWorkspace))).toBe(true);
    } finally {
      await Promise.allSettled([a.kill(), b.kill()]);
    }
  });

  it('Sandbox.create({ envVars }): that sandbox\'s processes see them and env.getAll returns them; another sandbox sees none', async () => {
    const a = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl, envVars: { GREETING: 'hi' } });
    const b = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl });
    try {
      expect((await a.runCode('echo $GREETING', { language: 'bash' })).stdout).toBe('hi\n');
      expect(await a.env.getAll()).toEqual({ GREETING: 'hi' });
      expect((await b.runCode('echo "[$GREETING]"', { language: 'bash' })).stdout).toBe('[]\n');
      expect(await b.env.getAll()).toEqual({});
    } finally {
      await Promise.allSettled([a.kill(), b.kill()]);
    }
  });

  it('stop() of the control plane deletes every sandbox: their processes end, their directories go', async () => {
    const key = testKey('hopx-control-stop');
    const own = await startEmulator('hopx', { controlPlane: true, token: key, isolation: 'none' });
    let pids: number[] = [];
    let workspaces: string[] = [];
    try {
      const sandboxes = [await Sandbox.create({ template: TEMPLATE, apiKey: key, baseURL: own.baseUrl }), await Sandbox.create({ template: TEMPLATE, apiKey: key, baseURL: own.baseUrl })];
      for (const sandbox of sandboxes) {
        const started = await sandbox.runCodeBackground('import time; time.sleep(60)');
        pids.push((await sandbox.listProcesses()).find((p) => p.process_id === started.process_id)!.pid!);
        workspaces.push(await workspaceOf(sandbox));
      }
      expect(pids.every(alive)).toBe(true);
    } finally {
      await own.stop();
    }
    expect(pids.filter(alive)).toEqual([]);
    if (ownWorkspaces) expect(workspaces.map(dirname).filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(own.workdir)).toBe(false);
    await expect(fetch(`${own.baseUrl}/v1/sandboxes`, { headers: { 'x-api-key': key } })).rejects.toThrow();
  });
});

describe('examples/hopx-official-sdk.mjs', () => {
  it('runs as written against the control plane, with only HOPX_API_KEY and HOPX_BASE_URL set', async () => {
    const from = proxy.exchanges.length;
    const run = await runExample(join(root, 'examples/hopx-official-sdk.mjs'), { HOPX_API_KEY: apiKey, HOPX_BASE_URL: proxy.baseUrl }, 60_000, root);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual(['42', 'ticker running "0\\n1\\n2\\n"', 'HELLO']);
    const exchanges = proxy.exchanges.slice(from);
    expect(exchanges.map(endpoint)).toEqual(expect.arrayContaining(['POST /v1/sandboxes', 'DELETE /v1/sandboxes/{sandbox_id}']));
    expect(specViolations(exchanges, operations, validator)).toEqual([]);
  }, 60_000);
});

describe('the built CLI: emulate --provider hopx --control-plane', () => {
  it('prints the SDK settings; the SDK flow runs against them; SIGTERM stops it and every sandbox process', async () => {
    const key = testKey('hopx-cli');
    const child = spawn(process.execPath, [join(root, 'dist', 'src', 'bin.js'), 'emulate', '--provider', 'hopx', '--control-plane', '--isolation', 'none', '--token-env', 'HOPX_CONTROL_KEY'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOPX_CONTROL_KEY: key },
    });
    const exited = once(child, 'exit');
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const lines: string[] = [];
      for await (const line of createInterface({ input: child.stdout! })) {
        lines.push(line);
        if (line.startsWith('Press Ctrl-C')) break;
      }
      const output = lines.join('\n');
      expect(output).not.toContain(key);
      expect(output).toMatch(/^hopx control plane listening on http:\/\/127\.0\.0\.1:\d+$/m);
      expect(output).toContain('  HOPX_API_KEY=<your token>');
      const baseURL = /^ {2}baseURL=(\S+)$/m.exec(output)?.[1];
      expect(baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const sandbox = await Sandbox.create({ template: TEMPLATE, apiKey: key, baseURL: baseURL! });
      expect((await sandbox.runCode('print(6 * 7)')).stdout).toBe('42\n');
      const started = await sandbox.runCodeBackground('import time; time.sleep(60)');
      const pid = (await sandbox.listProcesses()).find((p) => p.process_id === started.process_id)!.pid!;
      expect(alive(pid)).toBe(true);
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(alive(pid)).toBe(false);
      expect(stderr).not.toContain(key);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
