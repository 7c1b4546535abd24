// A TerminalSession over an open WebSocket, whatever the provider's framing: one
// pump reads the socket, decodes each message (the provider's codec), queues output
// up to a bound (past it the pump waits, the socket's own queue fills, and the socket
// is paused) and settles the exit code when the end comes, by message or by close.
import { AbortedError, SessionClosedError, type ProviderName } from '../errors.js';
import type { TerminalSession } from '../processes.js';
import { BoundedQueue } from './bounded-queue.js';
import { DEFAULT_MAX_QUEUED_BYTES, type Closed, type ReceivedMessage, type WebSocketSession } from './websocket.js';

/** One received message, read by the provider's codec. */
export type TerminalEvent = { output: Uint8Array } | { exit: number } | { ignore: true };

export interface TerminalCodec {
  provider: ProviderName;
  operation: string;
  /** The message as output or the end; throws a typed error for a message outside the contract. */
  decode(message: ReceivedMessage): TerminalEvent;
  /** The message that types `data`. */
  input(data: Uint8Array): string | Uint8Array;
  /** The most bytes one input message may carry; a longer write is sent in pieces. */
  maxInputBytes?: number;
  /** The message that resizes; throws ValidationError for a size the contract does not allow. */
  resize(cols: number, rows: number): string | Uint8Array;
  /** The exit code a close carries (Tensorlake's "exit:<code>"), if it carries one. */
  exitOfClose?(closed: Closed): number | undefined;
  /** Runs after the socket has closed, when the session is closed by its owner (e.g. kill the PTY). */
  onClose?(): Promise<void>;
}

const encoder = new TextEncoder();

export function terminalSession(socket: WebSocketSession, codec: TerminalCodec, maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES): TerminalSession {
  const details = { provider: codec.provider, operation: codec.operation };
  const output = new BoundedQueue<Uint8Array>(maxQueuedBytes);
  let settle!: { resolve: (code: number) => void; reject: (error: unknown) => void };
  const exitCode = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  // Nobody may await exitCode: its rejection is output's to report, never an unhandled one.
  exitCode.catch(() => undefined);
  let closing = false;
  // Once, whichever comes first: the owner's close() or a cancellation by its signal.
  let cleanedUp: Promise<void> | undefined;
  const cleanUp = () => (cleanedUp ??= codec.onClose?.() ?? Promise.resolve());

  const pump = async () => {
    let exit: number | undefined;
    try {
      for await (const message of socket) {
        const event = codec.decode(message);
        if ('output' in event) await output.push(event.output, event.output.length);
        else if ('exit' in event) {
          exit = event.exit;
          break;
        }
      }
      if (exit === undefined) {
        const closed = await socket.closed;
        exit = codec.exitOfClose?.(closed);
        if (exit === undefined && !closing) {
          throw new SessionClosedError(
            `the session ended without an exit code (close ${closed.code}${closed.reason ? ` "${closed.reason}"` : ''})`,
            closed.code,
            closed.reason,
            details,
          );
        }
      }
      if (exit === undefined) {
        const error = new SessionClosedError('the session was closed before the program exited', 1000, '', details);
        output.end();
        settle.reject(error);
        return;
      }
      output.end();
      settle.resolve(exit);
      socket.close();
    } catch (error) {
      output.end(error, error instanceof AbortedError);
      settle.reject(error);
      socket.close();
      // A cancelled session is ended as close() ends it (the neutral Tensorlake terminal's PTY is killed), not left running.
      if (error instanceof AbortedError) void socket.closed.then(cleanUp).catch(() => undefined);
    }
  };
  void pump();

  const close = async () => {
    closing = true;
    // Output nobody will read must not hold the pump (and so the socket's close) back.
    output.end();
    socket.close();
    await socket.closed;
    await cleanUp();
  };

  return {
    provider: codec.provider,
    async write(data) {
      const bytes = typeof data === 'string' ? encoder.encode(data) : data;
      const piece = codec.maxInputBytes ?? Math.max(bytes.length, 1);
      for (let at = 0; at < bytes.length; at += piece) await socket.send(codec.input(bytes.subarray(at, at + piece)));
    },
    resize: async (cols, rows) => socket.send(codec.resize(cols, rows)),
    output,
    exitCode,
    close,
    [Symbol.asyncDispose]: close,
  };
}
