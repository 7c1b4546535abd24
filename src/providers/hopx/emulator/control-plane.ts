// HopX's control plane (specs/hopx-control.yaml, after HopX's openapi_public.json):
// create, list, read, delete, pause, resume, stop and start sandboxes, set their
// timeout, and hand out each sandbox's agent token. Each sandbox is a HopX
// process-API emulator of its own (own port, working directory, processes and
// token), which its `public_host` names; deleting it stops everything in it.
// Auth is what the SDK sends: the API key in X-API-Key (dist/index.js:287-293);
// GET /health takes none.
import { randomBytes } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { operations } from '../../../../generated/hopx-control.operations.js';
import type { EmulatorOptions, SandboxState } from '../../../emulator/emulator.js';
import { claimInstance } from '../../../emulator/instance.js';
import { newInstanceId } from '../../../emulator/reaper.js';
import type { Handler } from '../../../emulator/http.js';
import { createSandboxRegistry, type HopxSandbox } from './sandboxes.js';
import { serveControlPlane, type RunningControlPlane } from '../../../emulator/control-plane.js';

const errorBody = (message: string, code: string | undefined, requestId: string) => ({ message, ...(code ? { code } : {}), request_id: requestId });

const MIB = 1024 * 1024;

/**
 * What applies to the sandbox: the cgroup's caps where they are in force, else the
 * host's CPUs and memory; the disk is the filesystem its files are on (disk_gb is not enforced).
 */
function resources(sandbox: HopxSandbox) {
  const limits = sandbox.emulator.isolation.limits;
  let diskMb = 0;
  try {
    const fs = statfsSync(sandbox.emulator.workdir);
    diskMb = Math.floor((fs.blocks * fs.bsize) / MIB);
  } catch {
    // removed meanwhile (the sandbox is being deleted)
  }
  return {
    vcpu: limits?.cpus !== undefined ? Math.ceil(limits.cpus) : availableParallelism(),
    memory_mb: limits?.memoryBytes !== undefined ? Math.floor(limits.memoryBytes / MIB) : Math.floor(totalmem() / MIB),
    disk_mb: diskMb,
  };
}

function info(sandbox: HopxSandbox) {
  return {
    id: sandbox.id,
    sandbox_id: sandbox.id,
    ...(sandbox.templateName !== undefined ? { template_name: sandbox.templateName } : {}),
    ...(sandbox.templateId !== undefined ? { template_id: sandbox.templateId } : {}),
    organization_id: 0,
    node_id: 'local',
    region: sandbox.region,
    status: sandbox.emulator.state,
    resources: resources(sandbox),
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

  /** A state change: 200 when the sandbox is already there, 403 INVALID_STATE from a state it cannot come from (inferred, see the spec). */
  const transition =
    ({ to, from }: { to: SandboxState; from: SandboxState[] }): Handler =>
    async (request, reply) => {
      const sandbox = sandboxes.get(String(request.params.sandbox_id));
      if (!sandbox) return notFound(reply, request.params.sandbox_id);
      const state = sandbox.emulator.state;
      if (state !== to && !from.includes(state)) return reply.error(403, `sandbox ${sandbox.id} is ${state}: it cannot become ${to}`, 'INVALID_STATE');
      await sandbox.emulator.setState(to);
      reply.json(200, info(sandbox));
    };

  const handlers: Record<string, Handler> = {
    createSandbox: async (request, reply) => {
      const body = request.json as { template_name?: string; template_id?: string; region?: string; timeout_seconds?: number; internet_access?: boolean; memory_mb?: number };
      const created = await sandboxes.create({
        templateName: body.template_name,
        templateId: body.template_id,
        region: body.region ?? 'local',
        timeoutSeconds: body.timeout_seconds ?? null,
        internetAccess: body.internet_access ?? true,
        memoryMb: body.memory_mb,
      });
      if (created === 'full') return reply.error(429, `at most ${sandboxes.max} sandboxes at once: delete one first`, 'RATE_LIMITED', { 'retry-after': '1' });
      if (created === 'stopping') return reply.error(503, 'the control plane is stopping', 'SERVICE_UNAVAILABLE');
      reply.json(201, { ...info(created), ...agentToken(created) });
    },
    listSandboxes: (request, reply) => {
      const { status, region, cursor } = Object.fromEntries(request.query) as Record<string, string | undefined>;
      const limit = Number(request.query.get('limit') ?? 100);
      // All are running: a status filter other than running matches none.
      const matching = sandboxes.list().filter((s) => (status === undefined || s.emulator.state === status) && (region === undefined || s.region === region));
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
      const id = String(request.params.sandbox_id);
      const deleted = await sandboxes.delete(id);
      if (!deleted) return notFound(reply, id);
      // A JSON object, as openapi_public.json says: the Python SDK parses every 2xx body as JSON.
      reply.json(200, { id, status: 'deleted', message: `sandbox ${id} deleted` });
    },
    pauseSandbox: transition({ to: 'paused', from: ['running'] }),
    resumeSandbox: transition({ to: 'running', from: ['paused'] }),
    stopSandbox: transition({ to: 'stopped', from: ['running', 'paused'] }),
    startSandbox: transition({ to: 'running', from: ['stopped'] }),
    setSandboxTimeout: (request, reply) => {
      const id = String(request.params.sandbox_id);
      const { timeout_seconds: seconds } = request.json as { timeout_seconds: number };
      if (!sandboxes.setTimeout(id, seconds)) return notFound(reply, id);
      reply.json(200, info(sandboxes.get(id)!));
    },
    getApiHealth: (_request, reply) => reply.json(200, { status: 'ok' }),
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
    serve: { operations, handlers, errorBody, token, tokenHeader: 'X-API-Key', publicOperations: new Set(['getApiHealth']) },
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
