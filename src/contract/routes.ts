// Is a route there at all? A 404 may come from the operation's own handler ("no
// such process") or from the server's router ("no such path"). The drift check
// asks the router once, on a path no spec has, and compares: an answer shaped
// like the router's is a missing route; one shaped like the provider's error
// body, and unlike the router's, is the handler's.
import { randomBytes } from 'node:crypto';
import { redactText } from '../core/redact.js';

export interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

/** What an answer says of the route it was sent to. */
export type RouteEvidence = 'routed' | 'router' | 'ambiguous';

/** How much of the router's answer is kept: enough to compare, never a whole endless body. */
const MAX_PROBE_BYTES = 64 * 1024;

/** Sends one request to a path that no provider serves, and keeps what the router answers (undefined when it does not answer). */
export async function probeRouter(baseUrl: string, token: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Answer | undefined> {
  const path = `/sandbox-procs-unrouted-${randomBytes(4).toString('hex')}/kill/${randomBytes(4).toString('hex')}`;
  try {
    const response = await fetch(new URL(path, baseUrl), {
      method: 'POST',
      headers: { ...headers, Authorization: `Bearer ${token}` },
      redirect: 'manual',
      signal: AbortSignal.timeout(Math.min(timeoutMs, 2 ** 31 - 1)),
    });
    // Redacted at once: what the router echoes may end up, cut, in a report.
    return { status: response.status, contentType: response.headers.get('content-type'), body: redactText(await readPrefix(response, MAX_PROBE_BYTES), token) };
  } catch {
    return undefined;
  }
}

async function readPrefix(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, maxBytes);
}

function mediaType(contentType: string | null): string {
  return contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
}

function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Two JSON error bodies with the same fields and the same code: nothing tells them apart but the words. */
function sameShape(a: Answer, b: Answer): boolean {
  if (a.status !== b.status || mediaType(a.contentType) !== mediaType(b.contentType)) return false;
  const x = jsonObject(a.body);
  const y = jsonObject(b.body);
  if (!x || !y) return a.body.trim() === b.body.trim();
  const keys = (o: Record<string, unknown>) => Object.keys(o).sort().join(',');
  return keys(x) === keys(y) && x.code === y.code;
}

/**
 * What `answer` tells of its route. `router` is the server's answer to a path it
 * does not serve (undefined when the probe got none); `isProviderError` says
 * whether a body is the provider's own error body (its spec's error schema).
 */
export function routeEvidence(answer: Answer, router: Answer | undefined, isProviderError: (body: unknown) => boolean): RouteEvidence {
  // A handler's answer is anything but "not found"/"not allowed": a 200, a 400, a 500 ...
  if (answer.status === 405 || answer.status === 501) return 'router';
  if (answer.status !== 404) return 'routed';
  const body = jsonObject(answer.body);
  if (router && sameShape(answer, router)) return body && isProviderError(body) ? 'ambiguous' : 'router';
  // Unlike the router's 404: a JSON body is the handler's (drifted or not); HTML or text is some other router in front.
  if (router) return body ? 'routed' : 'router';
  return body && isProviderError(body) ? 'routed' : 'router';
}

/** A short account of an answer, for a report; `redact` runs before the body is cut, so that no part of a secret survives a cut. */
export function describeAnswer(answer: Answer, redact: (text: string) => string = (text) => text): string {
  const body = redact(answer.body);
  const excerpt = body.length > 120 ? `${body.slice(0, 120)}...` : body;
  return `${answer.status} ${mediaType(answer.contentType) || '(no content type)'} ${JSON.stringify(excerpt)}`;
}
