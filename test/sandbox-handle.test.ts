// The provider-neutral sandbox handle against both emulators' control planes: a
// fresh sandbox in a few lines, a process run through `processes`, and `await using`
// deleting it on the way out (and only closing a sandbox it merely connected to).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import type { ProviderName } from '../src/errors.js';
import { connectSandbox, createHopxControlClient, createSandbox, createTensorlakeControlClient, waitForExit, type SandboxTarget } from '../src/index.js';
import { testKey } from './support/secrets.js';

describe.each(['hopx', 'tensorlake'] as ProviderName[])('%s', (provider) => {
  let controlPlane: RunningControlPlane;
  let target: SandboxTarget;

  beforeAll(async () => {
    const apiKey = testKey(`${provider}-handle`);
    controlPlane = await startEmulator(provider, { controlPlane: true, token: apiKey });
    target = { provider, apiKey, controlPlaneUrl: controlPlane.baseUrl, ...(provider === 'tensorlake' && { proxyUrl: controlPlane.baseUrl }) };
  });
  afterAll(async () => {
    await controlPlane?.stop();
  });

  /** The IDs of the sandboxes the control plane holds now. */
  async function existing(): Promise<string[]> {
    if (provider === 'hopx') {
      await using control = createHopxControlClient({ apiKey: target.apiKey, baseUrl: controlPlane.baseUrl });
      return (await control.listSandboxes()).data.map((s) => s.sandbox_id);
    }
    await using control = createTensorlakeControlClient({ apiKey: target.apiKey, baseUrl: controlPlane.baseUrl });
    return (await control.listSandboxes()).map((s) => s.sandbox_id);
  }

  it('creates a sandbox, runs a process in it, and deletes it when the block ends', async () => {
    let id: string;
    {
      await using sandbox = await createSandbox(target, { timeoutSeconds: 120 });
      id = sandbox.id;
      expect(sandbox).toMatchObject({ provider, created: true });
      expect(await existing()).toContain(id);
      const started = await sandbox.processes.start({ command: 'sh', args: ['-c', 'exit 3'] });
      expect(await waitForExit(sandbox.processes, started.id, { timeoutMs: 10_000 })).toMatchObject({ exitCode: 3 });
    }
    expect(await existing()).not.toContain(id);
  });

  it('connects to a sandbox by ID and leaves it running when the block ends; delete() ends it', async () => {
    const owner = await createSandbox(target);
    {
      await using connected = await connectSandbox(target, owner.id);
      expect(connected.created).toBe(false);
      expect(await connected.processes.list()).toEqual([]);
    }
    expect(await existing()).toContain(owner.id);
    await owner.delete();
    await owner.delete();
    expect(await existing()).not.toContain(owner.id);
  });
});
