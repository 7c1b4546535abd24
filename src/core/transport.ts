// What every provider client shares: one openapi-fetch client with auth, a time
// limit and an optional AbortSignal on every exchange, bounded retries of
// idempotent calls, input validation before sending, and decoding of any
// response into a typed result or a typed error.
import createClient, { createQuerySerializer, type Client } from 'openapi-fetch';
import { AbortedError, AuthenticationError, NetworkError, SandboxProcsError, TimeoutError, UnexpectedResponseError, ValidationError, type ProviderName } from '../errors.js';
import { decode, parseJson, type Decoded, type RawResult } from './decode.js';
import { guardedFetch } from './guarded-fetch.js';
import { createNodeFetch, LeanRequest, LiteAbortController } from './node-fetch.js';
import type { OperationMeta, OperationTable, RequestInput } from './operation.js';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  resolveBaseUrl,
  type ClientOptions,
  type RequestOptions,
} from './options.js';
import { DEFAULT_RETRY, RETRYABLE_STATUSES, retryDelay } from './retry.js';
import { readJsonEvents, type JsonEvent } from './sse.js';
import { findRequestViolation } from './validate-input.js';
import { sleep, timerDelay } from './sleep.js';

export type CallInit<P extends 'text' | 'stream'> = {
  signal: AbortSignal;
  parseAs: P;
  fetch: (request: Request) => Promise<Response>;
  redirect: 'manual';
  /** The renewed token's Authorization header, when the transport has a TokenSource. */
  headers?: Record<string, string>;
};

type Send<P extends 'text' | 'stream'> = (init: CallInit<P>) => Promise<RawResult>;

export interface Transport<Paths extends {}, Ops extends OperationTable> {
  readonly provider: ProviderName;
  readonly api: Client<Paths>;
  /**
   * Validates `input` against the operation's spec, runs `send` (again, on a
   * retryable failure of an idempotent call), and decodes the response: the
   * parsed JSON body of a declared success (undefined for an empty one), else a typed error.
   */
  call<T>(operation: keyof Ops & string, input: RequestInput, send: Send<'text'>, options?: RequestOptions): Promise<T>;
  /**
   * Like call, for a streamed success body: resolves with the open body once the
   * headers are in. The time limit covers the headers; `stop()` ends the stream.
   */
  openStream(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>, options?: RequestOptions): Promise<OpenStream>;
  /**
   * The JSON events of a Server-Sent Events response. Lazy: nothing is sent
   * until the first event is asked for; the connection closes when iteration ends.
   */
  events(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>, options?: RequestOptions): AsyncGenerator<JsonEvent>;
  /** Closes the connection pool of the Node transport (destroying its sockets); nothing to do with a given `fetch`. */
  close(): Promise<void>;
  /**
   * Opens a WebSocket with what this client's upgrade needs (its base URL, headers,
   * credentials, limits): `open` runs once, and once more with a renewed token when
   * the upgrade was refused because the token expired (as `call` does).
   */
  upgrade: Upgrade;
}

/** See Transport.upgrade. */
export type Upgrade = <T>(operation: string, open: (init: UpgradeInit) => Promise<T>) => Promise<T>;

/** The parts of a client a WebSocket upgrade uses. */
export interface UpgradeInit {
  /** The client's base URL (http(s), no trailing slash). */
  baseUrl: string;
  /** The client's extra headers and its credentials. */
  headers: Record<string, string>;
  /** The credential in those headers, to redact from any error. */
  secrets: string[];
  /** The client's time limit per call: the upgrade's. */
  timeoutMs: number;
  /** The client's cap on a response body: the cap on one message. */
  maxMessageBytes: number;
}

/**
 * How a transport authenticates, when not with `Authorization: Bearer <apiKey>`:
 * the key in a header of its own (`header`), or a token that expires and is
 * renewed (`token`: a sandbox agent reached through its provider's control plane).
 */
export interface Credentials {
  /** Send `apiKey` as is in this header (e.g. X-API-Key) instead of as a Bearer token. */
  header?: string;
  /** Send the source's current token as `Authorization: Bearer <token>`; the apiKey is then never sent. */
  token?: TokenSource;
}

/** A token that expires: see createTokenKeeper (src/core/token-keeper.ts). */
export interface TokenSource {
  /** The token to send now: at once while it is fresh, else after its (shared) renewal. */
  current(): string | Promise<string>;
  /** After a 401 that says `refused` expired: the token to send again with (renewed once, however many calls saw it). */
  renewAfter(refused: string): Promise<string>;
}

/** A 401 that says the token expired, as HopX's SDK tells one (code TOKEN_EXPIRED, or "token expired" in the message). */
function saysTokenExpired(error: SandboxProcsError): boolean {
  return error.status === 401 && (error.code === 'TOKEN_EXPIRED' || /token expired/i.test(error.message));
}

export interface OpenStream {
  status: number;
  body: ReadableStream<Uint8Array>;
  stop(): void;
}

