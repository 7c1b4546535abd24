// A Tensorlake sandbox reached from its ID (or name) and the API key, as
// Tensorlake's SDK reaches it: through the sandbox proxy named by an explicit proxy
// URL or the sandbox's `sandbox_url`, routed by `Host: <id>.local` on a loopback
// proxy and by `X-Tensorlake-Sandbox-Id` on any other (tensorlake 0.5.89
// dist/index.js resolveProxyTarget); else at its documented host.
import { ValidationError } from '../../errors.js';
import { createTensorlakeClient, tensorlakeSandboxHost, type TensorlakeClient, type TensorlakeClientOptions } from './client.js';
import { createTensorlakeControlClient, type TensorlakeControlClient, type TensorlakeSandboxInfo } from './control-client.js';

/** The options of connectTensorlakeSandbox. */
export interface TensorlakeConnectOptions extends Omit<TensorlakeClientOptions, 'baseUrl' | 'sandbox'> {
  /** The API key: the control plane and the sandbox proxy both take it. */
  apiKey: string;
  /** The sandbox's ID or name. */
  sandboxId: string;
  /** The control plane's URL. Default https://api.tensorlake.ai. */
  controlPlaneUrl?: string;
  /** The namespace. Default `default`. */
  namespace?: string;
  /** The sandbox proxy to go through (the SDK's TENSORLAKE_SANDBOX_PROXY_URL); else the sandbox's `sandbox_url`, else its documented host. */
  proxyUrl?: string;
  /** A control client to use (and leave open) instead of one of its own. */
  control?: TensorlakeControlClient;
}

/** A client of one Tensorlake sandbox's process API, reached by its ID. */
export interface TensorlakeSandboxClient extends TensorlakeClient {
  /** Its ID (also when it was found by name). */
  readonly sandboxId: string;
  /** Where requests go, and the routing header they carry (if any). */
  readonly route: TensorlakeRoute;
}

/** Where a sandbox's requests go. */
export interface TensorlakeRoute {
  /** The base URL of its process API (or of the proxy in front of it). */
  baseUrl: string;
  /** The headers that choose the sandbox at the proxy (`host` or `X-Tensorlake-Sandbox-Id`), if any. */
  headers: Record<string, string>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1']);

/** Where the SDK sends a sandbox's requests through `proxyUrl`. */
export function tensorlakeProxyRoute(proxyUrl: string, sandboxId: string): TensorlakeRoute {
  const url = new URL(proxyUrl);
  if (LOOPBACK.has(url.hostname)) return { baseUrl: proxyUrl.replace(/\/+$/, ''), headers: { host: `${sandboxId}.local` } };
  return { baseUrl: url.origin, headers: { 'X-Tensorlake-Sandbox-Id': sandboxId } };
}

/**
 * Connects to the Tensorlake sandbox `sandboxId` with the API key: reads it from the
 * control plane (so a missing sandbox fails here, with NotFoundError) and calls its
 * process API through the route the SDK would take. close() also closes the control
 * client it made.
 */
export async function connectTensorlakeSandbox(options: TensorlakeConnectOptions): Promise<TensorlakeSandboxClient> {
  const { sandboxId, controlPlaneUrl, namespace, proxyUrl, control: given, ...clientOptions } = options;
  if (typeof sandboxId !== 'string' || sandboxId === '') throw new ValidationError('sandboxId must be a non-empty string', { provider: 'tensorlake', operation: 'connect' });
  const { headers: _headers, ...transport } = clientOptions;
  const control =
    given ??
    createTensorlakeControlClient({
      ...transport,
      ...(controlPlaneUrl !== undefined && { baseUrl: controlPlaneUrl }),
      ...(namespace !== undefined && { namespace }),
    });
  try {
    const info: TensorlakeSandboxInfo = await control.getSandbox(sandboxId);
    const via = proxyUrl ?? info.sandbox_url ?? undefined;
    const route = via ? tensorlakeProxyRoute(via, info.sandbox_id) : { baseUrl: tensorlakeSandboxHost(info.sandbox_id), headers: {} };
    const client = createTensorlakeClient({ ...clientOptions, baseUrl: route.baseUrl, headers: { ...clientOptions.headers, ...route.headers } });
    const close = async () => {
      await client.close();
      if (!given) await control.close();
    };
    return { ...client, sandboxId: info.sandbox_id, route, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    if (!given) await control.close();
    throw error;
  }
}
