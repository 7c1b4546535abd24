// What the contract engine keeps of a response, independently of the client: its
// status, content type and at most `maxBytes` of its body, taken as the client
// reads it (never a second copy of the whole body), and a wall-clock bound per
// check that ends every request of the check when it is over.
import { timerDelay } from '../core/sleep.js';
import type { ObservedResponse } from './validate.js';

/** A check went past its bound (or the engine stopped it): the reason is the finding. */
export class CheckStopped extends Error {}

export interface Recording {
  status: number;
  contentType: string | null;
  /** Bytes received so far, kept or not. */
  bytes: number;
  /** Bytes kept (in `chunks`). */
  kept: number;
  /** More than maxBytes came: only the first maxBytes are kept. */
  truncated: boolean;
  /** `open` while the body may still come; `broken`: the connection failed while it came. */
  state: 'open' | 'done' | 'broken' | 'cancelled';
  /** Why the body broke off (state `broken`). */
  error: unknown;
  readonly chunks: Uint8Array[];
  /** The body as handed on (undefined when the response has none). */
  readonly tapped: ReadableStream<Uint8Array> | undefined;
  readonly source: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** The request's signal: once it aborted, the rest of the body is gone. */
  readonly signal: AbortSignal | undefined;
}

/** How much of a cut body that is not an event stream is kept. */
const EVIDENCE_BYTES = 64 * 1024;
/** How much of an event stream is kept (and its events validated). */
export const STREAM_KEEP_BYTES = 1024 * 1024;

/** Keeps the first `bytes` of `chunks` (in place); returns how many it kept. */
function shrink(chunks: Uint8Array[], bytes: number): number {
  let kept = 0;
  let i = 0;
  for (; i < chunks.length && kept < bytes; i++) {
    const room = bytes - kept;
    if (chunks[i]!.byteLength > room) chunks[i] = chunks[i]!.slice(0, room);
    kept += chunks[i]!.byteLength;
  }
  chunks.length = i;
  return kept;
}

/** Statuses whose Response may not carry a body (the Fetch standard's null body statuses). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Records `response` as it is read: returns the response to hand on (its body
 * passes through unchanged, chunk by chunk, with no read-ahead) and the recording.
 * `pastCap` is called each time more is read once the cap was passed.
 */
export function tap(response: Response, maxBytes: number, pastCap: () => void, signal?: AbortSignal): { response: Response; recording: Recording } {
  const base = { status: response.status, contentType: response.headers.get('content-type'), bytes: 0, kept: 0, truncated: false, error: undefined, chunks: [] as Uint8Array[], signal };
  if (!response.body || NULL_BODY.has(response.status)) {
    return { response, recording: { ...base, state: 'done', tapped: undefined, source: undefined } };
  }
  const source = response.body.getReader();
  const recording: Recording = { ...base, state: 'open', tapped: undefined, source };
  // A JSON body is validated whole, so up to the cap is kept; once it is past the cap it is not
  // validated at all, and only its start is kept, as evidence. Of an event stream, the events
  // in its first STREAM_KEEP_BYTES are validated; the rest is counted, not kept.
  const stream = /^text\/event-stream\b/i.test(base.contentType ?? '');
  const keepLimit = stream ? Math.min(maxBytes, STREAM_KEEP_BYTES) : maxBytes;
  const keep = (chunk: Uint8Array) => {
    recording.bytes += chunk.byteLength;
    const room = keepLimit - recording.kept;
    if (room > 0) {
      const part = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
      recording.chunks.push(part);
      recording.kept += part.byteLength;
    }
    if (recording.bytes <= maxBytes) return;
    if (!recording.truncated) {
      recording.truncated = true;
      if (!stream) recording.kept = shrink(recording.chunks, EVIDENCE_BYTES);
    }
    pastCap();
  };
  const tapped = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await source.read();
        } catch (error) {
          if (recording.state === 'open') Object.assign(recording, { state: 'broken', error });
          controller.error(error);
          return;
        }
        if (result.done) {
          if (recording.state === 'open') recording.state = 'done';
          controller.close();
          return;
        }
        keep(result.value);
        controller.enqueue(result.value);
      },
      cancel(reason) {
        if (recording.state === 'open') recording.state = 'cancelled';
        return source.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  (recording as { tapped: ReadableStream<Uint8Array> }).tapped = tapped;
  return { response: new Response(tapped, { status: response.status, statusText: response.statusText, headers: response.headers }), recording };
}

/**
 * After the client is done: reads what nobody read (a raw probe's body, a body the
 * client never opened) up to the cap, and lets go of what somebody left half read.
 * The caller bounds it in time.
 */
export async function finish(recording: Recording): Promise<void> {
  if (recording.state !== 'open' || !recording.tapped) return;
  // Aborted (the client ended its stream early, as a run ends at its exit frame): the rest is not
  // coming. Node 20's fetch never settles a read of a body aborted after it had arrived whole.
  if (recording.tapped.locked || recording.signal?.aborted) {
    recording.state = 'cancelled';
    await recording.source?.cancel().catch(() => undefined);
    return;
  }
  const reader = recording.tapped.getReader();
  try {
    while (recording.state === 'open' && !recording.truncated) {
      if ((await reader.read()).done) break;
    }
  } catch {
    // recorded as broken by the tap
  } finally {
    if (recording.state === 'open') await reader.cancel().catch(() => undefined);
  }
}

/** Lets go of the body if it is still open (the check is over). */
export function release(recording: Recording): void {
  if (recording.state !== 'open') return;
  recording.state = 'cancelled';
  void recording.source?.cancel().catch(() => undefined);
}

/** What the validator sees: the kept bytes as text, and whether they are the whole body. */
export function observed(recording: Recording): ObservedResponse {
  const bodyText = Buffer.concat(recording.chunks).toString('utf8');
  return { status: recording.status, contentType: recording.contentType, bodyText, complete: recording.state === 'done' && !recording.truncated && recording.kept === recording.bytes };
}

/** Why a recorded body is not whole, in words; undefined when it is. */
export function cutShort(recording: Recording, maxBytes: number): string | undefined {
  if (recording.truncated) return `the response body is larger than ${maxBytes} bytes (only the first ${maxBytes} were read)`;
  if (recording.state === 'broken') {
    const error = recording.error;
    const detail = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
    return `the connection closed after the response headers: ${detail}`;
  }
  if (recording.state === 'cancelled' || recording.state === 'open') return 'the response body was not read to its end';
  return undefined;
}

/**
 * A wall-clock bound: `run` races work against it; `stop` ends it early; `end`
 * aborts `signal`, which every request of the check carries, so nothing of the
 * check outlives it.
 */
export interface Bound {
  readonly signal: AbortSignal;
  run<T>(work: Promise<T>): Promise<T>;
  stop(reason: string): void;
  end(): void;
}

export function createBound(ms: number, reason: string): Bound {
  const controller = new AbortController();
  let reject!: (error: CheckStopped) => void;
  const stopped = new Promise<never>((_, fail) => {
    reject = fail;
  });
  stopped.catch(() => undefined);
  const timer = setTimeout(() => reject(new CheckStopped(reason)), timerDelay(ms));
  return {
    signal: controller.signal,
    run: (work) => Promise.race([work, stopped]),
    stop: (why) => reject(new CheckStopped(why)),
    end() {
      clearTimeout(timer);
      controller.abort(new CheckStopped(reason));
    },
  };
}
