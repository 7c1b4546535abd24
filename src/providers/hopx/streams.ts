// HopX's agent WebSockets: /execute/stream (runCodeStream) and /terminal. Messages are
// JSON text frames told apart by `type`, checked against specs/hopx.yaml's schemas
// (x-messages of execute_stream and terminal_connect); their order and ends are
// specs/hopx.asyncapi.yaml's.
import type { components } from '../../../generated/hopx.js';
import { operations } from '../../../generated/hopx.operations.js';
import { SessionClosedError } from '../../errors.js';
import { checkIncomingJson, checkOutgoing, messageRules, outsideContract } from '../../core/messages.js';
import type { OperationTable } from '../../core/operation.js';
import { terminalSession, type TerminalEvent } from '../../core/terminal-session.js';
import type { Upgrade } from '../../core/transport.js';
import { openWebSocket, webSocketUrl, type ReceivedMessage } from '../../core/websocket.js';
import type { OpenTerminalOptions, TerminalSession } from '../../processes.js';

type Schemas = components['schemas'];
/** What runCodeStream runs: the code, its language, and optional time limit (seconds), working directory and environment. */
export type HopxStreamRequest = Omit<components['schemas']['StreamExecuteMessage'], 'type'>;
/** One message of a streamed run: stdout, stderr, result, error, and `complete` last. */
export type HopxStreamMessage = Schemas['StreamServerMessage'];
/** What runCodeStream and openTerminal take: a signal that cancels the opening, then the session. */
export interface HopxStreamOptions {
  /** Cancels the opening, then ends the stream: the iteration fails with AbortedError. */
  signal?: AbortSignal;
}

const executeRules = messageRules('hopx', 'execute_stream', (operations as OperationTable).execute_stream!);
const terminalRules = messageRules('hopx', 'terminal_connect', (operations as OperationTable).terminal_connect!);

/** A whitespace-only text frame carries nothing; both SDKs skip such frames ("empty message protection", javascript/src/ws-client.ts). */
const isBlank = (message: ReceivedMessage) => !message.binary && message.text.trim() === '';

function open(upgrade: Upgrade, operation: 'execute_stream' | 'terminal_connect', path: string, signal: AbortSignal | undefined) {
  return upgrade(operation, (init) =>
    openWebSocket({
      provider: 'hopx',
      operation,
      url: webSocketUrl(init.baseUrl, path),
      headers: init.headers,
      secrets: init.secrets,
      signal,
      handshakeTimeoutMs: init.timeoutMs,
      maxMessageBytes: init.maxMessageBytes,
    }),
  );
}

/** Runs code over /execute/stream: yields each message as it comes, ending after `complete`. */
export async function* runCodeStream(
  upgrade: Upgrade,
  request: HopxStreamRequest,
  options: HopxStreamOptions = {},
): AsyncGenerator<HopxStreamMessage, void, undefined> {
  const execute = { type: 'execute', ...request };
  checkOutgoing(executeRules, execute);
  const socket = await open(upgrade, 'execute_stream', '/execute/stream', options.signal);
  try {
    await socket.send(JSON.stringify(execute));
    for await (const received of socket) {
      if (isBlank(received)) continue;
      if (received.binary) throw outsideContract(executeRules, 'a binary message (the stream sends JSON text)');
      const message = checkIncomingJson<HopxStreamMessage>(executeRules, received.text);
      yield message;
      if (message.type === 'complete') return;
    }
    const closed = await socket.closed;
    throw new SessionClosedError(`the stream ended before \`complete\` (close ${closed.code})`, closed.code, closed.reason, { provider: 'hopx', operation: 'execute_stream' });
  } finally {
    socket.close();
  }
}

const encoder = new TextEncoder();

/** A shell on the agent's /terminal. */
export async function openTerminal(upgrade: Upgrade, options: OpenTerminalOptions = {}): Promise<TerminalSession> {
  // Checked before anything opens: a size the contract refuses is the caller's mistake.
  const size = options.cols !== undefined || options.rows !== undefined ? { type: 'resize', cols: options.cols ?? 80, rows: options.rows ?? 24 } : undefined;
  if (size) checkOutgoing(terminalRules, size);
  const socket = await open(upgrade, 'terminal_connect', '/terminal', options.signal);
  // Input written as bytes may split a character; the decoder carries the rest to the next write.
  const decoder = new TextDecoder('utf-8');
  const session = terminalSession(socket, {
    provider: 'hopx',
    operation: 'terminal_connect',
    decode(received): TerminalEvent {
      if (isBlank(received)) return { ignore: true };
      if (received.binary) throw outsideContract(terminalRules, 'a binary message (the terminal sends JSON text)');
      const message = checkIncomingJson<Schemas['TerminalServerMessage']>(terminalRules, received.text);
      return message.type === 'output' ? { output: encoder.encode(message.data) } : { exit: message.code };
    },
    input: (bytes) => JSON.stringify({ type: 'input', data: decoder.decode(bytes, { stream: true }) }),
    resize(cols, rows) {
      const message = { type: 'resize', cols, rows };
      checkOutgoing(terminalRules, message);
      return JSON.stringify(message);
    },
  });
  if (size) await session.resize(size.cols, size.rows);
  return session;
}
