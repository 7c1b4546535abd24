// Tensorlake's typed control-plane client and connecting by sandbox ID, against the
// emulator's control plane: create, list, get, delete, and the process API reached
// through the sandbox proxy with `Host: <id>.local`, as the SDK routes a loopback
// proxy URL. A sandbox that is not there fails at connect with NotFoundError, and
// the key is in no error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import { connectTensorlakeSandbox, createTensorlakeControlClient, NotFoundError, tensorlakeProxyRoute, type TensorlakeControlClient } from '../src/index.js';
import { leakedKeys, testKey } from './support/secrets.js';

let controlPlane: RunningControlPlane;
let control: TensorlakeControlClient;
let apiKey: string;

beforeAll(async () => {
  apiKey = testKey('tensorlake-connect');
  controlPlane = await startEmulator('tensorlake', { controlPlane: true, token: apiKey });
  control = createTensorlakeControlClient({ apiKey, baseUrl: controlPlane.baseUrl });
});
afterAll(async () => {
  await control?.close();
  await controlPlane?.stop();
});

describe('createTensorlakeControlClient', () => {
  it('creates, lists, gets and deletes a sandbox; a deleted one is NotFoundError', async () => {
    const created = await control.createSandbox({ resources: { cpus: 1, memory_mb: 512 }, timeout_secs: 60 });
    expect(created.status).toBe('running');
    expect((await control.listSandboxes()).map((s) => s.sandbox_id)).toContain(created.sandbox_id);
    expect(await control.getSandbox(created.sandbox_id)).toMatchObject({ sandbox_id: created.sandbox_id, status: 'running', timeout_secs: 60 });
    await control.deleteSandbox(created.sandbox_id);
    const gone = await control.getSandbox(created.sandbox_id).catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(NotFoundError);
    expect(leakedKeys(gone)).toEqual([]);
  });
});

describe('connectTensorlakeSandbox', () => {
  it('runs a process in a sandbox found by ID, through the loopback proxy with Host routing', async () => {
    const created = await control.createSandbox({ resources: { cpus: 1, memory_mb: 512 } });
    await using sandbox = await connectTensorlakeSandbox({ apiKey, sandboxId: created.sandbox_id, controlPlaneUrl: controlPlane.baseUrl, proxyUrl: controlPlane.baseUrl });
    expect(sandbox.route).toEqual({ baseUrl: controlPlane.baseUrl, headers: { host: `${created.sandbox_id}.local` } });
    const started = await sandbox.startProcess({ command: 'echo', args: ['hello'] });
    const listed = await sandbox.listProcesses();
    expect(listed.map((p) => p.pid)).toContain(started.pid);
    // Another sandbox does not see it: the Host header chose this one.
    const other = await control.createSandbox({ resources: { cpus: 1, memory_mb: 512 } });
    await using otherClient = await connectTensorlakeSandbox({ apiKey, sandboxId: other.sandbox_id, control, proxyUrl: controlPlane.baseUrl });
    expect((await otherClient.listProcesses()).map((p) => p.pid)).not.toContain(started.pid);
    await control.deleteSandbox(created.sandbox_id);
    await control.deleteSandbox(other.sandbox_id);
  });

  it('fails with NotFoundError for a sandbox that is not there, without the key in the error', async () => {
    const missing = await connectTensorlakeSandbox({ apiKey, sandboxId: 'no-such-sandbox', controlPlaneUrl: controlPlane.baseUrl }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(leakedKeys(missing)).toEqual([]);
  });

  it('routes a remote proxy by X-Tensorlake-Sandbox-Id, as the SDK does', () => {
    expect(tensorlakeProxyRoute('https://sandbox.tensorlake.ai/', 'abc')).toEqual({ baseUrl: 'https://sandbox.tensorlake.ai', headers: { 'X-Tensorlake-Sandbox-Id': 'abc' } });
  });
});
