// HopX's control plane (specs/hopx-control.yaml): create, list, read, delete,
// pause, resume, stop and start sandboxes, set their timeout, and refresh their agent tokens, with the account's API key in X-API-Key
// as HopX's SDK sends it, on the same transport as the process clients.
import type { components, paths } from '../../../generated/hopx-control.js';
import { operations } from '../../../generated/hopx-control.operations.js';
import type { ClientOptions, RequestOptions } from '../../core/options.js';
import { createTransport } from '../../core/transport.js';

type Schemas = components['schemas'];
/** The body of createSandbox: a template (by name or ID), and optional region, timeout, internet access and environment. */
export type HopxCreateSandboxRequest = Schemas['CreateSandboxRequest'];
/** A sandbox as the control plane describes it; a create answer also carries its first agent token. */
export type HopxSandboxInfo = Schemas['SandboxInfo'];
/** One page of listSandboxes. */
export type HopxSandboxList = Schemas['SandboxList'];
/** The filters and paging of listSandboxes. */
export type HopxListSandboxesQuery = {
  /** Page size (the SDK sends 100). */
  limit?: number;
  /** Only sandboxes in this state. */
  status?: HopxSandboxInfo['status'];
  /** Only sandboxes in this region. */
  region?: string;
  /** The `next_cursor` of the page before. */
  cursor?: string;
};
/** An agent token and when it expires (RFC 3339). */
export type HopxAgentToken = Schemas['AgentToken'];

/** HopX's public API: the SDKs' default control plane. */
export const HOPX_CONTROL_PLANE_URL = 'https://api.hopx.dev';

/** The options of createHopxControlClient: those every client takes; `baseUrl` defaults to HOPX_CONTROL_PLANE_URL. */
export type HopxControlClientOptions = Omit<ClientOptions, 'sandbox'>;

/**
 * HopX's sandbox lifecycle API. Every call rejects with a SandboxProcsError subclass
 * (NotFoundError for an unknown sandbox, AuthenticationError for a wrong key, ...);
 * the key is never in one.
 */
export interface HopxControlClient {
  /** Always `'hopx'`. */
  readonly provider: 'hopx';
  /** Where it sends requests. */
  readonly baseUrl: string;
  /** Creates a sandbox and answers once it runs, with its first agent token. Not retried unless `retryNonIdempotent`. */
  createSandbox(request: HopxCreateSandboxRequest, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** One page of the account's sandboxes (`next_cursor` for the next). */
  listSandboxes(query?: HopxListSandboxesQuery, options?: RequestOptions): Promise<HopxSandboxList>;
  /** The sandbox's description, `public_host` included; NotFoundError when there is none. */
  getSandbox(sandboxId: string, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** Deletes the sandbox and everything in it. */
  deleteSandbox(sandboxId: string, options?: RequestOptions): Promise<void>;
  /** Freezes every process of the sandbox where it is (status paused); answers the sandbox as it now is. */
  pauseSandbox(sandboxId: string, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** Lets a paused sandbox's processes go on (status running). */
  resumeSandbox(sandboxId: string, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** Ends every process of the sandbox, keeping its files (status stopped). */
  stopSandbox(sandboxId: string, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** Serves a stopped sandbox again (status running). */
  startSandbox(sandboxId: string, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** Deletes the sandbox `timeoutSeconds` from now, whatever timeout it had. */
  setSandboxTimeout(sandboxId: string, timeoutSeconds: number, options?: RequestOptions): Promise<HopxSandboxInfo>;
  /** A fresh agent token for the sandbox (a POST, but as safe to repeat as a read: retried). */
  refreshSandboxToken(sandboxId: string, options?: RequestOptions): Promise<HopxAgentToken>;
  /** Closes its connection pool. */
  close(): Promise<void>;
  /** The same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a client of HopX's control plane. Nothing is sent until the first call; an invalid option throws ValidationError. */
export function createHopxControlClient(options: HopxControlClientOptions): HopxControlClient {
  const resolved = { ...options, baseUrl: options.baseUrl ?? HOPX_CONTROL_PLANE_URL };
  const { api, call, close } = createTransport<paths, typeof operations>('hopx', operations, resolved, () => resolved.baseUrl, new Set(['refreshSandboxToken']), {
    header: 'X-API-Key',
  });
  const at = (sandbox_id: string) => ({ path: { sandbox_id } });
  return {
    provider: 'hopx',
    baseUrl: resolved.baseUrl.replace(/\/+$/, ''),
    createSandbox: (body, o) => call('createSandbox', { body }, (init) => api.POST('/v1/sandboxes', { body, ...init }), o),
    listSandboxes: (query = {}, o) => call('listSandboxes', { query }, (init) => api.GET('/v1/sandboxes', { params: { query }, ...init }), o),
    getSandbox: (id, o) => call('getSandbox', at(id), (init) => api.GET('/v1/sandboxes/{sandbox_id}', { params: at(id), ...init }), o),
    deleteSandbox: async (id, o) => {
      await call('deleteSandbox', at(id), (init) => api.DELETE('/v1/sandboxes/{sandbox_id}', { params: at(id), ...init }), o);
    },
    pauseSandbox: (id, o) => call('pauseSandbox', at(id), (init) => api.POST('/v1/sandboxes/{sandbox_id}/pause', { params: at(id), ...init }), o),
    resumeSandbox: (id, o) => call('resumeSandbox', at(id), (init) => api.POST('/v1/sandboxes/{sandbox_id}/resume', { params: at(id), ...init }), o),
    stopSandbox: (id, o) => call('stopSandbox', at(id), (init) => api.POST('/v1/sandboxes/{sandbox_id}/stop', { params: at(id), ...init }), o),
    startSandbox: (id, o) => call('startSandbox', at(id), (init) => api.POST('/v1/sandboxes/{sandbox_id}/start', { params: at(id), ...init }), o),
    setSandboxTimeout: (id, timeoutSeconds, o) => {
      const body = { timeout_seconds: timeoutSeconds };
      return call('setSandboxTimeout', { ...at(id), body }, (init) => api.PUT('/v1/sandboxes/{sandbox_id}/timeout', { params: at(id), body, ...init }), o);
    },
    refreshSandboxToken: (id, o) =>
      call('refreshSandboxToken', at(id), (init) => api.POST('/v1/sandboxes/{sandbox_id}/token/refresh', { params: at(id), ...init }), o),
    close,
    [Symbol.asyncDispose]: close,
  };
}
