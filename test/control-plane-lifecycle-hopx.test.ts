// The HopX sandbox lifecycle beyond create and delete, with the official SDK
// (@hopx-ai/sdk 0.5.1) as a user calls it: pause freezes every process of the
// sandbox (no CPU, seen from the host's /proc), resume lets the same processes go
// on, setTimeout ends the sandbox when it runs out (processes gone, then 404 and
// SandboxExpiredError), kill() returns normally on its 200 JSON answer, and
// GET /health answers without credentials. Both unconfined and confined where
// bubblewrap can build sandboxes; every exchange validates against the spec.
import { randomBytes } from 'node:crypto';
import { totalmem } from 'node:os';
import { Sandbox } from '@hopx-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../generated/hopx-control.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import { createHopxControlClient } from '../src/index.js';
import { loadSpec } from '../src/specs.js';
import { cpuTicksOver as ticksOver } from './support/cpu.js';
import { processesWithEnv, waitFor } from './support/processes.js';
import { startRecordingProxy, specViolations, type RecordingProxy } from './support/recording-proxy.js';
import { testKey } from './support/secrets.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);
const validator = new SpecValidator('hopx', loadSpec('hopx-control'));
const TEMPLATE = 'code-interpreter';

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let controlPlane: RunningControlPlane;
  let proxy: RecordingProxy;
  let apiKey: string;

  beforeAll(async () => {
    apiKey = testKey('hopx-lifecycle');
    controlPlane = await startEmulator('hopx', { controlPlane: true, token: apiKey, isolation });
    proxy = await startRecordingProxy(controlPlane.baseUrl);
  });

  afterAll(async () => {
    await proxy?.close();
    await controlPlane?.stop();
  });

  it('create -> pause (no CPU, status paused) -> resume (the same processes go on) -> setTimeout -> gone when it runs out', async () => {
    const from = proxy.exchanges.length;
    // A mark of this sandbox's own in every process's environment: the host finds them by it, confined or not.
    const tag = randomBytes(8).toString('hex');
    const sandbox = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl, timeoutSeconds: 600, envVars: { LIFECYCLE_TAG: tag } });
    await sandbox.commands.runBackground('while :; do :; done');
    expect(await waitFor(() => processesWithEnv('LIFECYCLE_TAG', tag).length > 0, 5_000)).toBe(true);
    const burners = processesWithEnv('LIFECYCLE_TAG', tag);
    // Running, it burns CPU: the check below could fail.
    expect(await ticksOver(burners, 300)).toBeGreaterThan(0);

    await sandbox.pause();
    expect((await sandbox.getInfo()).status).toBe('paused');
    expect(await ticksOver(burners, 500)).toBe(0);
    // While paused, its agent answers 503 SANDBOX_PAUSED (no source says what a paused VM answers: inferred).
    const info = await sandbox.getInfo();
    const refused = await fetch(`${info.publicHost}/health`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 'SANDBOX_PAUSED' });

    await sandbox.resume();
    expect((await sandbox.getInfo()).status).toBe('running');
    expect(processesWithEnv('LIFECYCLE_TAG', tag)).toEqual(expect.arrayContaining(burners));
    expect(await ticksOver(burners, 300)).toBeGreaterThan(0);
    expect((await sandbox.commands.run('echo $((6 * 7))')).stdout.trim()).toBe('42');

    await sandbox.setTimeout(1);
    expect(new Date((await sandbox.getInfo()).expiresAt!).getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(await waitFor(() => processesWithEnv('LIFECYCLE_TAG', tag).length === 0, 10_000)).toBe(true);
    const gone = await Sandbox.connect(sandbox.sandboxId, apiKey, proxy.baseUrl).then(() => undefined, (e: unknown) => e);
    expect(gone).toMatchObject({ name: 'SandboxExpiredError' });

    expect(specViolations(proxy.exchanges.slice(from), operations, validator)).toEqual([]);
  });

  it('a sandbox paused when it is deleted ends whole; kill() returns normally on its 200 JSON answer', async () => {
    const tag = randomBytes(8).toString('hex');
    const sandbox = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: proxy.baseUrl, envVars: { LIFECYCLE_TAG: tag } });
    await sandbox.commands.runBackground('sleep 300');
    expect(await waitFor(() => processesWithEnv('LIFECYCLE_TAG', tag).length > 0, 5_000)).toBe(true);
    await sandbox.pause();
    const from = proxy.exchanges.length;
    await expect(sandbox.kill()).resolves.toBeUndefined();
    const deleted = proxy.exchanges.slice(from).find((x) => x.method === 'DELETE');
    expect(deleted?.status).toBe(200);
    expect(JSON.parse(deleted!.responseBody)).toMatchObject({ id: sandbox.sandboxId });
    expect(processesWithEnv('LIFECYCLE_TAG', tag)).toEqual([]);
  });

  it('stop ends every process and start serves again; a wrong transition answers 403 INVALID_STATE', async () => {
    const sandbox = await Sandbox.create({ template: TEMPLATE, apiKey, baseURL: controlPlane.baseUrl });
    const call = (action: string) =>
      fetch(`${controlPlane.baseUrl}/v1/sandboxes/${sandbox.sandboxId}/${action}`, { method: 'POST', headers: { 'x-api-key': apiKey } });
    await sandbox.commands.runBackground('sleep 300');
    const stopped = await call('stop');
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ status: 'stopped' });
    expect((await call('resume')).status).toBe(403);
    expect((await call('start')).status).toBe(200);
    expect(await sandbox.listProcesses()).toSatisfy((list: { status: string }[]) => list.every((p) => p.status !== 'running'));
    await sandbox.kill();
  });

  it('the typed control client: pause, resume, stop, start and setSandboxTimeout answer the sandbox in its new state', async () => {
    await using control = createHopxControlClient({ apiKey, baseUrl: controlPlane.baseUrl });
    const { sandbox_id: id } = await control.createSandbox({ template_name: TEMPLATE, memory_mb: 256 });
    expect((await control.pauseSandbox(id)).status).toBe('paused');
    expect((await control.resumeSandbox(id)).status).toBe('running');
    expect((await control.stopSandbox(id)).status).toBe('stopped');
    expect((await control.startSandbox(id)).status).toBe('running');
    const timed = await control.setSandboxTimeout(id, 600);
    expect(timed.timeout_seconds).toBe(600);
    expect(new Date(timed.expires_at!).getTime()).toBeGreaterThan(Date.now() + 590_000);
    // memory_mb is the cap where a cgroup holds it; else resources says the host's memory.
    const limits = (await control.getSandbox(id)).resources!;
    const capped = Math.floor(totalmem() / 2 ** 20) !== limits.memory_mb;
    if (isolation === 'none') expect(capped).toBe(false);
    if (capped) expect(limits.memory_mb).toBe(256);
    expect(limits).toMatchObject({ vcpu: expect.any(Number), memory_mb: expect.any(Number), disk_mb: expect.any(Number) });
    await control.deleteSandbox(id);
  });

  it('GET /health answers 200 JSON without an API key', async () => {
    const health = await fetch(`${controlPlane.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
  });
});
