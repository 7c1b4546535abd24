// The provider-neutral sandbox handle against both emulators' control planes: a
// fresh sandbox in a few lines, a process run through `processes`, and `await using`
// deleting it on the way out (and only closing a sandbox it merely connected to).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import type { ProviderName } from '../src/errors.js';
import { connectSandbox, createSandbox, waitForExit, type SandboxTarget } from '../src/index.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileExamples, root, runExample } from './support/readme-examples.js';
import { sandboxesAt } from './support/control-planes.js';
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
  const existing = () => sandboxesAt(provider, { token: target.apiKey, baseUrl: controlPlane.baseUrl });

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

describe('examples/sandbox.ts', () => {
  it('runs as written against both control planes, with only the variables `emulate --control-plane` prints, and leaves no sandbox', async () => {
    const source = await readFile(join(root, 'examples', 'sandbox.ts'), 'utf8');
    const compiled = await compileExamples([source]);
    const planes = await Promise.all((['hopx', 'tensorlake'] as const).map((provider) => startEmulator(provider, { controlPlane: true, token: testKey(`${provider}-example`) })));
    try {
      expect(compiled.problems).toEqual([]);
      const run = await runExample(compiled.entry(1), Object.assign({}, ...planes.map((plane) => plane.env)) as Record<string, string>);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout.trim().split('\n')).toEqual(['hopx failed 3', 'tensorlake exited 3']);
      expect(await sandboxesAt('hopx', planes[0]!)).toEqual([]);
      expect(await sandboxesAt('tensorlake', planes[1]!)).toEqual([]);
    } finally {
      await Promise.all(planes.map((plane) => plane.stop()));
      await compiled.remove();
    }
  }, 120_000);
});
