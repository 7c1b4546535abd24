// The options every provider client takes, and the checks they get at creation.
import { ValidationError, type ProviderName } from '../errors.js';
import type { RetryOptions } from './retry.js';

/** The default time limit per call (`ClientOptions.timeoutMs`), in milliseconds: 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** The default longest silence of an output stream (`ClientOptions.streamIdleTimeoutMs`), in milliseconds: 5 min. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;

/**
 * The options every provider client takes. They are checked when the client is
 * created: a bad value throws ValidationError there, not at the first call.
 */
export interface ClientOptions {
  /** Sent as `Authorization: Bearer <apiKey>`; never logged, never put in an error. */
  apiKey: string;
  /** The sandbox's own base URL. Takes precedence over `sandbox`. */
  baseUrl?: string;
  /** The sandbox ID (or name), from which the provider's documented host is derived. */
  sandbox?: string;
  /**
   * A fetch to use instead of the default transport. The default on Node is a
   * keep-alive connection pool over node:http/node:https; elsewhere (Deno, Bun,
   * browsers, edge runtimes) the global fetch.
   */
  fetch?: (request: Request) => Promise<Response>;
  /** Node transport: most connections open at once per origin; more calls wait for one (the wait counts against timeoutMs). Default: no limit. */
  maxSockets?: number;
  /** Node transport: an idle pooled connection is closed after this long. Default 4 000 ms. */
  idleSocketTimeoutMs?: number;
  /** Time limit per call, headers and body included; for a stream, its headers. Default 30 000 ms. */
  timeoutMs?: number;
  /** Longest silence a stream may keep before it fails with TimeoutError. Default 300 000 ms. */
  streamIdleTimeoutMs?: number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** Retries of idempotent calls on connection errors, 429, 502, 503, 504. See RetryOptions. */
  retry?: RetryOptions;
  /** A response body larger than this fails with UnexpectedResponseError BODY_TOO_LARGE. Default 16 MiB. */
  maxResponseBytes?: number;
}

/** Per call: cancel it, or opt a non-idempotent call into retries. */
export interface RequestOptions {
  /** Aborts the call (and its retries and backoff waits); the call then rejects with AbortedError. */
  signal?: AbortSignal;
  /** Retry this call even if it is not idempotent (e.g. a start you know is safe to repeat). */
  retryNonIdempotent?: boolean;
}

/** The default cap on a response body (`ClientOptions.maxResponseBytes`), in bytes: 16 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const DNS_LABEL = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/i;

export function resolveBaseUrl(provider: ProviderName, options: ClientOptions, hostFor: (sandbox: string) => string): string {
  const invalid = (message: string) => new ValidationError(message, { provider, operation: 'createClient' });
  if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw invalid('apiKey must be a non-empty string');
  for (const name of ['timeoutMs', 'streamIdleTimeoutMs', 'maxResponseBytes', 'idleSocketTimeoutMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw invalid(`${name} must be a positive number`);
  }
  const sockets = options.maxSockets;
  if (sockets !== undefined && !(sockets === Infinity || (Number.isInteger(sockets) && sockets >= 1))) throw invalid('maxSockets must be a whole number from 1, or Infinity');
  const retries = options.retry?.maxRetries;
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= 10)) throw invalid('retry.maxRetries must be a whole number from 0 to 10');
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

