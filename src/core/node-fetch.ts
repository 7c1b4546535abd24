// The default transport on Node: a fetch-shaped function over node:http/node:https
// with a keep-alive Agent per client. Node's fetch (undici) resets the socket after
// a DELETE that carries a body (HopX's documented kill), so every such kill opened
// a new TCP (and TLS) connection; this reuses connections for every request.
// node:http is loaded only where it exists (dynamic import): on Deno, Bun, browsers
// and edge runtimes this module still loads, and the client uses global fetch.
import type * as Http from 'node:http';
import type * as Https from 'node:https';

/** Default idle time of a pooled socket: under the 5 s keep-alive timeout of Node's own servers, as undici's 4 s. */
export const DEFAULT_IDLE_SOCKET_TIMEOUT_MS = 4_000;

export interface PoolOptions {
  /** Most sockets open at once per origin; more requests wait for one. Default: no limit. */
  maxSockets?: number;
  /** An idle pooled socket is closed after this long. Default 4 000 ms. */
  idleSocketTimeoutMs?: number;
}

export interface NodeFetch {
  fetch(request: Request): Promise<Response>;
  /** Destroys every pooled socket (and so any request still on one). */
  close(): void;
}

type Modules = { http: typeof Http; https: typeof Https };

declare const Deno: unknown;
declare const Bun: unknown;

/** Node itself, not a runtime that imitates `process.versions.node` (Deno, Bun). */
export function isNode(): boolean {
  return (
    typeof process !== 'undefined' &&
    typeof process.versions?.node === 'string' &&
    typeof Deno === 'undefined' &&
    typeof Bun === 'undefined' &&
    !('bun' in process.versions)
  );
}

let loading: Promise<Modules | undefined> | undefined;
let loaded: Modules | undefined;
function loadModules(): Promise<Modules | undefined> {
  loading ??= Promise.all([import('node:http'), import('node:https')]).then(
    ([http, https]) => (loaded = { http, https }),
    () => undefined,
  );
  return loading;
}

/**
 * The request openapi-fetch builds on the Node transport: the URL, method,
 * headers, body and signal as given, kept as they are (a WHATWG Request would
 * turn the body into a stream that the transport then has to read back).
 */
export class LeanRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: BodyInit | null;
  readonly signal: AbortSignal;
  readonly redirect: RequestRedirect;
  constructor(input: string | URL, init: RequestInit = {}) {
    this.url = String(input);
    this.method = (init.method ?? 'GET').toUpperCase();
    this.headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
    this.body = init.body ?? null;
    this.signal = init.signal ?? new AbortController().signal;
    this.redirect = init.redirect ?? 'follow';
  }
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** A reason phrase a Response can be built with (HTAB, SP, VCHAR, obs-text). */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

async function bodyBytes(body: unknown): Promise<Uint8Array | string | undefined> {
  if (body === null || body === undefined) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  // Anything else (a stream, a Blob, form data): read it once, as fetch would send it.
  return new Uint8Array(await new Response(body as BodyInit).arrayBuffer());
}

/**
 * The per-attempt abort controller of the Node transport. A WHATWG AbortController
 * is an EventTarget whose creation alone costs several microseconds on Node 20; the
 * transport only needs a flag, a reason and the listeners its own code adds.
 * Never handed to fetch: only to LeanRequest and this module.
 */
export class LiteAbortController {
  readonly signal = new LiteAbortSignal();
  abort(reason?: unknown): void {
    this.signal.fire(reason);
  }
}

export class LiteAbortSignal {
  aborted = false;
  reason: unknown = undefined;
  #listeners: Array<() => void> = [];
  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) this.#listeners.push(listener);
  }
  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.#listeners.indexOf(listener);
    if (at !== -1) this.#listeners.splice(at, 1);
  }
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
  fire(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    for (const listener of this.#listeners.splice(0)) listener();
  }
}

/** What the guarded fetch may ask of a lean response: hold its body to a size cap. */
export interface BodyLimit {
  maxBytes: number;
  tooLarge: () => Error;
  /** The error for a connection broken while the body was read. */
  broken: (cause: unknown) => unknown;
}