const IDEMPOTENT_METHODS = new Set(['get', 'head', 'put', 'delete', 'options']);

export function createTransport<Paths extends {}, Ops extends OperationTable>(
  provider: ProviderName,
  operations: Ops,
  options: ClientOptions,
  hostFor: (sandbox: string) => string,
  /** Operations that are idempotent although their method is not (e.g. a kill sent as POST). */
  idempotentOperations: ReadonlySet<string> = new Set(),
  credentials: Credentials = {},
): Transport<Paths, Ops> {
  const tokenSource = credentials.token;
  const baseUrl = resolveBaseUrl(provider, options, hostFor);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const idleTimeoutMs = options.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  // The default on Node: a keep-alive pool over node:http (fetch resets the socket after a
  // DELETE with a body). Given a fetch, or where node:http does not exist, fetch it is.
  const node = options.fetch ? undefined : createNodeFetch({ maxSockets: options.maxSockets, idleSocketTimeoutMs: options.idleSocketTimeoutMs });
  const baseFetch = options.fetch ?? node?.fetch ?? ((request: Request) => globalThis.fetch(request));
  const api = createClient<Paths>({
    baseUrl,
    fetch: baseFetch,
    // Made once: given options instead, openapi-fetch makes a serializer on every call.
    querySerializer: createQuerySerializer(),
    // On the Node transport the request is built once, its body kept as openapi-fetch serialized it.
    ...(node ? { Request: LeanRequest as unknown as typeof Request } : {}),
    headers: {
      ...options.headers,
      // A renewed token goes with each request (below); the API key then stays with its owner.
      ...(tokenSource ? {} : credentials.header ? { [credentials.header]: options.apiKey } : { Authorization: `Bearer ${options.apiKey}` }),
    },
  });

  // What a call needs to know of its operation, worked out once per client, not per call.
  interface Entry {
    meta: OperationMeta;
    idempotent: boolean;
    text: (request: Request) => Promise<Response>;
    stream: (request: Request) => Promise<Response>;
  }
  const entries = new Map<string, Entry>();
  function entryFor(operation: string): Entry {
    let entry = entries.get(operation);
    if (!entry) {
      const meta = operations[operation] as OperationMeta;
      const emptyStatuses = new Set(
        Object.entries(meta.responses)
          .filter(([, r]) => r.mediaTypes.length === 0)
          .map(([status]) => Number(status)),
      );
      entry = {
        meta,
        idempotent: IDEMPOTENT_METHODS.has(meta.method) || idempotentOperations.has(operation),
        text: guardedFetch({ provider, operation, fetch: baseFetch, maxBytes: maxResponseBytes, emptyStatuses }),
        stream: guardedFetch({ provider, operation, fetch: baseFetch, maxBytes: undefined, emptyStatuses }),
      };
      entries.set(operation, entry);
    }
    return entry;
  }

  // The header of the token in use, made once per token, not once per call.
  let lastAuthorization: { token: string; headers: { Authorization: string } } | undefined;
  const authorizationFor = (token: string) => {
    if (lastAuthorization?.token !== token) lastAuthorization = { token, headers: { Authorization: `Bearer ${token}` } };
    return lastAuthorization.headers;
  };

  /** One attempt: its own time limit, the caller's signal, the guarded fetch; `token` when a TokenSource gave one. */
  async function attempt<P extends 'text' | 'stream'>(
    operation: string,
    entry: Entry,
    parseAs: P,
    send: Send<P>,
    userSignal: AbortSignal | undefined,
    token: string | undefined,
  ): Promise<{ decoded: Decoded; controller: AbortController }> {
    // The Node transport's own requests take a light controller; a fetch needs a real one.
    const controller = node ? (new LiteAbortController() as unknown as AbortController) : new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timerDelay(timeoutMs));
    const onUserAbort = userSignal ? () => controller.abort(userSignal.reason) : undefined;
    if (onUserAbort) userSignal!.addEventListener('abort', onUserAbort, { once: true });
    try {
      const init: CallInit<P> = { signal: controller.signal, parseAs, fetch: entry[parseAs], redirect: 'manual' };
      if (token !== undefined) init.headers = authorizationFor(token);
      const raw = await send(init);
      // What is redacted from an error is what was sent: the token, when there is one.
      return { decoded: decode(provider, operation, entry.meta, raw, token ?? options.apiKey), controller };
    } catch (cause) {
      if (cause instanceof SandboxProcsError) throw cause;
      if (userSignal?.aborted) throw new AbortedError('the call was cancelled', { provider, operation, cause: userSignal.reason });
      if (timedOut) throw new TimeoutError(`no complete response within ${timeoutMs} ms`, { provider, operation, cause });
      throw new NetworkError(`request failed: ${describeCause(cause)}`, { provider, operation, cause });
    } finally {
      clearTimeout(timer);
      if (onUserAbort) userSignal!.removeEventListener('abort', onUserAbort);
    }
  }

  async function exchange<P extends 'text' | 'stream'>(
    operation: string,
    input: RequestInput,
    parseAs: P,
    send: Send<P>,
    requestOptions: RequestOptions = {},
  ): Promise<{ decoded: Decoded; controller: AbortController }> {
    const entry = entryFor(operation);
    const problem = findRequestViolation(entry.meta, input);
    if (problem) throw new ValidationError(problem, { provider, operation });
    const { signal } = requestOptions;
    if (signal?.aborted) throw new AbortedError('the call was cancelled before it was sent', { provider, operation, cause: signal.reason });

    const maxRetries = entry.idempotent || retry.nonIdempotent || requestOptions.retryNonIdempotent ? retry.maxRetries : 0;
    let renewed = false;
    for (let retries = 0; ; retries++) {
      let failure: SandboxProcsError;
      let token: string | undefined;
      try {
        // A fresh token comes as a string: taken at once, with no await (a call's cost stays that of a fixed token).
        const current = tokenSource ? currentToken(operation) : undefined;
        token = typeof current === 'string' || current === undefined ? current : await current;
        return await attempt(operation, entry, parseAs, send, signal, token);
      } catch (error) {
        failure = error as SandboxProcsError;
      }
      // An expired token did nothing at the server: renew it once and send again, whatever the method; not a retry.
      if (token !== undefined && !renewed && saysTokenExpired(failure) && !signal?.aborted) {
        renewed = true;
        retries--;
        await tokenSource!.renewAfter(token).catch(() => undefined);
        continue;
      }
      failure.retries = retries;
      // A declared 408 is a run that used up its own time limit: another try would do the same.
      const retryable =
        failure instanceof NetworkError ||
        (failure instanceof TimeoutError && failure.status === undefined) ||
        (failure.status !== undefined && RETRYABLE_STATUSES.has(failure.status));
      // A 429 says the server did nothing: another try cannot run a start twice, whatever the method.
      const allowed = failure.status === 429 ? retry.maxRetries : maxRetries;
      if (!retryable || retries >= allowed || signal?.aborted) throw failure;
      try {
        await sleep(retryDelay(retries + 1, failure.retryAfterMs, retry), signal);
      } catch (reason) {
        throw new AbortedError('the call was cancelled while waiting to retry', { provider, operation, status: failure.status, retries, cause: reason });
      }
    }
  }

  /** The source's token; a failure to get one is the call's failure (the source's errors are already typed and redacted). */
  function currentToken(operation: string): string | Promise<string> {
    const failed = (cause: unknown) => {
      if (cause instanceof SandboxProcsError) throw cause;
      throw new AuthenticationError(`could not obtain a token: ${describeCause(cause)}`, { provider, operation, cause });
    };
    try {
      const current = tokenSource!.current();
      return typeof current === 'string' ? current : current.catch(failed);
    } catch (cause) {
      return failed(cause);
    }
  }

  async function openStream(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>, requestOptions?: RequestOptions): Promise<OpenStream> {
    const { decoded, controller } = await exchange(operation, input, 'stream', send, requestOptions);
    return { status: decoded.status, body: decoded.body as ReadableStream<Uint8Array>, stop: () => controller.abort() };
  }

  return {
    provider,
    api,
    async call<T>(operation: keyof Ops & string, input: RequestInput, send: Send<'text'>, requestOptions?: RequestOptions): Promise<T> {
      const { decoded } = await exchange(operation, input, 'text', send, requestOptions);
      if (decoded.body === undefined || decoded.mediaType !== 'application/json') return decoded.body as T;
      const parsed = parseJson(decoded.body as string);
      if (!parsed.ok) {
        throw new UnexpectedResponseError('the body is not valid JSON', { provider, operation, status: decoded.status, code: 'INVALID_JSON' });
      }
      return parsed.value as T;
    },
    openStream,
    async *events(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>, requestOptions?: RequestOptions): AsyncGenerator<JsonEvent> {
      const stream = await openStream(operation, input, send, requestOptions);
      yield* readJsonEvents(stream, { provider, operation, status: stream.status, idleTimeoutMs, maxEventBytes: maxResponseBytes });
    },
    async close() {
      node?.close();
    },
    async upgrade<T>(operation: string, open: (init: UpgradeInit) => Promise<T>): Promise<T> {
      const initWith = (token: string | undefined): UpgradeInit => {
        const credential: Record<string, string> =
          token !== undefined ? { Authorization: `Bearer ${token}` } : credentials.header ? { [credentials.header]: options.apiKey } : { Authorization: `Bearer ${options.apiKey}` };
        return { baseUrl, headers: { ...options.headers, ...credential }, secrets: [token ?? options.apiKey], timeoutMs, maxMessageBytes: maxResponseBytes };
      };
      const token = tokenSource ? await currentToken(operation) : undefined;
      try {
        return await open(initWith(token));
      } catch (error) {
        if (token === undefined || !(error instanceof SandboxProcsError) || !saysTokenExpired(error)) throw error;
        return open(initWith(await tokenSource!.renewAfter(token)));
      }
    },
  };
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}
