// What every provider client shares: one openapi-fetch client with auth, a time
// limit on every exchange, input validation before sending, and decoding of any
// response into a typed result or a typed error.
import createClient, { type Client } from 'openapi-fetch';
import { NetworkError, SandboxProcsError, TimeoutError, UnexpectedResponseError, ValidationError, type ProviderName } from '../errors.js';
import { decode, parseJson, type Decoded, type RawResult } from './decode.js';
import type { OperationMeta, OperationTable, RequestInput } from './operation.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, resolveBaseUrl, type ClientOptions } from './options.js';
import { readJsonEvents, type JsonEvent } from './sse.js';
import { findRequestViolation } from './validate-input.js';

export type CallInit<P extends 'text' | 'stream'> = {
  signal: AbortSignal;
  parseAs: P;
}

type Send<P extends 'text' | 'stream'> = (init: CallInit<P>) => Promise<RawResult>;

export interface Transport<Paths extends {}, Ops extends OperationTable> {
  readonly provider: ProviderName;
  readonly api: Client<Paths>;
  /**
   * Validates `input` against the operation's spec, runs `send`, and decodes the
   * response: the parsed JSON body of a declared success (undefined for an empty
   * one), else a typed error.
   */
  call<T>(operation: keyof Ops & string, input: RequestInput, send: Send<'text'>): Promise<T>;
  /**
   * Like call, for a streamed success body: resolves with the open body once the
   * headers are in. The time limit covers the headers; `stop()` ends the stream.
   */
  openStream(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>): Promise<OpenStream>;
  /**
   * The JSON events of a Server-Sent Events response. Lazy: nothing is sent
   * until the first event is asked for; the connection closes when iteration ends.
   */
  events(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>): AsyncGenerator<JsonEvent>;
}

export interface OpenStream {
  status: number;
  body: ReadableStream<Uint8Array>;
  stop(): void;
}

export function createTransport<Paths extends {}, Ops extends OperationTable>(
  provider: ProviderName,
  operations: Ops,
  options: ClientOptions,
  hostFor: (sandbox: string) => string,
): Transport<Paths, Ops> {
  const baseUrl = resolveBaseUrl(provider, options, hostFor);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const idleTimeoutMs = options.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
  const api = createClient<Paths>({
    baseUrl,
    fetch: options.fetch ?? ((request: Request) => globalThis.fetch(request)),
    headers: { ...options.headers, Authorization: `Bearer ${options.apiKey}` },
  });

  async function exchange<P extends 'text' | 'stream'>(
    operation: string,
    input: RequestInput,
    parseAs: P,
    send: Send<P>,
  ): Promise<{ decoded: Decoded; controller: AbortController }> {
    const meta = operations[operation] as OperationMeta;
    const problem = findRequestViolation(meta, input);
    if (problem) throw new ValidationError(problem, { provider, operation });

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const raw = await send({ signal: controller.signal, parseAs });
      return { decoded: decode(provider, operation, meta, raw, options.apiKey), controller };
    } catch (cause) {
      if (cause instanceof SandboxProcsError) throw cause;
      if (timedOut) throw new TimeoutError(`no complete response within ${timeoutMs} ms`, { provider, operation, cause });
      throw new NetworkError(`request failed: ${describeCause(cause)}`, { provider, operation, cause });
    } finally {
      clearTimeout(timer);
    }
  }

  async function openStream(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>): Promise<OpenStream> {
    const { decoded, controller } = await exchange(operation, input, 'stream', send);
    return { status: decoded.status, body: decoded.body as ReadableStream<Uint8Array>, stop: () => controller.abort() };
  }

  return {
    provider,
    api,
    async call<T>(operation: keyof Ops & string, input: RequestInput, send: Send<'text'>): Promise<T> {
      const { decoded } = await exchange(operation, input, 'text', send);
      if (decoded.body === undefined || decoded.mediaType !== 'application/json') return decoded.body as T;
      const parsed = parseJson(decoded.body as string);
      if (!parsed.ok) {
        throw new UnexpectedResponseError('the body is not valid JSON', { provider, operation, status: decoded.status, code: 'INVALID_JSON' });
      }
      return parsed.value as T;
    },
    openStream,
    async *events(operation: keyof Ops & string, input: RequestInput, send: Send<'stream'>): AsyncGenerator<JsonEvent> {
      const stream = await openStream(operation, input, send);
      yield* readJsonEvents(stream, { provider, operation, status: stream.status, idleTimeoutMs });
    },
  };
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}
