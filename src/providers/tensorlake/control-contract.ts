// The contract scenarios of Tensorlake's control plane (specs/tensorlake-control.yaml):
// one per operation and declared status that a server can be brought to answer, sent
// raw with the API key as a Bearer token, as the official SDK sends it. The 429 (a full
// control plane), 503 (one that is stopping) and 504 (the cloud's gateway timing out on
// create) are left out: nothing provokes them on purpose.
import { controlScenario, type ControlPlaneContract, type RawRequest, type Scenario } from '../../contract/scenario.js';

// The namespace the SDK sends unless INDEXIFY_NAMESPACE says otherwise.
const SANDBOXES = '/v1/namespaces/default/sandboxes';
const one = `${SANDBOXES}/{sandbox_id}`;
const UNKNOWN_SANDBOX = 'k0000000000000000000z';
const CREATE = { resources: { cpus: 1, memory_mb: 1024 } };
// Names are unique per namespace: the 409 scenario asks for the name its fixture already took.
const TAKEN_NAME = 'sandbox-procs-contract-taken';
// Renaming a sandbox to a name another one holds: the 409 of PATCH (its fixture makes the holder).
const HELD_NAME = 'sandbox-procs-contract-held';

const scenario = (operation: string, status: number, raw: RawRequest, extra: Partial<Scenario> = {}): Scenario => controlScenario('tensorlake', operation, status, raw, extra);

const withSandbox = { fixture: 'sandbox' as const };
const unknown = { input: { sandbox_id: UNKNOWN_SANDBOX } };

const scenarios: Scenario[] = [
  scenario('sandbox_create', 200, { method: 'POST', path: SANDBOXES, body: CREATE }),
  scenario('sandbox_create', 400, { method: 'POST', path: SANDBOXES, body: { image: 'ubuntu' } }),
  scenario('sandbox_create', 401, { method: 'POST', path: SANDBOXES, body: CREATE }),
  scenario('sandbox_create', 409, { method: 'POST', path: SANDBOXES, body: { ...CREATE, name: TAKEN_NAME } }, { fixture: 'namedSandbox' }),
  scenario('sandbox_list', 200, { method: 'GET', path: SANDBOXES }, withSandbox),
  scenario('sandbox_list', 401, { method: 'GET', path: SANDBOXES }),
  scenario('sandbox_get', 200, { method: 'GET', path: one }, withSandbox),
  scenario('sandbox_get', 401, { method: 'GET', path: one }, unknown),
  scenario('sandbox_get', 404, { method: 'GET', path: one }, unknown),
  scenario('sandbox_delete', 200, { method: 'DELETE', path: one }, withSandbox),
  scenario('sandbox_delete', 401, { method: 'DELETE', path: one }, unknown),
  scenario('sandbox_delete', 404, { method: 'DELETE', path: one }, unknown),
  // Only a named sandbox can be suspended (400 for an ephemeral one); resuming a running one leaves it running.
  scenario('sandbox_suspend', 200, { method: 'POST', path: `${one}/suspend` }, { fixture: 'uniquelyNamedSandbox' }),
  scenario('sandbox_suspend', 400, { method: 'POST', path: `${one}/suspend` }, withSandbox),
  scenario('sandbox_suspend', 401, { method: 'POST', path: `${one}/suspend` }, unknown),
  scenario('sandbox_suspend', 404, { method: 'POST', path: `${one}/suspend` }, unknown),
  scenario('sandbox_resume', 200, { method: 'POST', path: `${one}/resume` }, { fixture: 'pausedSandbox' }),
  scenario('sandbox_resume', 401, { method: 'POST', path: `${one}/resume` }, unknown),
  scenario('sandbox_resume', 404, { method: 'POST', path: `${one}/resume` }, unknown),
  // PATCH: a new name is honoured; a name another sandbox holds is refused; proxy and firewall settings are not emulated (501).
  scenario('sandbox_update', 200, { method: 'PATCH', path: one, body: { name: 'sandbox-procs-contract-renamed' } }, withSandbox),
  scenario('sandbox_update', 400, { method: 'PATCH', path: one, body: { name: '' } }, withSandbox),
  scenario('sandbox_update', 401, { method: 'PATCH', path: one, body: { name: 'sandbox-procs-contract-renamed' } }, unknown),
  scenario('sandbox_update', 404, { method: 'PATCH', path: one, body: { name: 'sandbox-procs-contract-renamed' } }, unknown),
  scenario('sandbox_update', 409, { method: 'PATCH', path: one, body: { name: HELD_NAME } }, { fixture: 'sandboxBesideNamed' }),
  scenario('sandbox_update', 501, { method: 'PATCH', path: one, body: { exposed_ports: [8080] } }, withSandbox),
];

const authHeaders = (apiKey: string) => ({ Authorization: `Bearer ${apiKey}` });
const uniqueName = () => `sandbox-procs-contract-${Math.random().toString(36).slice(2, 10)}`;

async function createSandbox(baseUrl: string, apiKey: string, body: object): Promise<Record<string, string>> {
  const response = await fetch(`${baseUrl}${SANDBOXES}`, {
    method: 'POST',
    headers: { ...authHeaders(apiKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  if (response.status !== 200) throw new Error(`creating a sandbox answered ${response.status}`);
  return { sandbox_id: ((await response.json()) as { sandbox_id: string }).sandbox_id };
}

export const tensorlakeControlContract: ControlPlaneContract = {
  provider: 'tensorlake',
  authHeaders,
  scenarios,
  fixtures: {
    sandbox: (baseUrl, apiKey) => createSandbox(baseUrl, apiKey, CREATE),
    namedSandbox: (baseUrl, apiKey) => createSandbox(baseUrl, apiKey, { ...CREATE, name: TAKEN_NAME }),
    uniquelyNamedSandbox: (baseUrl, apiKey) => createSandbox(baseUrl, apiKey, { ...CREATE, name: uniqueName() }),
    // Two sandboxes: one named HELD_NAME (held_by, cleaned up with the other), and the one the scenario renames.
    sandboxBesideNamed: async (baseUrl, apiKey) => {
      const holder = await createSandbox(baseUrl, apiKey, { ...CREATE, name: HELD_NAME });
      return { ...(await createSandbox(baseUrl, apiKey, CREATE)), held_by: holder.sandbox_id! };
    },
    // Suspended: a named sandbox, then POST .../suspend.
    pausedSandbox: async (baseUrl, apiKey) => {
      const made = await createSandbox(baseUrl, apiKey, { ...CREATE, name: uniqueName() });
      const suspended = await fetch(`${baseUrl}${SANDBOXES}/${made.sandbox_id}/suspend`, { method: 'POST', headers: authHeaders(apiKey), signal: AbortSignal.timeout(15_000) });
      if (suspended.status !== 200) throw new Error(`suspending a new sandbox answered ${suspended.status}`);
      return made;
    },
  },
  startedIds: (operation, body) => {
    if (operation !== 'sandbox_create' && operation !== 'fixture') return [];
    const made = body as { sandbox_id?: unknown; held_by?: unknown } | null;
    return [made?.sandbox_id, made?.held_by].filter((id): id is string => typeof id === 'string');
  },
  cleanup: async (baseUrl, apiKey, ids) => {
    await Promise.allSettled(ids.map((id) => fetch(`${baseUrl}${SANDBOXES}/${encodeURIComponent(id)}`, { method: 'DELETE', headers: authHeaders(apiKey), signal: AbortSignal.timeout(15_000) })));
  },
};