/** Response headers straight from node:http (names already lower case); only `get` is needed. */
class LeanHeaders {
  constructor(private readonly raw: Http.IncomingHttpHeaders) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
}

/**
 * The response of the Node transport: status and headers as node:http gives them,
 * the body read straight from the socket by text(), or as a web stream only when
 * asked for one (a stream of events). No Response, no stream, no header copy per call.
 */
export class LeanResponse {
  readonly ok: boolean;
  readonly headers: LeanHeaders;
  readonly redirected = false;
  readonly type = 'basic';
  #res: Http.IncomingMessage | undefined;
  #signal: AbortSignal | undefined;
  #done: () => void;
  #stream: ReadableStream<Uint8Array> | undefined;
  #limit: BodyLimit | undefined;
  #failure: unknown;
  #onFailure: ((error: unknown) => void) | undefined;
  #finished = false;
  constructor(readonly status: number, readonly statusText: string, res: Http.IncomingMessage, signal: AbortSignal | undefined, done: () => void) {
    this.ok = status >= 200 && status < 300;
    this.headers = new LeanHeaders(res.headers);
    this.#signal = signal;
    this.#done = done;
    this.#res = signal ? res : undefined;
    if (!signal) return;
    const fail = (error: unknown) => {
      if (this.#finished) return;
      this.#finished = true;
      done();
      this.#failure = this.#signal?.aborted ? abortError(this.#signal) : error;
      this.#onFailure?.(this.#failure);
    };
    res.once('error', fail);
    res.once('close', () => {
      if (!res.complete) fail(Object.assign(new Error('the connection closed before the body was complete'), { code: 'ECONNRESET' }));
    });
    res.once('end', () => {
      this.#finished = true;
      done();
    });
  }

  limitBody(limit: BodyLimit): void {
    this.#limit = limit;
  }

  get bodyUsed(): boolean {
    return false;
  }

  get body(): ReadableStream<Uint8Array> | null {
    const res = this.#res;
    if (!res) return null;
    if (this.#stream) return this.#stream;
    const limit = this.#limit;
    let seen = 0;
    let closed = false;
    return (this.#stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          const error = (cause: unknown) => {
            if (closed) return;
            closed = true;
            controller.error(limit ? limit.broken(cause) : cause);
          };
          if (this.#failure !== undefined) return error(this.#failure);
          if (res.readableEnded) {
            closed = true;
            return controller.close();
          }
          this.#onFailure = error;
          res.on('data', (chunk: Buffer) => {
            if (closed) return;
            seen += chunk.byteLength;
            if (limit && seen > limit.maxBytes) {
              closed = true;
              controller.error(limit.tooLarge());
              res.destroy();
              return;
            }
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            if ((controller.desiredSize ?? 0) <= 0) res.pause();
          });
          res.once('end', () => {
            if (closed) return;
            closed = true;
            controller.close();
          });
        },
        pull: () => {
          res.resume();
        },
        cancel: () => {
          closed = true;
          this.#finished = true;
          this.#done();
          res.destroy();
        },
      },
      { highWaterMark: 1 },
    ));
  }

  /** The whole body, read once from the socket, held to the size cap. */
  #bytes(): Promise<Buffer> {
    const res = this.#res;
    if (!res) return Promise.resolve(Buffer.alloc(0));
    if (this.#stream) return new Response(this.#stream).arrayBuffer().then((b) => Buffer.from(b));
    const limit = this.#limit;
    return new Promise<Buffer>((resolve, reject) => {
      const fail = (cause: unknown) => reject(limit ? limit.broken(cause) : cause);
      if (this.#failure !== undefined) return fail(this.#failure);
      if (res.readableEnded) return resolve(Buffer.alloc(0));
      this.#onFailure = fail;
      const chunks: Buffer[] = [];
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.byteLength;
        if (limit && seen > limit.maxBytes) {
          this.#onFailure = undefined;
          res.destroy();
          reject(limit.tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, seen)));
    });
  }

  async text(): Promise<string> {
    const text = (await this.#bytes()).toString('utf8');
    // As fetch decodes: UTF-8 with a leading BOM dropped.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
}

/** Creates the pooled fetch, or undefined where node:http does not exist. */
export function createNodeFetch(pool: PoolOptions = {}): NodeFetch | undefined {
  if (!isNode()) return undefined;
  const agentOptions = {
    keepAlive: true,
    maxSockets: pool.maxSockets ?? Infinity,
    timeout: pool.idleSocketTimeoutMs ?? DEFAULT_IDLE_SOCKET_TIMEOUT_MS,
    scheduling: 'lifo' as const,
  };
  let agents: { http: Http.Agent; https: Https.Agent } | undefined;
  void loadModules();

  function agentsFor(modules: Modules) {
    return (agents ??= { http: new modules.http.Agent(agentOptions), https: new modules.https.Agent(agentOptions) });
  }

  async function fetchSlow(request: Request | LeanRequest): Promise<Response> {
    const modules = loaded ?? (await loadModules());
    // node:http would not load (it always does on Node): fetch, without the light signal it cannot take.
    if (!modules) {
      return globalThis.fetch(
        request instanceof LeanRequest ? new Request(request.url, { method: request.method, headers: request.headers, body: request.body, redirect: 'manual' }) : request,
      );
    }
    const body = request instanceof LeanRequest ? await bodyBytes(request.body) : request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
    return send(modules, request, body, false);
  }

  function send(modules: Modules, request: Request | LeanRequest, body: Uint8Array | string | undefined, again: boolean): Promise<Response> {
    const { signal } = request;
    if (signal.aborted) return Promise.reject(abortError(signal));
    const url = new URL(request.url);
    const secure = url.protocol === 'https:';
    const pools = agentsFor(modules);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    headers.accept ??= '*/*';
    if (body !== undefined) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    else if (request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH') headers['content-length'] = '0';

    return new Promise<Response>((resolve, reject) => {
      let answered = false;
      const req = (secure ? modules.https : modules.http).request({
        protocol: url.protocol,
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers,
        agent: secure ? pools.https : pools.http,
      });
      const onAbort = () => req.destroy(abortError(signal) as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);

      req.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) return;
        done();
        // A pooled socket the server had already closed: the request never reached it. Send it again, once.
        if (!again && req.reusedSocket && !signal.aborted && IDEMPOTENT.has(request.method) && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
          resolve(send(modules, request, body, true));
          return;
        }
        reject(signal.aborted ? abortError(signal) : error);
      });
      req.once('response', (res: Http.IncomingMessage) => {
        answered = true;
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          done();
          reject(new RangeError(`status ${status} is outside 200-599`));
          return;
        }
        const statusText = res.statusMessage && REASON_PHRASE.test(res.statusMessage) ? res.statusMessage : '';
        const empty = NULL_BODY_STATUSES.has(status) || request.method === 'HEAD';
        if (empty || res.headers['content-length'] === '0') {
          res.resume();
          res.once('close', done);
          // Nothing is read from it: a connection lost now must not become an unhandled 'error'.
          if (empty) res.on('error', () => undefined);
        }
        resolve(new LeanResponse(status, statusText, res, empty ? undefined : signal, done) as unknown as Response);
      });
      if (body === undefined) req.end();
      else req.end(body);
    });
  }

  return {
    fetch(request: Request) {
      const lean = request as Request | LeanRequest;
      // The common case without a single extra await: modules loaded, body already bytes or text.
      if (loaded && (lean.body === null || (lean instanceof LeanRequest && (typeof lean.body === 'string' || lean.body instanceof Uint8Array)))) {
        return send(loaded, lean, (lean.body ?? undefined) as string | Uint8Array | undefined, false);
      }
      return fetchSlow(lean);
    },
    close() {
      agents?.http.destroy();
      agents?.https.destroy();
      agents = undefined;
    },
  };
}
