// HopX's control plane (specs/hopx-control.yaml): create, list, read and delete
// sandboxes, and hand out each sandbox's agent token. Each sandbox is a HopX
// process-API emulator of its own (own port, working directory, processes and
// token), which its `public_host` names; deleting it stops everything in it.
// Auth is what the SDK sends: the API key in X-API-Key (dist/index.js:287-293).
import { randomBytes } from 'node:crypto';
import { operations } from '../../../../generated/hopx-control.operations.js';
import type { EmulatorOptions } from '../../../emulator/emulator.js';
import { claimInstance } from '../../../emulator/instance.js';
import { newInstanceId } from '../../../emulator/reaper.js';
import type { Handler } from '../../../emulator/http.js';
import { createSandboxRegistry, type HopxSandbox } from './sandboxes.js';
import { serveControlPlane, type RunningControlPlane } from '../../../emulator/control-plane.js';

const errorBody = (message: string, code: string | undefined, requestId: string) => ({ message, ...(code ? { code } : {}), request_id: requestId });

function info(sandbox: HopxSandbox) {
  return {
    id: sandbox.id,
    sandbox_id: sandbox.id,
    ...(sandbox.templateName !== undefined ? { template_name: sandbox.templateName } : {}),
    ...(sandbox.templateId !== undefined ? { template_id: sandbox.templateId } : {}),
    organization_id: 0,
    node_id: 'local',
    region: sandbox.region,
    status: 'running' as const,
    public_host: sandbox.emulator.baseUrl,
    direct_url: sandbox.emulator.baseUrl,
    internet_access: sandbox.internetAccess,
    live_mode: false,
    timeout_seconds: sandbox.timeoutSeconds,
    expires_at: sandbox.expiresAt === null ? null : new Date(sandbox.expiresAt).toISOString(),
    created_at: new Date(sandbox.createdAt).toISOString(),
    started_at: new Date(sandbox.createdAt).toISOString(),
  };
}

const agentToken = (sandbox: HopxSandbox) => sandbox.tokens.issue(sandbox.id);

/** HopX's control plane, running: with the count of each sandbox's token refreshes. */
export interface RunningHopxControlPlane extends RunningControlPlane {
  /** How many times the sandbox's agent token was refreshed; 0 for a sandbox it does not know. */
  tokenRefreshes(sandboxId: string): number;
}

export async function startControlPlane(options: EmulatorOptions): Promise<RunningHopxControlPlane> {
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && !(Number.isFinite(ttl) && ttl > 0)) throw new RangeError('tokenTtlSeconds must be a positive number');
  const token = options.token ?? `hopx_${randomBytes(16).toString('hex')}`;
  const id = newInstanceId();
  // Each sandbox's emulator ends its own children on exit and on signals; this one only has its directory.
  const instance = await claimInstance(id, 'hopx-control');
  // Each sandbox gets the caller's limits; its port and token are its own, its signals ours (below).
  const { port: _port, token: _token, handleSignals: _signals, ...sandboxOptions } = options;
  const sandboxes = createSandboxRegistry(sandboxOptions);
  const notFound = (reply: Parameters<Handler>[1], sandboxId: unknown) => reply.error(404, `sandbox ${String(sandboxId)} not found`, 'SANDBOX_NOT_FOUND');

  const handlers: Record<string, Handler> = {
    createSandbox: async (request, reply) => {
      const body = request.json as { template_name?: string; template_id?: string; region?: string; timeout_seconds?: number; internet_access?: boolean };
      const created = await sandboxes.create({
        templateName: body.template_name,
        templateId: body.template_id,
        region: body.region ?? 'local',
        timeoutSeconds: body.timeout_seconds ?? null,
        internetAccess: body.internet_access ?? true,
      });
      if (created === 'full') return reply.error(429, `at most ${sandboxes.max} sandboxes at once: delete one first`, 'RATE_LIMITED', { 'retry-after': '1' });
      if (created === 'stopping') return reply.error(503, 'the control plane is stopping', 'SERVICE_UNAVAILABLE');
      reply.json(201, { ...info(created), ...agentToken(created) });
    },
    listSandboxes: (request, reply) => {
      const { status, region, cursor } = Object.fromEntries(request.query) as Record<string, string | undefined>;
      const limit = Number(request.query.get('limit') ?? 100);
      // All are running: a status filter other than running matches none.
      const matching = sandboxes.list().filter((s) => (status === undefined || status === 'running') && (region === undefined || s.region === region));
      const from = cursor === undefined ? 0 : matching.findIndex((s) => s.id === cursor) + 1;
      const page = matching.slice(from, from + limit);
      const hasMore = from + limit < matching.length;
      reply.json(200, { data: page.map(info), has_more: hasMore, next_cursor: hasMore ? page[page.length - 1]!.id : null });
    },
    getSandbox: (request, reply) => {
      const sandbox = sandboxes.get(String(request.params.sandbox_id));
      if (!sandbox) return notFound(reply, request.params.sandbox_id);
      reply.json(200, info(sandbox));
    },
    deleteSandbox: async (request, reply) => {
      const deleted = await sandboxes.delete(String(request.params.sandbox_id));
      if (!deleted) return notFound(reply, request.params.sandbox_id);
      reply.empty(204);
    },
    refreshSandboxToken: (request, reply) => {
      const sandbox = sandboxes.get(String(request.params.sandbox_id));
      if (!sandbox) return notFound(reply, request.params.sandbox_id);
      sandbox.tokenRefreshes++;
      reply.json(200, agentToken(sandbox));
    },
  };

  return serveControlPlane({
    provider: 'hopx',
    id,
    token,
    instance,
    sandboxes,
    options,
    serve: { operations, handlers, errorBody, token, tokenHeader: 'X-API-Key' },
    describe: (baseUrl) => ({
      // What the SDK reads: HOPX_API_KEY from the environment (or the apiKey option);
      // the base URL only as the baseURL option of create / connect / list (it reads no variable for it).
      settings: { HOPX_API_KEY: token, baseURL: baseUrl },
      // HOPX_BASE_URL is no SDK variable: our examples read it and pass it as the baseURL option.
      env: { HOPX_API_KEY: token, HOPX_BASE_URL: baseUrl },
      tokenRefreshes: (sandboxId: string) => sandboxes.get(sandboxId)?.tokenRefreshes ?? 0,
    }),
  });
}
