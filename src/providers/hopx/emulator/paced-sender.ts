// How the HopX agent emulator sends its WebSocket messages: one at a time, each
// after the previous one was handed to the socket and a timer's turn has passed,
// with output coalesced into fewer, larger messages meanwhile. Why: @hopx-ai/sdk
// 0.5.1 loses messages that arrive in the same socket read (its WSClient.receive()
// arms `ws.once('message')` again only after a promise resolves: dist/chunk-
// JBQNY6QX.mjs, "src/ws-client.ts", receive and messages), so two messages sent
// back to back may reach it as one read and the second is never seen.
// Bounded: above `highWaterBytes` waiting unsent the source is asked to pause (a
// terminal, a streamed run's process: the program then waits at its next write),
// and to go on once under half of it. Output waits in at most `maxPendingBytes`:
// what a source prints beyond it, past its pause (a descendant that escaped its
// process's group and still holds the pipes after the process ended), is dropped
// and said so.
import type { WebSocket } from 'ws';

/** The most text one output message carries. */
const MAX_CHUNK_CHARS = 64 * 1024;
/** The pause between two messages, after the first was handed to the socket. */
const PACE_MS = 1;

type Entry = { kind: 'output'; type: string; text: string } | { kind: 'message'; body: object };

export interface PacedSenderOptions {
  /** Output held unsent at most (characters); beyond it, output is dropped and a note says how much. */
  maxPendingBytes?: number;
  /** Above this, `onBackedUp` is called; `onCaughtUp` once it is back under half of it. */
  highWaterBytes?: number;
  onBackedUp?: () => void;
  onCaughtUp?: () => void;
  /** The message that carries output of `type` (e.g. {type, data, timestamp}). */
  outputMessage: (type: string, text: string) => object;
}

export function createPacedSender(ws: WebSocket, options: PacedSenderOptions) {
  const maxPending = options.maxPendingBytes ?? 4 * 1024 * 1024;
  const highWater = options.highWaterBytes ?? 1024 * 1024;
  const queue: Entry[] = [];
  let pending = 0;
  let sending = false;
  let backedUp = false;
  let dropped = 0;
  let closeAfter: { code: number; reason: string } | undefined;

  const open = () => ws.readyState === ws.OPEN;

  function next(): void {
    if (sending) return;
    const entry = queue.shift();
    if (!entry) {
      if (closeAfter && open()) ws.close(closeAfter.code, closeAfter.reason);
      return;
    }
    if (!open()) {
      queue.length = 0;
      pending = 0;
      return;
    }
    let body: object;
    if (entry.kind === 'output') {
      pending -= entry.text.length;
      body = options.outputMessage(entry.type, entry.text);
    } else body = entry.body;
    if (backedUp && pending < highWater / 2) {
      backedUp = false;
      options.onCaughtUp?.();
    }
    sending = true;
    // A timer, then an immediate: between them the event loop polls once more, so a reader in this very
    // process (a test, a tool embedding the emulator) has read this message before the next one is written.
    ws.send(JSON.stringify(body), () => {
      setTimeout(() => {
        setImmediate(() => {
          sending = false;
          next();
        });
      }, PACE_MS);
    });
  }

  return {
    /** Output text of `type`, joined to the output waiting unsent where it can be. */
    output(type: string, text: string): void {
      if (text === '' || !open()) return;
      if (pending + text.length > maxPending) {
        dropped += text.length;
        return;
      }
      if (dropped > 0) {
        queue.push({ kind: 'output', type, text: `[sandbox-procs dropped ${dropped} characters of output: the client read too slowly]\n` });
        pending += queue.at(-1)!.kind === 'output' ? (queue.at(-1) as { text: string }).text.length : 0;
        dropped = 0;
      }
      const last = queue.at(-1);
      if (last?.kind === 'output' && last.type === type && last.text.length + text.length <= MAX_CHUNK_CHARS) last.text += text;
      else queue.push({ kind: 'output', type, text });
      pending += text.length;
      if (!backedUp && pending > highWater) {
        backedUp = true;
        options.onBackedUp?.();
      }
      next();
    },
    /** A message as is, after everything queued before it. */
    message(body: object): void {
      queue.push({ kind: 'message', body });
      next();
    },
    /** Closes the socket once everything queued has been sent. */
    close(code = 1000, reason = ''): void {
      closeAfter = { code, reason };
      next();
    },
    pendingBytes: () => pending,
  };
}

export type PacedSender = ReturnType<typeof createPacedSender>;
