// What every WebSocket session shares: `ws` loaded on first use (an optional peer),
// the upgrade with the client's headers, a refused upgrade read into a typed error,
// cancellation by AbortSignal, and received messages queued up to a bound. When the
// consumer is slower than the server, the socket is paused, so that TCP's window
// holds the server back instead of this process buffering without end. Errors never
// carry the URL or a header: the URL may hold a token (Tensorlake's `?token=`), and
// any text from `ws` or the server is redacted of every secret before it is kept.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type WebSocketType from 'ws';
import type { RawData } from 'ws';
import { AbortedError, MissingPeerError, NetworkError, SandboxProcsError, TimeoutError, UnexpectedResponseError, ValidationError, errorClassForStatus, type ProviderName } from '../errors.js';
import { importOnce } from './optional-peer.js';
import { redactDeep, redactText } from './redact.js';

/** Received messages the queue holds before the socket is paused: 1 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;
/** The most of a refusal's body that is read into its error. */
const MAX_REFUSAL_BYTES = 64 * 1024;

type WebSocketClass = typeof WebSocketType;
const importWs = importOnce(() => import('ws'));

/** `ws`, imported on first use: a client that opens no session never needs it installed. */
export async function loadWebSocket(provider: ProviderName, operation: string): Promise<WebSocketClass> {
  try {
    const module = await importWs();
    return (module.default ?? (module as unknown as { WebSocket: WebSocketClass }).WebSocket) as WebSocketClass;
  } catch (cause) {
    throw new MissingPeerError('ws', { provider, operation, cause });
  }
}

/** One received message: text (a string) or binary (bytes), as the server framed it. */
export type ReceivedMessage = { binary: false; text: string } | { binary: true; bytes: Uint8Array };

export interface OpenOptions {
  provider: ProviderName;
  /** The spec's operationId of the upgrade, for errors. */
  operation: string;
  /** ws:// or wss://; may hold a secret (never put in an error). */
  url: string;
  headers: Record<string, string>;
  /** Every secret the URL or headers hold, redacted from whatever text an error keeps. */
  secrets: readonly string[];
  signal?: AbortSignal | undefined;
  /** Time limit of the upgrade, in milliseconds. */
  handshakeTimeoutMs: number;
  /** The largest message accepted; a larger one ends the session (close 1009). */
  maxMessageBytes: number;
  /** Bytes the queue holds before the socket is paused. Default DEFAULT_MAX_QUEUED_BYTES. */
  maxQueuedBytes?: number | undefined;
}

/** How a session's socket closed. */
export interface Closed {
  code: number;
  reason: string;
}

/** An open WebSocket, its received messages as an async iterable that ends when the socket closes. */
export interface WebSocketSession extends AsyncIterable<ReceivedMessage> {
  /** Sends one message; resolves once it is handed to the operating system. */
  send(data: string | Uint8Array): Promise<void>;
  /** Closes the socket (1000 by default); the iteration ends once the server answers or the socket drops. */
  close(code?: number, reason?: string): void;
  /** Resolves when the socket has closed, with the close frame's code and reason. */
  readonly closed: Promise<Closed>;
  /** Bytes received and not yet taken by the consumer. */
  readonly queuedBytes: number;
  /** How many times the socket was paused because the consumer fell behind. */
  readonly pauses: number;
}

/**
 * Opens a WebSocket. Rejects with AbortedError (the signal), TimeoutError (no
 * upgrade in time), a status error (errorClassForStatus: the server refused the
 * upgrade, its body's `code` kept), NetworkError, or MissingPeerError.
 */
export async function openWebSocket(options: OpenOptions): Promise<WebSocketSession> {
  const { provider, operation, signal } = options;
  const details = { provider, operation };
  const scrub = (text: string) => options.secrets.reduce((out, secret) => (secret ? redactText(out, secret) : out), text);
  if (signal?.aborted) throw new AbortedError('the session was cancelled before it was opened', { ...details, cause: signal.reason });
  const WebSocket = await loadWebSocket(provider, operation);
  if (signal?.aborted) throw new AbortedError('the session was cancelled before it was opened', { ...details, cause: signal.reason });

  let socket: WebSocketType;
  try {
    socket = new WebSocket(options.url, {
      headers: options.headers,
      handshakeTimeout: options.handshakeTimeoutMs,
      maxPayload: options.maxMessageBytes,
      followRedirects: false,
      perMessageDeflate: false,
    });
  } catch (cause) {
    // e.g. a header value node:http refuses; its message may quote the value.
    const message = scrub(cause instanceof Error ? cause.message : String(cause));
    throw new ValidationError(`the WebSocket request cannot be made: ${message}`, { ...details, cause: new Error(message) });
  }
  const session = new Session(socket, options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES, details, scrub, signal);

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error?: SandboxProcsError) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        socket.removeAllListeners('close');
        socket.terminate();
        reject(error);
      } else resolve();
    };
    const onAbort = () => settle(new AbortedError('the session was cancelled while it was being opened', { ...details, cause: signal!.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('open', () => settle());
    socket.once('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
      void readRefusal(response, options.handshakeTimeoutMs).then((body) => settle(refusal(response, body, details, options.secrets)));
      request.on('error', () => undefined);
    });
    socket.once('error', (cause: Error) => {
      const message = scrub(cause.message);
      const safeCause = new Error(message);
      if (/handshake timed out|Opening handshake has timed out/i.test(cause.message)) {
        settle(new TimeoutError(`no WebSocket upgrade within ${options.handshakeTimeoutMs} ms`, { ...details, cause: safeCause }));
      } else settle(new NetworkError(`the WebSocket could not be opened: ${message}`, { ...details, cause: safeCause }));
    });
  });
  session.start();
  return session;
}

