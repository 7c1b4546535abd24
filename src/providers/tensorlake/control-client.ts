// Tensorlake's sandbox lifecycle API (specs/tensorlake-control.yaml): create, list,
// read and delete sandboxes of a namespace, with the API key as a Bearer token as
// Tensorlake's SDK sends it, on the same transport as the process clients.
import type { components, paths } from '../../../generated/tensorlake-control.js';
import { operations } from '../../../generated/tensorlake-control.operations.js';
import { listIn } from '../../core/decode.js';
import type { ClientOptions, RequestOptions } from '../../core/options.js';
import { createTransport } from '../../core/transport.js';

type Schemas = components['schemas'];
/** The body of createSandbox: resources (required), and optional image, timeout, name, network, entrypoint. */
export type TensorlakeCreateSandboxRequest = Schemas['CreateSandboxRequest'];
/** The answer to createSandbox: the new sandbox's ID and status (and `sandbox_url` where the service gives one). */
export type TensorlakeSandboxCreated = Schemas['CreateSandboxResponse'];
/** The body of updateSandbox: each field optional, an absent one left as it is (the emulator honours `name` only). */
export type TensorlakeUpdateSandboxRequest = Schemas['UpdateSandboxRequest'];
/** A sandbox as the control plane describes it. */
export type TensorlakeSandboxInfo = Schemas['SandboxInfo'];

/** Tensorlake's API: the SDKs' default control plane. */
export const TENSORLAKE_CONTROL_PLANE_URL = 'https://api.tensorlake.ai';

/** The options of createTensorlakeControlClient: `baseUrl` defaults to TENSORLAKE_CONTROL_PLANE_URL, `namespace` to `default` (the SDK's INDEXIFY_NAMESPACE default). */
export interface TensorlakeControlClientOptions extends Omit<ClientOptions, 'sandbox'> {
  /** The namespace its calls go to. Default `default`. */
  namespace?: string;
}

/**
 * Tensorlake's sandbox lifecycle API, for one namespace. Every call rejects with a
 * SandboxProcsError subclass (NotFoundError for an unknown sandbox, ...); the key is never in one.
 */
export interface TensorlakeControlClient {
  /** Always `'tensorlake'`. */
  readonly provider: 'tensorlake';
  /** Where it sends requests. */
  readonly baseUrl: string;
  /** The namespace its calls go to. */
  readonly namespace: string;
  /** Creates a sandbox. Not retried unless `retryNonIdempotent`. */
  createSandbox(request: TensorlakeCreateSandboxRequest, options?: RequestOptions): Promise<TensorlakeSandboxCreated>;
  /** The namespace's sandboxes. */
  listSandboxes(options?: RequestOptions): Promise<TensorlakeSandboxInfo[]>;
  /** By ID or name. */
  getSandbox(sandboxId: string, options?: RequestOptions): Promise<TensorlakeSandboxInfo>;
  /** Renames it (naming an ephemeral sandbox lets it be suspended), or changes its proxy access, exposed ports or network; answers the sandbox as it now is. */
  updateSandbox(sandboxId: string, request: TensorlakeUpdateSandboxRequest, options?: RequestOptions): Promise<TensorlakeSandboxInfo>;
  /** Terminates the sandbox and everything in it. */
  deleteSandbox(sandboxId: string, options?: RequestOptions): Promise<void>;
  /** Freezes every process of a named sandbox where it is (status suspended); an unnamed one cannot be suspended. */
  suspendSandbox(sandboxId: string, options?: RequestOptions): Promise<void>;
  /** Lets a suspended sandbox's processes go on (status running). */
  resumeSandbox(sandboxId: string, options?: RequestOptions): Promise<void>;
  /** Closes its connection pool. */
  close(): Promise<void>;
  /** The same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a client of Tensorlake's control plane. Nothing is sent until the first call; an invalid option throws ValidationError. */
export function createTensorlakeControlClient(options: TensorlakeControlClientOptions): TensorlakeControlClient {
  const { namespace = 'default', ...rest } = options;
  const resolved = { ...rest, baseUrl: rest.baseUrl ?? TENSORLAKE_CONTROL_PLANE_URL };
  const { api, call, close } = createTransport<paths, typeof operations>('tensorlake', operations, resolved, () => resolved.baseUrl);
  const inNamespace = { path: { namespace } };
  const at = (sandbox_id: string) => ({ path: { namespace, sandbox_id } });
  const one = '/v1/namespaces/{namespace}/sandboxes/{sandbox_id}' as const;
  return {
    provider: 'tensorlake',
    baseUrl: resolved.baseUrl.replace(/\/+$/, ''),
    namespace,
    createSandbox: (body, o) =>
      call('sandbox_create', { ...inNamespace, body }, (init) => api.POST('/v1/namespaces/{namespace}/sandboxes', { params: inNamespace, body, ...init }), o),
    listSandboxes: async (o) => {
      const list = await call<unknown>('sandbox_list', inNamespace, (init) => api.GET('/v1/namespaces/{namespace}/sandboxes', { params: inNamespace, ...init }), o);
      return listIn<TensorlakeSandboxInfo>(list, 'sandboxes', { provider: 'tensorlake', operation: 'sandbox_list' });
    },
    getSandbox: (id, o) => call('sandbox_get', at(id), (init) => api.GET(one, { params: at(id), ...init }), o),
    updateSandbox: (id, body, o) => call('sandbox_update', { ...at(id), body }, (init) => api.PATCH(one, { params: at(id), body, ...init }), o),
    deleteSandbox: async (id, o) => {
      await call('sandbox_delete', at(id), (init) => api.DELETE(one, { params: at(id), ...init }), o);
    },
    suspendSandbox: async (id, o) => {
      await call('sandbox_suspend', at(id), (init) => api.POST(`${one}/suspend`, { params: at(id), ...init }), o);
    },
    resumeSandbox: async (id, o) => {
      await call('sandbox_resume', at(id), (init) => api.POST(`${one}/resume`, { params: at(id), ...init }), o);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
