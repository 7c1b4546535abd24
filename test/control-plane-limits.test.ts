// Both control planes hold at most MAX_SANDBOXES sandboxes (each is a server, a
// supervisor and a working directory, so their number bounds the memory): one
// more is a 429 with Retry-After, and deleting one makes room again. Raw HTTP,
// as any client would send it.
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderName } from '../src/errors.js';
import { MAX_SANDBOXES } from '../src/emulator/sandboxes.js';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';

const owned: RunningControlPlane[] = [];
afterEach(async () => {
  await Promise.all(owned.splice(0).map((cp) => cp.stop()));
});

/** How each provider's lifecycle API creates and deletes a sandbox, and names it in the answer. */
const lifecycle: Record<ProviderName, { path: string; body: unknown; auth: (key: string) => Record<string, string>; id: (answer: any) => string }> = {
  hopx: { path: '/v1/sandboxes', body: { template_name: 'code-interpreter' }, auth: (key) => ({ 'x-api-key': key }), id: (a) => a.id },
  tensorlake: {
    path: '/v1/namespaces/default/sandboxes',
    body: { resources: { cpus: 1, memory_mb: 512 } },
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    id: (a) => a.sandbox_id,
  },
};

describe.each(['hopx', 'tensorlake'] as const)('%s control plane: the sandbox cap', (provider) => {
  it(`creates ${MAX_SANDBOXES}, refuses one more with 429 and Retry-After, and has room again after a delete`, async () => {
    const cp = await startEmulator(provider, { controlPlane: true, handleSignals: false });
    owned.push(cp);
    const { path, body, auth, id } = lifecycle[provider];
    const headers = { ...auth(cp.token), 'content-type': 'application/json' };
    const create = () => fetch(`${cp.baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });

    const answers = await Promise.all(Array.from({ length: MAX_SANDBOXES + 3 }, create));
    const statuses = answers.map((a) => a.status);
    const created = answers.filter((a) => a.status < 300);
    expect(created).toHaveLength(MAX_SANDBOXES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(refused.headers.get('retry-after')).toBe('1');
      await refused.body?.cancel();
    }

    const first = id(await created[0]!.json());
    for (const other of created.slice(1)) await other.body?.cancel();
    const deleted = await fetch(`${cp.baseUrl}${path}/${first}`, { method: 'DELETE', headers: auth(cp.token) });
    expect(deleted.status).toBeLessThan(300);
    const again = await create();
    expect(again.status).toBeLessThan(300);
    await again.body?.cancel();
  }, 60_000);
});
