// Prism is a real child process: it answers once started, and it never outlives
// its owner, whether the owner stops it, exits on an error, or is killed outright.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startPrism } from '../src/prism.js';
import { specPath } from '../src/specs.js';
import { isAlive, waitFor } from './support/processes.js';

const fixture = join(import.meta.dirname, 'fixtures', 'hold-prism.mjs');

async function holdPrism(mode: 'wait' | 'throw') {
  const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const { pid, baseUrl } = JSON.parse(line.toString()) as { pid: number; baseUrl: string };
  return { child, pid, baseUrl };
}

describe('startPrism', () => {
  it('serves the spec on a loopback port until stopped', async () => {
    const server = await startPrism(specPath('tensorlake'));
    try {
      expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${server.baseUrl}/api/v1/processes/42`, {
        method: 'DELETE',
        headers: { Authorization: 'Bearer x', Prefer: 'code=404' },
      });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'process not found', code: 'NOT_FOUND' });
      expect(isAlive(server.pid)).toBe(true);
    } finally {
      await server.stop();
    }
    expect(await waitFor(() => !isAlive(server.pid), 5_000)).toBe(true);
    await expect(fetch(server.baseUrl)).rejects.toThrow();
  });

  it('fails with Prism\'s own words when the spec cannot be served', async () => {
    await expect(startPrism(join(import.meta.dirname, 'fixtures', 'no-such-spec.yaml'), { readyTimeoutMs: 20_000 })).rejects.toThrow(
      /Prism exited before it was ready/,
    );
  });

  it('dies with its owner when the owner is SIGKILLed', async () => {
    const { child, pid, baseUrl } = await holdPrism('wait');
    expect((await fetch(`${baseUrl}/api/v1/processes/1`, { method: 'DELETE', headers: { Authorization: 'Bearer x' } })).status).toBe(204);
    child.kill('SIGKILL');
    expect(await waitFor(() => !isAlive(pid), 10_000)).toBe(true);
  });

  it('dies with its owner when the owner exits on an uncaught error', async () => {
    const { child, pid } = await holdPrism('throw');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(await waitFor(() => !isAlive(pid), 10_000)).toBe(true);
  });
});
