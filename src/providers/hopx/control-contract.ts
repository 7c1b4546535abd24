// The contract scenarios of HopX's control plane (specs/hopx-control.yaml): one
// per operation and declared status that a server can be brought to answer, sent
// raw with the API key in X-API-Key as the official SDK sends it. The 429 (a full
// emulator) and 503 (one that is stopping) are left out: nothing provokes them on purpose.
import { controlScenario, type ControlPlaneContract, type RawRequest, type Scenario } from '../../contract/scenario.js';

const UNKNOWN_SANDBOX = 'sbx_000000000000';
const CREATE = { template_name: 'code-interpreter' };

const scenario = (operation: string, status: number, raw: RawRequest, extra: Partial<Scenario> = {}): Scenario => controlScenario('hopx', operation, status, raw, extra);

const withSandbox = { fixture: 'sandbox' as const };
const unknown = { input: { sandbox_id: UNKNOWN_SANDBOX } };
const one = '/v1/sandboxes/{sandbox_id}';

const scenarios: Scenario[] = [
  scenario('createSandbox', 201, { method: 'POST', path: '/v1/sandboxes', body: CREATE }),
  scenario('createSandbox', 400, { method: 'POST', path: '/v1/sandboxes', body: { region: 'local' } }),
  scenario('createSandbox', 401, { method: 'POST', path: '/v1/sandboxes', body: CREATE }),
  scenario('listSandboxes', 200, { method: 'GET', path: '/v1/sandboxes?limit=100' }, withSandbox),
  scenario('listSandboxes', 400, { method: 'GET', path: '/v1/sandboxes?limit=0' }),
  scenario('listSandboxes', 401, { method: 'GET', path: '/v1/sandboxes' }),
  scenario('getSandbox', 200, { method: 'GET', path: one }, withSandbox),
  scenario('getSandbox', 401, { method: 'GET', path: one }, unknown),
  scenario('getSandbox', 404, { method: 'GET', path: one }, unknown),
  scenario('getApiHealth', 200, { method: 'GET', path: '/health' }),
  scenario('deleteSandbox', 200, { method: 'DELETE', path: one }, withSandbox),
  scenario('deleteSandbox', 401, { method: 'DELETE', path: one }, unknown),
  scenario('deleteSandbox', 404, { method: 'DELETE', path: one }, unknown),
  // Resuming needs a paused sandbox and starting a stopped one (403 from the other); pausing needs one that is not stopped.
  ...(['pause', 'stop'] as const).map((action) => scenario(`${action}Sandbox`, 200, { method: 'POST', path: `${one}/${action}` }, withSandbox)),
  scenario('resumeSandbox', 403, { method: 'POST', path: `${one}/resume` }, { fixture: 'stoppedSandbox' }),
  scenario('startSandbox', 403, { method: 'POST', path: `${one}/start` }, { fixture: 'pausedSandbox' }),
  scenario('resumeSandbox', 200, { method: 'POST', path: `${one}/resume` }, { fixture: 'pausedSandbox' }),
  scenario('startSandbox', 200, { method: 'POST', path: `${one}/start` }, { fixture: 'stoppedSandbox' }),
  scenario('pauseSandbox', 403, { method: 'POST', path: `${one}/pause` }, { fixture: 'stoppedSandbox' }),
  ...(['pause', 'resume', 'start', 'stop'] as const).flatMap((action) => [
    scenario(`${action}Sandbox`, 401, { method: 'POST', path: `${one}/${action}` }, unknown),
    scenario(`${action}Sandbox`, 404, { method: 'POST', path: `${one}/${action}` }, unknown),
  ]),
  scenario('setSandboxTimeout', 200, { method: 'PUT', path: `${one}/timeout`, body: { timeout_seconds: 600 } }, withSandbox),
  scenario('setSandboxTimeout', 400, { method: 'PUT', path: `${one}/timeout`, body: { timeout_seconds: 0 } }, withSandbox),
  scenario('setSandboxTimeout', 401, { method: 'PUT', path: `${one}/timeout`, body: { timeout_seconds: 600 } }, unknown),
  scenario('setSandboxTimeout', 404, { method: 'PUT', path: `${one}/timeout`, body: { timeout_seconds: 600 } }, unknown),
  scenario('refreshSandboxToken', 200, { method: 'POST', path: `${one}/token/refresh` }, withSandbox),
  scenario('refreshSandboxToken', 401, { method: 'POST', path: `${one}/token/refresh` }, unknown),
  scenario('refreshSandboxToken', 404, { method: 'POST', path: `${one}/token/refresh` }, unknown),
];

const authHeaders = (apiKey: string) => ({ 'X-API-Key': apiKey });

/** A new sandbox, running, or paused or stopped by `action`. */
async function createSandbox(baseUrl: string, apiKey: string, action?: 'pause' | 'stop'): Promise<{ sandbox_id: string }> {
  const response = await fetch(`${baseUrl}/v1/sandboxes`, {
    method: 'POST',
    headers: { ...authHeaders(apiKey), 'content-type': 'application/json' },
    body: JSON.stringify(CREATE),
    signal: AbortSignal.timeout(15_000),
  });
  if (response.status !== 201) throw new Error(`creating a sandbox answered ${response.status}`);
  const { sandbox_id } = (await response.json()) as { sandbox_id: string };
  if (action) {
    const moved = await fetch(`${baseUrl}/v1/sandboxes/${sandbox_id}/${action}`, { method: 'POST', headers: authHeaders(apiKey), signal: AbortSignal.timeout(15_000) });
    if (moved.status !== 200) throw new Error(`${action} of a new sandbox answered ${moved.status}`);
  }
  return { sandbox_id };
}

export const hopxControlContract: ControlPlaneContract = {
  provider: 'hopx',
  authHeaders,
  scenarios,
  fixtures: {
    sandbox: createSandbox,
    pausedSandbox: (baseUrl, apiKey) => createSandbox(baseUrl, apiKey, 'pause'),
    stoppedSandbox: (baseUrl, apiKey) => createSandbox(baseUrl, apiKey, 'stop'),
  },
  startedIds: (operation, body) => {
    const id = (body as { sandbox_id?: unknown } | null)?.sandbox_id;
    return (operation === 'createSandbox' || operation === 'fixture') && typeof id === 'string' ? [id] : [];
  },
  cleanup: async (baseUrl, apiKey, ids) => {
    await Promise.allSettled(ids.map((id) => fetch(`${baseUrl}/v1/sandboxes/${encodeURIComponent(id)}`, { method: 'DELETE', headers: authHeaders(apiKey), signal: AbortSignal.timeout(15_000) })));
  },
};
