// Tensorlake's control plane: see ./index.ts. One server on 127.0.0.1 serves the
// lifecycle API (specs/tensorlake-control.yaml) and, for a request whose Host is
// `<sandbox id or name>.local` (what the official SDK sends on a loopback proxy URL,
// dist/index.js resolveProxyTarget), the sandbox proxy: forwarded to that sandbox's
// own process-API emulator.
//
// Auth, as the SDK does it: the API key for the lifecycle API and for every
// sandbox's proxy. Each sandbox has a token of its own too (its emulator's): the
// proxy accepts it for that sandbox only, so a token of one is refused by another.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { operations } from '../../../../generated/tensorlake-control.operations.js';
import type { components } from '../../../../generated/tensorlake-control.js';
import { RETRY_SOON, startProviderEmulator, type EmulatorOptions, type SandboxNetwork } from '../../../emulator/emulator.js';
import type { Handler } from '../../../emulator/http.js';
import { claimInstance } from '../../../emulator/instance.js';
import { newInstanceId } from '../../../emulator/reaper.js';
import { tensorlakeEmulator } from './daemon.js';
import { serveControlPlane, type RunningControlPlane } from '../../../emulator/control-plane.js';
import { forwardToSandbox, forwardUpgradeToSandbox } from './proxy.js';
import type { Duplex } from 'node:stream';
import { MAX_SANDBOXES } from '../../../emulator/sandboxes.js';
import { createEndedSandboxes, createSandboxRegistry, type Sandbox } from './sandboxes.js';

type Schemas = components['schemas'];

function limitsOf(request: Schemas['CreateSandboxRequest']): { memoryBytes?: number; cpus?: number } {
  const resources = request.resources;
  return {
    ...(resources?.memory_mb !== undefined && { memoryBytes: resources.memory_mb * 1024 * 1024 }),
    ...(resources?.cpus !== undefined && { cpus: resources.cpus }),
  };
}

/**
 * A confined sandbox's network, as the request asks (NetworkConfig.allow_internet_access
 * defaults to true: tensorlakeai/tensorlake crates/cloud-sdk/src/sandboxes/models.rs).
 * false means no network at all, as the CLI's `--no-internet` does (DNS included),
 * whatever allow_out says. The rules' meaning (egress-policy.ts applies it): each entry
 * an IP, a CIDR or a host name (crates/cli/src/main.rs, `--network-allow` /
 * `--network-deny`); a non-empty allow_out is an allowlist (crates/cli/src/commands/sbx/
 * mod.rs, build_network_config); allow wins over deny (tensorlakeai/indexify
 * proto/executor_api.proto, NetworkPolicy).
 */
function networkOf(request: Schemas['CreateSandboxRequest']): SandboxNetwork {
  const network = request.network;
  if (network?.allow_internet_access === false) return { internet: false };
  return { internet: true, allowOut: network?.allow_out ?? [], denyOut: network?.deny_out ?? [] };
}

/** The fields of a sandbox update that act on the cloud's proxy or the live VM's firewall, which the emulator does not emulate. */
const NOT_EMULATED_UPDATES = ['allow_unauthenticated_access', 'exposed_ports', 'network'] as const;

const LOCAL_HOST = /^([a-z0-9][a-z0-9_-]*)\.local(?::\d+)?$/i;

function errorBody(message: string, code: string | undefined): Schemas['ErrorBody'] {
  return { error: message, ...(code ? { code } : {}) };
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(errorBody(message, undefined)));
}

/** Tensorlake's control plane, with what each sandbox is underneath (for tests and for our own typed client). */
export interface TensorlakeControlPlane extends RunningControlPlane {
  /** The sandboxes that exist now: each one's process-API emulator, its own token and working directory. */
  sandboxes(): { id: string; name?: string; baseUrl: string; token: string; workdir: string }[];
}

