// What every provider client shares: one openapi-fetch client with auth, a time
// limit on every call, input validation before sending, and one decoder that turns
// any response into a typed result or a typed error.
import createClient, { type Client } from 'openapi-fetch';
import {
  NetworkError,
  SandboxProcsError,
  TimeoutError,
  UnexpectedResponseError,
  ValidationError,
  errorClassForStatus,
  type ProviderName,
} from '../errors.js';
import type { OperationMeta, OperationTable, RequestInput } from './operation.js';
import { findRequestViolation } from './validate-input.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <apiKey>`; never logged, never put in an error. */
  apiKey: string;
  /** The sandbox's own base URL. Takes precedence over `sandbox`. */
  baseUrl?: string;
  /** The sandbox ID (or name), from which the provider's documented host is derived. */
  sandbox?: string;
  /** A fetch to use instead of the global one (e.g. with a keep-alive agent). */
  fetch?: (request: Request) => Promise<Response>;
  /** Time limit per call, headers and body included. Default 30 000 ms. */
  timeoutMs?: number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

/** What openapi-fetch returns with `parseAs: 'text'`. */
interface RawResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

export interface CallInit {
  signal: AbortSignal;
  parseAs: 'text';
}

export interface Transport<Paths extends {}, Ops extends OperationTable> {
  readonly api: Client<Paths>;
  /**
   * Validates `input` against the operation's spec, runs `send`, and decodes the
   * response: the parsed body of a declared success, else a typed error.
   */
  call<T>(operation: keyof Ops & string, input: RequestInput, send: (init: CallInit) => Promise<RawResult>): Promise<T>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const DNS_LABEL = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/i;

function resolveBaseUrl(provider: ProviderName, options: ClientOptions, hostFor: (sandbox: string) => string): string {
  const invalid = (message: string) => new ValidationError(message, { provider, operation: 'createClient' });
  if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw invalid('apiKey must be a non-empty string');
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw invalid('timeoutMs must be a positive number');
  }
  let raw = options.baseUrl;
  if (raw === undefined) {
    if (options.sandbox === undefined) throw invalid('give baseUrl or sandbox');
    if (!DNS_LABEL.test(options.sandbox)) throw invalid('sandbox must be a sandbox ID or name usable as a host label');
    raw = hostFor(options.sandbox);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('baseUrl must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('baseUrl must be an absolute http(s) URL');
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw invalid('refusing to send an API key over plain http:// to a non-loopback host; use https://');
  }
  if (url.username || url.password) throw invalid('baseUrl must not carry credentials');
  return url.href.replace(/\/+$/, '');
}

export function createTransport<Paths extends {}, Ops extends OperationTable>(
  provider: ProviderName,
  operations: Ops,
  options: ClientOptions,
  hostFor: (sandbox: string) => string,
): Transport<Paths, Ops> {
  const baseUrl = resolveBaseUrl(provider, options, hostFor);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const api = createClient<Paths>({
    baseUrl,
    fetch: options.fetch ?? ((request: Request) => globalThis.fetch(request)),
    headers: { ...options.headers, Authorization: `Bearer ${options.apiKey}` },
  });

  async function call<T>(operation: keyof Ops & string, input: RequestInput, send: (init: CallInit) => Promise<RawResult>): Promise<T> {
    const meta = operations[operation] as OperationMeta;
    const problem = findRequestViolation(meta, input);
    if (problem) throw new ValidationError(problem, { provider, operation });

    const signal = AbortSignal.timeout(timeoutMs);
    let raw: RawResult;
    try {
      raw = await send({ signal, parseAs: 'text' });
    } catch (cause) {
      if (cause instanceof SandboxProcsError) throw cause;
      if (signal.aborted) throw new TimeoutError(`no complete response within ${timeoutMs} ms`, { provider, operation, cause });
      throw new NetworkError(`request failed: ${describeCause(cause)}`, { provider, operation, cause });
    }
    return decode<T>(provider, operation, meta, raw, options.apiKey);
  }

  return { api, call };
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function field(body: unknown, name: string): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** A server may echo the request back; what we put in an error must not carry the key. */
function redact(value: unknown, secret: string): unknown {
  if (typeof value === 'string') return value.split(secret).join('[REDACTED]');
  if (Array.isArray(value)) return value.map((item) => redact(item, secret));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redact(item, secret)]));
  }
  return value;
}

function decode<T>(provider: ProviderName, operation: string, meta: OperationMeta, raw: RawResult, apiKey: string): T {
  const { response } = raw;
  const status = response.status;
  const requestId = response.headers.get('x-request-id') ?? undefined;
  const declared = meta.responses[String(status)] ?? meta.responses[`${String(status)[0]}XX`] ?? meta.responses.default;
  // openapi-fetch hands success bodies over as text (parseAs) and error bodies as parsed JSON when they parse.
  const body = response.ok ? raw.data : raw.error;
  const unexpected = (message: string, code: string, received: unknown = body) => {
    const safe = redact(received, apiKey);
    return new UnexpectedResponseError(message, {
      provider,
      operation,
      status,
      code: field(safe, 'code') ?? code,
      requestId: field(safe, 'request_id') ?? requestId,
      body: safe,
    });
  };

  if (!declared) throw unexpected(`the spec declares no ${status} response for this operation`, 'UNDECLARED_STATUS');

  if (response.ok) {
    if (!declared.json) return undefined as T;
    if (typeof body !== 'string' || body === '') throw unexpected('expected a JSON body, got none', 'EMPTY_BODY');
    const parsed = parseJson(body);
    if (!parsed.ok) throw unexpected('the body is not valid JSON', 'INVALID_JSON');
    return parsed.value as T;
  }

  if (declared.json && (body === null || typeof body !== 'object')) {
    throw unexpected(body === undefined ? 'expected a JSON error body, got none' : 'the error body is not JSON', body === undefined ? 'EMPTY_BODY' : 'INVALID_JSON');
  }
  const safe = redact(body, apiKey);
  const ErrorClass = errorClassForStatus(status);
  throw new ErrorClass(field(safe, 'error') ?? (response.statusText || 'request failed'), {
    provider,
    operation,
    status,
    code: field(safe, 'code'),
    requestId: field(safe, 'request_id') ?? requestId,
    body: safe,
  });
}