/** The refusal's body, up to MAX_REFUSAL_BYTES and for at most `timeoutMs`: a body that never ends ends the wait, not the caller's. */
async function readRefusal(response: IncomingMessage, timeoutMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => response.destroy(), timeoutMs);
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk.subarray(0, MAX_REFUSAL_BYTES - size));
      size += chunk.length;
      if (size >= MAX_REFUSAL_BYTES) break;
    }
  } catch {
    // What arrived before the connection failed (or the time ran out) is what the error can say.
  }
  clearTimeout(timer);
  response.destroy();
  return Buffer.concat(chunks).toString('utf8');
}

/** The refused upgrade as the error its status calls for, with the body's `code` and nothing secret. */
function refusal(response: IncomingMessage, text: string, details: { provider: ProviderName; operation: string }, secrets: readonly string[]): SandboxProcsError {
  const status = response.statusCode ?? 0;
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // A plain-text refusal (e.g. axum's extractor rejections) is kept as text.
  }
  for (const secret of secrets) if (secret) body = redactDeep(body, secret);
  const record = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const code = typeof record.code === 'string' ? record.code : undefined;
  const said = [record.error, record.message].find((value): value is string => typeof value === 'string') ?? (typeof body === 'string' ? body.slice(0, 200) : '');
  const requestId = response.headers['x-request-id'];
  const retryAfter = Number(response.headers['retry-after']);
  const ErrorClass = status >= 200 && status < 300 ? UnexpectedResponseError : errorClassForStatus(status);
  return new ErrorClass(`the WebSocket upgrade was refused${said ? `: ${said}` : ''}`, {
    ...details,
    status,
    code,
    body,
    requestId: typeof requestId === 'string' ? requestId : undefined,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
  });
}

/** The open socket and its bounded queue of received messages. */
class Session implements WebSocketSession {
  private readonly queue: Array<{ message: ReceivedMessage; size: number }> = [];
  private queued = 0;
  private pauseCount = 0;
  private waiter: (() => void) | undefined;
  private ended: Closed | undefined;
  private failure: SandboxProcsError | undefined;
  readonly closed: Promise<Closed>;
  private resolveClosed!: (closed: Closed) => void;

  constructor(
    private readonly socket: WebSocketType,
    private readonly maxQueuedBytes: number,
    private readonly details: { provider: ProviderName; operation: string },
    private readonly scrub: (text: string) => string,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    // Listening from the start: messages that arrive with the upgrade's answer, in the
    // same read, are emitted before anyone could attach a listener after 'open'.
    socket.on('message', (data: RawData, binary: boolean) => this.receive(data, binary));
    socket.on('close', (code: number, reason: Buffer) => this.finish({ code, reason: this.scrub(reason.toString('utf8')) }));
    socket.on('error', (cause: Error) => {
      this.failure ??= new NetworkError(`the WebSocket failed: ${this.scrub(cause.message)}`, { ...this.details, cause: new Error(this.scrub(cause.message)) });
    });
  }

  get queuedBytes(): number {
    return this.queued;
  }

  get pauses(): number {
    return this.pauseCount;
  }

  /** Once the upgrade is done, the signal ends the session. */
  start(): void {
    const { socket } = this;
    if (this.signal) {
      const onAbort = () => {
        this.failure ??= new AbortedError('the session was cancelled', { ...this.details, cause: this.signal!.reason });
        socket.terminate();
      };
      if (this.signal.aborted) onAbort();
      else {
        this.signal.addEventListener('abort', onAbort, { once: true });
        void this.closed.then(() => this.signal!.removeEventListener('abort', onAbort));
      }
    }
  }

  private receive(data: RawData, binary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.queue.push({ message: binary ? { binary: true, bytes } : { binary: false, text: bytes.toString('utf8') }, size: bytes.length });
    this.queued += bytes.length;
    // Past the bound, stop reading: what the kernel holds, then the server's send buffer, waits instead.
    if (this.queued >= this.maxQueuedBytes && !this.socket.isPaused) {
      this.pauseCount++;
      this.socket.pause();
    }
    this.wake();
  }

  private finish(closed: Closed): void {
    this.ended = closed;
    this.resolveClosed(closed);
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  send(data: string | Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || this.socket.readyState !== this.socket.OPEN) {
      return Promise.reject(new NetworkError('the WebSocket is closed', { ...this.details, code: 'SESSION_CLOSED' }));
    }
    return new Promise((resolve, reject) =>
      this.socket.send(data, { binary: typeof data !== 'string' }, (cause) =>
        cause ? reject(new NetworkError(`could not send: ${this.scrub(cause.message)}`, { ...this.details, cause: new Error(this.scrub(cause.message)) })) : resolve(),
      ),
    );
  }

  close(code = 1000, reason = ''): void {
    if (this.socket.readyState === this.socket.CONNECTING || this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
    // A paused socket would never read the server's close frame.
    if (this.socket.isPaused) this.socket.resume();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedMessage> {
    try {
      for (;;) {
        // Cancelled: stop at once, whatever is still queued.
        if (this.failure instanceof AbortedError) throw this.failure;
        const next = this.queue.shift();
        if (next) {
          this.queued -= next.size;
          if (this.socket.isPaused && this.queued <= this.maxQueuedBytes / 2) this.socket.resume();
          yield next.message;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      // The consumer stopped early (break, throw): end the session rather than leave it paused.
      if (!this.ended) this.close();
    }
  }
}

/** The ws:// (or wss://) URL of `path` under an http(s) base URL, with `query` encoded. */
export function webSocketUrl(baseUrl: string, path: string, query: Record<string, string> = {}): string {
  const url = new URL(baseUrl + path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.href;
}
