// The fetch a single call goes through: it follows redirects itself, so that the
// Authorization header never reaches another origin, and it holds the response
// to what the spec allows (no body on a declared-empty response, a size cap).
import { UnexpectedResponseError, type ProviderName } from '../errors.js';

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

function limitBody(response: Response, maxBytes: number, fail: () => Error): Response {
  const length = response.headers.get('content-length');
  if (length !== null) {
    // A declared length is enforced by fetch itself: checking it is enough.
    if (Number(length) > maxBytes) throw fail();
    return response;
  }
  if (!response.body) return response;
  let seen = 0;
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(fail());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
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
        return maxBytes === undefined ? response : limitBody(response, maxBytes, () => fail(`the response body exceeds ${maxBytes} bytes`, 'BODY_TOO_LARGE'));
      }
      await response.body?.cancel();
      if (hop >= maxRedirects) throw new UnexpectedResponseError(`more than ${maxRedirects} redirects`, { provider, operation, status: response.status, code: 'TOO_MANY_REDIRECTS' });
      const target = new URL(location, request.url);
      const headers = new Headers(request.headers);
      // Credentials stay with the origin they were given for.
      if (target.origin !== new URL(request.url).origin) headers.delete('authorization');
      const keepMethod = response.status === 307 || response.status === 308;
      // The body was sent and is gone; keeping a copy of every body for a rare redirect is not worth it.
      if (keepMethod && request.body) {
        throw new UnexpectedResponseError(`a ${response.status} redirect asks to send the request body again; not followed`, { provider, operation, status: response.status, code: 'REDIRECT_WITH_BODY' });
      }
      const method = keepMethod ? request.method : request.method === 'HEAD' ? 'HEAD' : 'GET';
      if (!keepMethod) {
        headers.delete('content-type');
        headers.delete('content-length');
      }
      request = new Request(target, { method, headers, signal: request.signal, redirect: 'manual' });
    }
  };
}