export async function startControlPlane(options: EmulatorOptions): Promise<TensorlakeControlPlane> {
  const apiKey = options.token ?? `tl_${randomBytes(16).toString('hex')}`;
  const id = newInstanceId();
  // Each sandbox's emulator ends its own children on exit and on signals; this one only has its directory.
  const instance = await claimInstance(id, 'tensorlake-control');

  // Each sandbox is a process-API emulator of its own; its signals are ours to handle (below).
  const { handleSignals: _ignored, token: _apiKey, port: _port, ...perSandbox } = options;
  const timedOut = createEndedSandboxes();
  const sandboxes = createSandboxRegistry({
    // timeout_secs ran out: its processes end, and it reads as terminated (indexify: SandboxStatus::Terminated, outcome Timeout).
    onTimeout: (s) => timedOut.add({ ...info(s), status: 'terminated' }),
    // A confined sandbox gets the resources its request asked for as the kernel's caps (memory, CPUs), and its network.
    start: (request) =>
      startProviderEmulator(tensorlakeEmulator, {
        ...perSandbox,
        handleSignals: false,
        sandboxLimits: { ...perSandbox.sandboxLimits, ...limitsOf(request) },
        network: networkOf(request),
      }),
  });
  const info = (s: Sandbox): Schemas['SandboxInfo'] => ({
    sandbox_id: s.id,
    namespace: s.namespace,
    // The emulator's paused is Tensorlake's suspended (SandboxStatus, tensorlake 0.5.89 dist/index.js).
    status: s.emulator.state === 'paused' ? 'suspended' : 'running',
    image: s.request.image ?? null,
    resources: { cpus: s.request.resources.cpus, memory_mb: s.request.resources.memory_mb, ephemeral_disk_mb: s.request.resources.disk_mb ?? 0 },
    timeout_secs: s.request.timeout_secs ?? null,
    entrypoint: s.request.entrypoint ?? null,
    network: s.request.network ?? null,
    created_at: s.createdAt,
    name: s.request.name ?? null,
    allow_unauthenticated_access: false,
    // The emulator mounts no file system (SandboxInfo.file_systems, empty when none: cloud-sdk models.rs at cab38389).
    file_systems: [],
    // No sandbox_url: the SDK would prefer it to TENSORLAKE_SANDBOX_PROXY_URL, and
    // that variable is how a user (or a recording proxy) chooses the proxy.
    sandbox_url: null,
  });

  const handlers: Record<string, Handler> = {
    sandbox_create: async (request, reply) => {
      const body = request.json as Schemas['CreateSandboxRequest'];
      const namespace = String(request.params.namespace);
      if (body.name !== undefined && sandboxes.find(namespace, body.name)) return reply.error(409, `a sandbox named ${body.name} already exists`);
      const created = await sandboxes.create(namespace, body);
      if (created === 'full') return reply.error(429, `at most ${MAX_SANDBOXES} sandboxes may exist at once; terminate one first`, undefined, RETRY_SOON);
      if (created === 'stopping') return reply.error(503, 'the control plane is stopping');
      reply.json(200, {
        sandbox_id: created.id,
        status: 'running',
        ...(body.name !== undefined ? { name: body.name } : {}),
      } satisfies Schemas['CreateSandboxResponse']);
    },
    sandbox_list: (request, reply) => reply.json(200, { sandboxes: sandboxes.inNamespace(String(request.params.namespace)).map(info) }),
    sandbox_get: (request, reply) => {
      const namespace = String(request.params.namespace);
      const s = sandboxes.find(namespace, String(request.params.sandbox_id));
      if (s) return reply.json(200, info(s));
      // One whose timeout ran out reads as terminated for a while, as the server keeps a terminated sandbox.
      const ended = timedOut.find(namespace, String(request.params.sandbox_id));
      if (ended) return reply.json(200, ended);
      reply.error(404, `sandbox ${request.params.sandbox_id} not found`);
    },
    sandbox_suspend: async (request, reply) => {
      const s = sandboxes.find(String(request.params.namespace), String(request.params.sandbox_id));
      if (!s) return reply.error(404, `sandbox ${request.params.sandbox_id} not found`);
      if (s.request.name === undefined) return reply.error(400, `sandbox ${s.id} has no name: only a named sandbox can be suspended`);
      await s.emulator.setState('paused');
      reply.empty(200);
    },
    sandbox_resume: async (request, reply) => {
      const s = sandboxes.find(String(request.params.namespace), String(request.params.sandbox_id));
      if (!s) return reply.error(404, `sandbox ${request.params.sandbox_id} not found`);
      await s.emulator.setState('running');
      reply.empty(200);
    },
    // PATCH: the name is honoured; what changes the cloud's proxy or a live VM's firewall is refused whole, changing nothing.
    sandbox_update: (request, reply) => {
      const body = request.json as Schemas['UpdateSandboxRequest'];
      const namespace = String(request.params.namespace);
      const s = sandboxes.find(namespace, String(request.params.sandbox_id));
      if (!s) return reply.error(404, `sandbox ${request.params.sandbox_id} not found`);
      const notEmulated = NOT_EMULATED_UPDATES.filter((field) => body[field] !== undefined);
      if (notEmulated.length > 0) return reply.error(501, `sandbox_update: ${notEmulated.join(', ')} not emulated by sandbox-procs; nothing was changed`);
      if (body.name !== undefined) {
        const holder = sandboxes.find(namespace, body.name);
        if (holder && holder !== s) return reply.error(409, `a sandbox named ${body.name} already exists`);
        sandboxes.rename(s, body.name);
      }
      reply.json(200, info(s));
    },
    sandbox_delete: async (request, reply) => {
      const s = sandboxes.find(String(request.params.namespace), String(request.params.sandbox_id));
      if (!s) return reply.error(404, `sandbox ${request.params.sandbox_id} not found`);
      await sandboxes.remove(s);
      reply.empty(200);
    },
  };

  /**
   * The sandbox proxy: requests to `<sandbox>.local` (the SDK on a loopback proxy), or
   * with `X-Tensorlake-Sandbox-Id` (the SDK on any other proxy; a client that cannot
   * set Host, as Node's fetch, on this one).
   */
  const sandboxNamed = (req: IncomingMessage): string | undefined => {
    const header = req.headers['x-tensorlake-sandbox-id'];
    return LOCAL_HOST.exec(req.headers.host ?? '')?.[1] ?? (typeof header === 'string' && header !== '' ? header : undefined);
  };
  /** A PTY session's WebSocket through the proxy, with the same auth as every proxied request. */
  const divertUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const named = sandboxNamed(req);
    if (named === undefined) return false;
    const s = sandboxes.findAnywhere(named);
    const refuse = (status: number, message: string) => {
      const body = JSON.stringify(errorBody(message, undefined));
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Unauthorized'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (!s) refuse(404, `sandbox ${named} not found`);
    else if (req.headers.authorization !== `Bearer ${apiKey}` && req.headers.authorization !== `Bearer ${s.emulator.token}`) refuse(401, 'missing or invalid bearer token');
    else forwardUpgradeToSandbox(req, socket, head, s.emulator.baseUrl, s.emulator.token);
    return true;
  };

  const divert = (req: IncomingMessage, res: ServerResponse): boolean => {
    const named = sandboxNamed(req);
    if (named === undefined) return false;
    const s = sandboxes.findAnywhere(named);
    if (!s) {
      req.resume();
      sendError(res, 404, `sandbox ${named} not found`);
      return true;
    }
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${apiKey}` && auth !== `Bearer ${s.emulator.token}`) {
      req.resume();
      sendError(res, 401, 'missing or invalid bearer token');
      return true;
    }
    forwardToSandbox(req, res, s.emulator.baseUrl, s.emulator.token);
    return true;
  };

  return serveControlPlane({
    provider: 'tensorlake',
    id,
    token: apiKey,
    instance,
    sandboxes,
    options,
    serve: { operations, handlers, errorBody, divert, divertUpgrade, token: apiKey },
    describe: (baseUrl) => ({
      sandboxes: () =>
        sandboxes.all().map((x) => ({ id: x.id, ...(x.request.name !== undefined ? { name: x.request.name } : {}), baseUrl: x.emulator.baseUrl, token: x.emulator.token, workdir: x.emulator.workdir })),
      settings: { TENSORLAKE_API_URL: baseUrl, TENSORLAKE_SANDBOX_PROXY_URL: baseUrl, TENSORLAKE_API_KEY: apiKey },
      env: { TENSORLAKE_API_URL: baseUrl, TENSORLAKE_SANDBOX_PROXY_URL: baseUrl, TENSORLAKE_API_KEY: apiKey },
    }),
  });
}
