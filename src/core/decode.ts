// Decoding a response against the operation's declared responses.
import { RateLimitError, UnexpectedResponseError, errorClassForStatus, type ProviderName } from '../errors.js';
import type { OperationMeta } from './operation.js';
import { redactDeep, redactText } from './redact.js';
import { parseRetryAfter } from './retry.js';

/** How much of a plain-text error body becomes the error's message (all of it stays in `body`). */
const MAX_MESSAGE = 500;

/** Parses JSON text, reporting failure instead of throwing. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
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

/** A server may echo the request back, in any escaped form, even as a field name; what we put in an error must not carry the key. */
const redact = (value: unknown, secret: string): unknown => redactDeep(value, secret);

/** What openapi-fetch returns: parsed JSON or raw text for errors, the body as `parseAs` asked for successes. */
export interface RawResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

export interface Decoded {
  status: number;
  /** The success body as received (text, or a stream with parseAs 'stream'); undefined when none is declared. */
  body: unknown;
  mediaType: string;
}

/**
 * Turns a response into what the spec promises or a typed error: an undeclared
 * status, a declared error status, or a success whose content type is not
 * declared all throw.
 */
export function decode(provider: ProviderName, operation: string, meta: OperationMeta, raw: RawResult, apiKey: string): Decoded {
  const { response } = raw;
  const status = response.status;
  const requestIdHeader = response.headers.get('x-request-id');
  const requestId = requestIdHeader === null ? undefined : redactText(requestIdHeader, apiKey);
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  const declared = meta.responses[String(status)] ?? meta.responses[`${String(status)[0]}XX`] ?? meta.responses.default;
  // openapi-fetch hands success bodies over as text (parseAs) and error bodies as parsed JSON when they parse.
  const body = response.ok ? raw.data : raw.error;
  const unexpected = (message: string, code: string, received: unknown = response.ok ? undefined : body) => {
    const safe = redact(received, apiKey);
    return new UnexpectedResponseError(message, {
      provider,
      operation,
      status,
      code: field(safe, 'code') ?? code,
      requestId: field(safe, 'request_id') ?? requestId,
      body: safe,
      retryAfterMs,
    });
  };

  if (!declared) {
    // Rate limiting is a transport fact whatever the spec says: let callers branch on it.
    if (status === 429) {
      const safe = redact(body, apiKey);
      throw new RateLimitError(field(safe, 'error') ?? 'rate limited', { provider, operation, status, code: field(safe, 'code') ?? 'RATE_LIMITED', requestId, body: safe, retryAfterMs });
    }
    throw unexpected(`the spec declares no ${status} response for this operation`, 'UNDECLARED_STATUS');
  }

  const mediaType = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (response.ok) {
    if (declared.mediaTypes.length === 0) return { status, body: undefined, mediaType };
    if (!declared.mediaTypes.includes(mediaType)) {
      throw unexpected(`content type ${redactText(mediaType, apiKey) || '(none)'} is not declared (${declared.mediaTypes.join(', ')})`, 'UNDECLARED_CONTENT_TYPE', undefined);
    }
    if (body === undefined || body === '') throw unexpected(`expected a ${mediaType} body, got none`, 'EMPTY_BODY');
    return { status, body, mediaType };
  }

  // Some servers reject a request before their handler runs, in plain text (Tensorlake's
  // daemon: axum's extractors); where the spec declares that, the text is the message.
  if (mediaType === 'text/plain' && declared.mediaTypes.includes('text/plain') && body !== undefined && body !== '') {
    const text = redact(typeof body === 'string' ? body : JSON.stringify(body), apiKey) as string;
    const ErrorClass = errorClassForStatus(status);
    throw new ErrorClass(text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}...` : text, { provider, operation, status, requestId, body: text, retryAfterMs });
  }
  if (declared.mediaTypes.includes('application/json') && (body === null || typeof body !== 'object')) {
    throw unexpected(body === undefined ? 'expected a JSON error body, got none' : 'the error body is not JSON', body === undefined ? 'EMPTY_BODY' : 'INVALID_JSON');
  }
  const safe = redact(body, apiKey);
  const ErrorClass = errorClassForStatus(status);
  // `message`: HopX's control plane (its SDK reads it first).
  throw new ErrorClass(field(safe, 'error') ?? field(safe, 'message') ?? (redactText(response.statusText, apiKey) || 'request failed'), {
    provider,
    operation,
    status,
    code: field(safe, 'code'),
    requestId: field(safe, 'request_id') ?? requestId,
    body: safe,
    retryAfterMs,
  });
}

/**
 * The array a list response holds at `key`. The client trusts the spec for the
 * shape of what it returns, but never turns a malformed body into a TypeError.
 */
export function listIn<T>(body: unknown, key: string, context: { provider: ProviderName; operation: string }): T[] {
  const list = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
  if (!Array.isArray(list) || list.some((item) => item === null || typeof item !== 'object')) {
    throw new UnexpectedResponseError(`the body holds no list of objects at "${key}"`, { ...context, status: 200, code: 'INVALID_BODY' });
  }
  return list as T[];
}
