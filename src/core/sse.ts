// Server-Sent Events, parsed as the WHATWG HTML standard defines them: any line
// ending (CRLF, LF, CR) even when split across chunks, multi-line data, comments
// (keep-alives), event names, ids. Written here rather than imported because the
// client's only runtime dependency is openapi-fetch.
import { NetworkError, SandboxProcsError, TimeoutError, UnexpectedResponseError, type ProviderName } from '../errors.js';
import { parseJson } from './decode.js';
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
 */
export function createSseDecoder(): { push(chunk: string): SseEvent[]; end(): SseEvent[] } {
  let buffer = '';
  let started = false;
  let data: string[] = [];
  let event = '';
  let id: string | undefined;

  function take(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\n|\r/.exec(buffer);
      // A lone CR at the end of a chunk may be the first half of a CRLF: wait for more.
      if (!match || (!final && match[0] === '\r' && match.index === buffer.length - 1)) return events;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === '') {
        if (data.length > 0) events.push({ event: event || 'message', data: data.join('\n'), ...(id === undefined ? {} : { id }) });
        data = [];
        event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id' && !value.includes('\0')) id = value;
    }
  }

  return {
    push(chunk) {
      buffer += started ? chunk : chunk.replace(/^\uFEFF/, '');
      started = started || chunk.length > 0;
      return take(false);
    },
    end: () => take(true),
  };
}

/** The events of a whole SSE body held as text. */
export function parseSseText(text: string): SseEvent[] {
  const decoder = createSseDecoder();
  return [...decoder.push(text), ...decoder.end()];
}

/** The events of a stream of text chunks, as they complete. */
export async function* parseSse(chunks: AsyncIterable<string>): AsyncGenerator<SseEvent> {
  const decoder = createSseDecoder();
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
        timer = setTimeout(() => reject(new TimeoutError(`the stream sent nothing for ${idleTimeoutMs} ms`, context)), idleTimeoutMs);
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
  context: { provider: ProviderName; operation: string; status: number; idleTimeoutMs: number },
): AsyncGenerator<JsonEvent> {
  const { provider, operation, status } = context;
  try {
    for await (const event of parseSse(decodeText(stream.body, context.idleTimeoutMs, { provider, operation }))) {
      const parsed = parseJson(event.data);
      if (!parsed.ok) {
        throw new UnexpectedResponseError(`a "${event.event}" event carries data that is not JSON`, { provider, operation, status, code: 'INVALID_EVENT' });
      }
      yield { event: event.event, data: parsed.value };
    }
  } catch (cause) {
    if (cause instanceof SandboxProcsError) throw cause;
    throw new NetworkError(`the stream broke: ${cause instanceof Error ? cause.message : String(cause)}`, { provider, operation, status, cause });
  } finally {
    stream.stop();
  }
}
