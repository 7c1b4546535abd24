// Server-Sent Events, parsed as the WHATWG HTML standard defines them: any line
// ending (CRLF, LF, CR) even when split across chunks, multi-line data, comments
// (keep-alives), event names, ids. Written here rather than imported because the
// client's only runtime dependency is openapi-fetch.
import { NetworkError, SandboxProcsError, TimeoutError, UnexpectedResponseError, type ProviderName } from '../errors.js';
import { parseJson } from './decode.js';
import { timerDelay } from './sleep.js';
import type { OpenStream } from './transport.js';

export interface SseEvent {
  /** The `event:` field, or "message" when the frame names none. */
  event: string;
  data: string;
  id?: string;
}

/**
 * An incremental SSE decoder: feed it text as it arrives, take the events it
 * completes. An unterminated last event is dropped at the end, as the standard says.
 * Each chunk is scanned once (a long line costs linear time, not quadratic), and an
 * event (its pending line and data) longer than `maxEventChars` throws
 * SseEventTooLargeError, so an endless line cannot grow without bound.
 */
export function createSseDecoder(options: { maxEventChars?: number } = {}): { push(chunk: string): SseEvent[]; end(): SseEvent[] } {
  const maxEventChars = options.maxEventChars ?? Infinity;
  /** The current line so far, in pieces (joined only when the line ends). */
  let pending: string[] = [];
  let pendingChars = 0;
  /** The previous chunk ended with CR: a LF at the start of this one belongs to it. */
  let skipLf = false;
  let started = false;
  let data: string[] = [];
  let dataChars = 0;
  let event = '';
  let id: string | undefined;

  function line(text: string, events: SseEvent[]): void {
    if (text === '') {
      if (data.length > 0) events.push({ event: event || 'message', data: data.join('\n'), ...(id === undefined ? {} : { id }) });
      data = [];
      dataChars = 0;
      event = '';
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data.push(value);
      dataChars += value.length + 1;
    } else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
  }

  function tooLarge(): void {
    if (pendingChars + dataChars > maxEventChars) throw new SseEventTooLargeError(maxEventChars);
  }

  return {
    push(chunk) {
      let text = started ? chunk : chunk.replace(/^\uFEFF/, '');
      started = started || chunk.length > 0;
      if (skipLf && text.startsWith('\n')) text = text.slice(1);
      if (text.length > 0) skipLf = false;
      const events: SseEvent[] = [];
      let start = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        const piece = text.slice(start, i);
        const whole = pending.length === 0 ? piece : (pending.push(piece), pending.join(''));
        pending = [];
        pendingChars = 0;
        line(whole, events);
        tooLarge();
        if (c === 13) {
          if (i + 1 < text.length) {
            if (text.charCodeAt(i + 1) === 10) i++;
          } else skipLf = true;
        }
        start = i + 1;
      }
      if (start < text.length) {
        pending.push(text.slice(start));
        pendingChars += text.length - start;
        tooLarge();
      }
      return events;
    },
    end() {
      // An unterminated last line cannot complete an event: it is dropped with the rest.
      pending = [];
      pendingChars = 0;
      return [];
    },
  };
}

/** An SSE event (with its unfinished line) went past the decoder's limit. */
export class SseEventTooLargeError extends Error {
  constructor(readonly maxEventChars: number) {
    super(`an event is longer than ${maxEventChars} characters`);
  }
}

/** The events of a whole SSE body held as text. */
export function parseSseText(text: string): SseEvent[] {
  const decoder = createSseDecoder();
  return [...decoder.push(text), ...decoder.end()];
}

/** The events of a stream of text chunks, as they complete. */
export async function* parseSse(chunks: AsyncIterable<string>, options: { maxEventChars?: number } = {}): AsyncGenerator<SseEvent> {
  const decoder = createSseDecoder(options);
  for await (const chunk of chunks) yield* decoder.push(chunk);
  yield* decoder.end();
}

/** The body's text, chunk by chunk; a silence longer than idleTimeoutMs throws TimeoutError. */
async function* decodeText(
  body: ReadableStream<Uint8Array>,
  idleTimeoutMs: number,
  context: { provider: ProviderName; operation: string },
): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`the stream sent nothing for ${idleTimeoutMs} ms`, context)), timerDelay(idleTimeoutMs));
      });
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (result.done) break;
      yield decoder.decode(result.value, { stream: true });
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } finally {
    reader.releaseLock();
  }
}

export interface JsonEvent {
  event: string;
  data: unknown;
}

/**
 * The events of an open SSE response with their data parsed as JSON. Any failure
 * while reading is a typed error; the connection is closed when iteration ends,
 * however it ends.
 */
export async function* readJsonEvents(
  stream: OpenStream,
  context: { provider: ProviderName; operation: string; status: number; idleTimeoutMs: number; maxEventBytes?: number },
): AsyncGenerator<JsonEvent> {
  const { provider, operation, status } = context;
  try {
    const events = parseSse(decodeText(stream.body, context.idleTimeoutMs, { provider, operation }), { maxEventChars: context.maxEventBytes });
    for await (const event of events) {
      const parsed = parseJson(event.data);
      if (!parsed.ok) {
        throw new UnexpectedResponseError(`a "${event.event}" event carries data that is not JSON`, { provider, operation, status, code: 'INVALID_EVENT' });
      }
      yield { event: event.event, data: parsed.value };
    }
  } catch (cause) {
    if (cause instanceof SandboxProcsError) throw cause;
    if (cause instanceof SseEventTooLargeError) {
      throw new UnexpectedResponseError(`an event is longer than ${cause.maxEventChars} characters (maxResponseBytes)`, { provider, operation, status, code: 'EVENT_TOO_LARGE' });
    }
    throw new NetworkError(`the stream broke: ${cause instanceof Error ? cause.message : String(cause)}`, { provider, operation, status, cause });
  } finally {
    stream.stop();
  }
}
