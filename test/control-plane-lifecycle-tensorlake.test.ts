// Tensorlake's sandbox lifecycle beyond create and delete, over the wire as the
// Rust SDK sends it (crates/cloud-sdk/src/sandboxes/mod.rs at cab38389): suspend
// freezes every process of a named sandbox (no CPU, seen from the host's /proc),
// resume lets the same processes go on, and timeout_secs ends the sandbox (its
// processes gone, its status terminated). Unconfined and confined where bubblewrap
// can build sandboxes; every control-plane exchange validates against the spec.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator } from '../src/emulator/index.js';
import { createTensorlakeControlClient } from '../src/index.js';
import type { TensorlakeControlPlane } from '../src/providers/tensorlake/emulator/control-plane.js';
import { processesWithEnv, waitFor } from './support/processes.js';
import { cpuTicksOver } from './support/cpu.js';
import { testKey } from './support/secrets.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let controlPlane: TensorlakeControlPlane;
  let apiKey: string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${controlPlane.baseUrl}/v1/namespaces/default/sandboxes${path}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...init.headers },
    });

  beforeAll(async () => {
    apiKey = testKey('tensorlake-lifecycle');
    controlPlane = (await startEmulator('tensorlake', { controlPlane: true, token: apiKey, isolation })) as TensorlakeControlPlane;
  });

  afterAll(() => controlPlane?.stop());

  it('create(timeout_secs) -> suspend (no CPU, suspended) -> resume (the same processes go on) -> terminated when the timeout runs out', async () => {
    const name = `lifecycle-${randomBytes(4).toString('hex')}`;
    const created = await api('', { method: 'POST', body: JSON.stringify({ name, resources: { cpus: 1, memory_mb: 512 }, timeout_secs: 6 }) });
    expect(created.status).toBe(200);
    const { sandbox_id: id } = (await created.json()) as { sandbox_id: string };
    const sandbox = controlPlane.sandboxes().find((s) => s.id === id)!;
    const tag = randomBytes(8).toString('hex');
    const started = await fetch(`${sandbox.baseUrl}/api/v1/processes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'sh', args: ['-c', 'while :; do :; done'], env: { LIFECYCLE_TAG: tag } }),
    });
    expect(started.ok).toBe(true);
    expect(await waitFor(() => processesWithEnv('LIFECYCLE_TAG', tag).length > 0, 5_000)).toBe(true);
    const burners = processesWithEnv('LIFECYCLE_TAG', tag);
    expect(await cpuTicksOver(burners, 300)).toBeGreaterThan(0);

    expect((await api(`/${name}/suspend`, { method: 'POST' })).status).toBe(200);
    expect(await (await api(`/${id}`)).json()).toMatchObject({ status: 'suspended' });
    expect(await cpuTicksOver(burners, 500)).toBe(0);

    expect((await api(`/${id}/resume`, { method: 'POST' })).status).toBe(200);
    expect(await (await api(`/${id}`)).json()).toMatchObject({ status: 'running' });
    expect(processesWithEnv('LIFECYCLE_TAG', tag)).toEqual(expect.arrayContaining(burners));
    expect(await cpuTicksOver(burners, 300)).toBeGreaterThan(0);

    // timeout_secs: its processes end and it reads as terminated.
    expect(await waitFor(() => processesWithEnv('LIFECYCLE_TAG', tag).length === 0, 15_000)).toBe(true);
    expect(await (await api(`/${id}`)).json()).toMatchObject({ sandbox_id: id, status: 'terminated' });
    expect(controlPlane.sandboxes().map((s) => s.id)).not.toContain(id);
  });

  it('the typed control client suspends and resumes by name', async () => {
    await using control = createTensorlakeControlClient({ apiKey, baseUrl: controlPlane.baseUrl });
    const name = `client-${randomBytes(4).toString('hex')}`;
    await control.createSandbox({ name, resources: { cpus: 1, memory_mb: 512 } });
    await control.suspendSandbox(name);
    expect((await control.getSandbox(name)).status).toBe('suspended');
    await control.resumeSandbox(name);
    expect((await control.getSandbox(name)).status).toBe('running');
    await control.deleteSandbox(name);
  });

  it('the typed control client names an ephemeral sandbox (then it can be suspended); a held name is refused, proxy settings are not emulated', async () => {
    await using control = createTensorlakeControlClient({ apiKey, baseUrl: controlPlane.baseUrl });
    const { sandbox_id: id } = await control.createSandbox({ resources: { cpus: 1, memory_mb: 512 } });
    const name = `renamed-${randomBytes(4).toString('hex')}`;
    expect(await control.updateSandbox(id, { name })).toMatchObject({ sandbox_id: id, name, status: 'running', file_systems: [] });
    await control.suspendSandbox(name);
    expect((await control.getSandbox(id)).status).toBe('suspended');
    await control.resumeSandbox(id);
    const other = await control.createSandbox({ resources: { cpus: 1, memory_mb: 512 } });
    await expect(control.updateSandbox(other.sandbox_id, { name })).rejects.toMatchObject({ status: 409 });
    await expect(control.updateSandbox(id, { name: `${name}-x`, exposed_ports: [8080] })).rejects.toMatchObject({ status: 501, message: expect.stringContaining('not emulated by sandbox-procs') });
    // A refused update changed nothing, not even the part that could have been honoured.
    expect((await control.getSandbox(id)).name).toBe(name);
    await control.deleteSandbox(id);
    await control.deleteSandbox(other.sandbox_id);
  });

  it('an ephemeral (unnamed) sandbox cannot be suspended: 400', async () => {
    const created = await api('', { method: 'POST', body: JSON.stringify({ resources: { cpus: 1, memory_mb: 512 } }) });
    const { sandbox_id: id } = (await created.json()) as { sandbox_id: string };
    expect((await api(`/${id}/suspend`, { method: 'POST' })).status).toBe(400);
    expect((await api(`/${id}`, { method: 'DELETE' })).status).toBe(200);
  });
});
