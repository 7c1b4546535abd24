// The fetch a single call goes through: it follows redirects itself, as the Fetch
// standard says but so that the Authorization header never reaches another
// origin, and it holds the response to what the spec allows (no body on a
// declared-empty response, a size cap).
import { NetworkError, UnexpectedResponseError, type ProviderName } from '../errors.js';
import type { BodyLimit } from './node-fetch.js';

export interface GuardOptions {
  provider: ProviderName;
  operation: string;
  fetch: (request: Request) => Promise<Response>;
  /** Fail a response body larger than this; undefined for streams. */
  maxBytes: number | undefined;
  /** Statuses the spec declares without a body. */
  emptyStatuses: ReadonlySet<number>;
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that describe a request body: dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

/**
 * The request a redirect asks for, by the Fetch standard's rules (HTTP-redirect
 * fetch): 303 turns anything but GET and HEAD into a GET, 301 and 302 turn only a
 * POST into a GET, every other case keeps the method and the body. `body` says
 * whether the request carried one: it is not kept, so `resend` is true when the
 * redirect needs it sent again. Authorization never goes to another origin.
 */
export function redirectedRequest(
  request: { method: string; url: string; headers: Headers },
  status: number,
  location: string,
  body: boolean,
): { url: URL; method: string; headers: Headers; resend: boolean } {
  const url = new URL(location, request.url);
  const headers = new Headers(request.headers);
  if (url.origin !== new URL(request.url).origin) headers.delete('authorization');
  const method = request.method.toUpperCase();
  const toGet = (status === 303 && method !== 'GET' && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST');
  if (toGet) {
    for (const name of BODY_HEADERS) headers.delete(name);
    return { url, method: 'GET', headers, resend: false };
  }
  return { url, method: request.method, headers, resend: body };
}

/** Passes a body through, counting its bytes; fails it past maxBytes, and names a broken connection. */
function guardBody(response: Response, options: BodyLimit): Response {
  const body = response.body!;
  const reader = body.getReader();
  let seen = 0;
  const guarded = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (cause) {
          controller.error(options.broken(cause));
          return;
        }
        if (result.done) return controller.close();
        seen += result.value.byteLength;
        if (seen > options.maxBytes) {
          controller.error(options.tooLarge());
          await reader.cancel().catch(() => undefined);
          return;
        }
        controller.enqueue(result.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  // A status text fetch decoded from Latin-1 may hold characters a Response cannot be built with: leave it out then.
  const statusText = /^[\x00-\xff]*$/.test(response.statusText) ? response.statusText : '';
  return new Response(guarded, { status: response.status, statusText, headers: response.headers });
}

/**
 * The per-call fetch. The request must be made with `redirect: 'manual'` (the
 * transport passes it to openapi-fetch), so that redirects come back here.
 */
export function guardedFetch(options: GuardOptions): (request: Request) => Promise<Response> {
  const { provider, operation, maxBytes, emptyStatuses } = options;
  const maxRedirects = options.maxRedirects ?? 5;
  return async (first: Request) => {
    let request = first;
    for (let hop = 0; ; hop++) {
      const response = await options.fetch(request);
      const location = response.headers.get('location');
      if (!REDIRECTS.has(response.status) || !location) {
        const fail = (message: string, code: string) => new UnexpectedResponseError(message, { provider, operation, status: response.status, code });
        if (emptyStatuses.has(response.status)) {
          const length = response.headers.get('content-length');
          if ((length !== null && length !== '0') || response.headers.get('transfer-encoding')) {
            await response.body?.cancel();
            throw fail(`status ${response.status} is declared without a body, but one came`, 'UNEXPECTED_BODY');
          }
        }
        if (maxBytes === undefined) return response;
        const lean = 'limitBody' in response;
        if (!lean && !response.body) return response;
        const tooLarge = () => fail(`the response body exceeds ${maxBytes} bytes`, 'BODY_TOO_LARGE');
        const length = response.headers.get('content-length');
        // A declared length over the cap fails at once, and the body is never read.
        if (length !== null && Number(length) > maxBytes) {
          await response.body?.cancel().catch(() => undefined);
          throw tooLarge();
        }
        const signal = request.signal;
        const limit: BodyLimit = {
          maxBytes,
          tooLarge,
          // The answer came and then the connection broke: a NetworkError that knows the status
          // (so "cannot reach" is never said of a server that answered). A timeout or cancellation passes as is.
          broken: (cause) =>
            signal.aborted
              ? cause
              : new NetworkError(`the connection closed after the response headers: ${cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ''}` : String(cause)}`, {
                  provider,
                  operation,
                  status: response.status,
                  cause,
                }),
        };
        // The Node transport's response holds the cap itself: no second stream, no second Response.
        if (lean) {
          (response as unknown as { limitBody(limit: BodyLimit): void }).limitBody(limit);
          return response;
        }
        return guardBody(response, limit);
      }
      await response.body?.cancel();
      if (hop >= maxRedirects) throw new UnexpectedResponseError(`more than ${maxRedirects} redirects`, { provider, operation, status: response.status, code: 'TOO_MANY_REDIRECTS' });
      const next = redirectedRequest(request, response.status, location, request.body !== null);
      if (next.url.protocol !== 'http:' && next.url.protocol !== 'https:') {
        throw new UnexpectedResponseError(`a ${response.status} redirect to a ${next.url.protocol} URL; not followed`, { provider, operation, status: response.status, code: 'REDIRECT_NOT_HTTP' });
      }
      // The body was sent and is gone. Keeping a copy of every body for a redirect the process APIs
      // never send costs every call; and a start's command, env and stdin data would go wherever
      // the redirect points. So a redirect that asks for the body again is an error, not followed.
      if (next.resend) {
        throw new UnexpectedResponseError(`a ${response.status} redirect asks to send the request body again; not followed`, { provider, operation, status: response.status, code: 'REDIRECT_WITH_BODY' });
      }
      // The same kind of request as the first (the Node transport's lean one, or a WHATWG Request).
      const RequestClass = request.constructor as typeof Request;
      request = new RequestClass(next.url, { method: next.method, headers: next.headers, signal: request.signal, redirect: 'manual' });
    }
  };
}
