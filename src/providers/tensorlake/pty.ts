// Tensorlake PTY sessions: the REST operations (create, list, get, resize, kill)
// through the client's transport, and the session's WebSocket (/api/v1/pty/{id}/ws):
// binary frames (pty-frames.ts) checked against specs/tensorlake.yaml's schemas,
// READY sent on connect (the daemon holds output until it comes), the exit code from
// the close reason "exit:<code>" or an EXIT frame, whichever comes.
import type { Client } from 'openapi-fetch';
import type { components, paths } from '../../../generated/tensorlake.js';
import { operations } from '../../../generated/tensorlake.operations.js';
import { NetworkError, NotFoundError, ValidationError } from '../../errors.js';
import { listIn } from '../../core/decode.js';
import { checkOutgoing, messageRules, messageViolation, outsideContract } from '../../core/messages.js';
import type { OperationTable } from '../../core/operation.js';
import type { RequestOptions } from '../../core/options.js';
import { terminalSession, type TerminalEvent } from '../../core/terminal-session.js';
import type { Transport, Upgrade } from '../../core/transport.js';
import { findRequestViolation } from '../../core/validate-input.js';
import { openWebSocket, webSocketUrl } from '../../core/websocket.js';
import type { OpenTerminalOptions, TerminalSession } from '../../processes.js';
import { decodePtyFrame, encodePtyFrame, exitCodeOfCloseReason } from './pty-frames.js';

type Schemas = components['schemas'];
/** What createPty starts: a command (with args, env, working_dir) on a terminal of `rows` x `cols`. */
export type TensorlakePtyRequest = Schemas['CreatePtySessionRequest'];
/** A new PTY session's ID and its token: the token is a secret that connectPty needs. */
export type TensorlakePtyCreated = Schemas['CreatePtySessionResponse'];
/** A PTY session's record: its process, size, times, exit code, whether it is alive (never its token). */
export type TensorlakePtyInfo = Schemas['PtySessionInfo'];
/** A terminal size, for resizePty. */
export type TensorlakePtySize = Schemas['ResizePtyRequest'];

/** A Tensorlake PTY session attached over its WebSocket. */
export interface TensorlakePtySession extends TerminalSession {
  /** The session's ID: attach again with connectPty(sessionId, token). */
  readonly sessionId: string;
}

/** A PTY session createPty made and attached: with its token. */
export interface TensorlakeNewPty extends TensorlakePtySession {
  /** The session's token, a secret (not enumerable: a logged session does not show it); attach again with connectPty(sessionId, token). */
  readonly token: string;
}

/** What createPty and connectPty take: a signal that cancels the opening, then the session. */
export interface TensorlakePtyOptions {
  /** Cancels the opening (createPty: the creation too), then ends the session: output and exitCode reject with AbortedError. */
  signal?: AbortSignal;
}

const CONNECT = 'sandbox_pty_connect';
const table = operations as OperationTable;
const frameRules = messageRules('tensorlake', CONNECT, table[CONNECT]!);
/** The daemon's largest message is 64 KiB (http_server.rs WS_MAX_MESSAGE_SIZE): input goes in pieces that fit with the opcode. */
const MAX_INPUT_BYTES = 65_536 - 1;

/** What node:http lets a header value hold (the daemon's tokens are 64 hex digits). */
const HEADER_VALUE = /^[\x21-\x7e]+$/;

type Call = Transport<paths, typeof operations>['call'];

export function ptyMethods(api: Client<paths>, call: Call, upgrade: Upgrade) {
  const at = (session_id: string) => ({ path: { session_id } });

  async function connectPty(sessionId: string, token: string, options: TensorlakePtyOptions = {}, onClose?: () => Promise<void>): Promise<TensorlakePtySession> {
    const problem = findRequestViolation(table[CONNECT]!, { path: { session_id: sessionId }, query: { token } });
    if (problem) throw new ValidationError(problem, { provider: 'tensorlake', operation: CONNECT });
    const socket = await upgrade(CONNECT, (init) =>
      openWebSocket({
        provider: 'tensorlake',
        operation: CONNECT,
        url: webSocketUrl(init.baseUrl, `/api/v1/pty/${encodeURIComponent(sessionId)}/ws`, { token }),
        // The official SDK sends the token in a header too (the daemon reads the query);
        // a token no header can carry goes in the query alone.
        headers: HEADER_VALUE.test(token) ? { ...init.headers, 'X-PTY-Token': token } : init.headers,
        secrets: [...init.secrets, token],
        signal: options.signal,
        handshakeTimeoutMs: init.timeoutMs,
        maxMessageBytes: init.maxMessageBytes,
      }),
    );
    const session = terminalSession(socket, {
      provider: 'tensorlake',
      operation: CONNECT,
      decode(received): TerminalEvent {
        if (!received.binary) throw outsideContract(frameRules, 'a text message (the session sends binary frames)');
        const frame = decodePtyFrame(received.bytes);
        if ('problem' in frame) throw outsideContract(frameRules, frame.problem);
        // Checked in its decoded form, as the spec describes frames: DATA's bytes stand in as a string.
        const problem = messageViolation(frameRules.server, frame.op === 'data' ? { op: 'data', data: '' } : frame);
        if (problem) throw outsideContract(frameRules, problem);
        if (frame.op === 'data') return { output: frame.data };
        return { exit: (frame as { code: number }).code };
      },
      input: (data) => encodePtyFrame({ op: 'data', data }),
      maxInputBytes: MAX_INPUT_BYTES,
      resize(cols, rows) {
        checkOutgoing(frameRules, { op: 'resize', cols, rows });
        return encodePtyFrame({ op: 'resize', cols, rows });
      },
      exitOfClose: (closed) => (closed.code === 1000 ? exitCodeOfCloseReason(closed.reason) : undefined),
      ...(onClose && { onClose }),
    });
    // Until READY the daemon holds the session's output (up to 1 MiB, then it closes 1008).
    // A session that closed before READY went out (that 1008, or its program's exit) is
    // returned all the same: its output and exitCode say how it ended, as for any close.
    await socket.send(encodePtyFrame({ op: 'ready' })).catch((error: unknown) => {
      if (!(error instanceof NetworkError && error.code === 'SESSION_CLOSED')) throw error;
    });
    return Object.assign(session, { sessionId });
  }

  const methods = {
    /** Creates a PTY session (POST /api/v1/pty): its ID and token, nothing attached. */
    createPtySession: (body: TensorlakePtyRequest, options?: RequestOptions) =>
      call<TensorlakePtyCreated>('sandbox_pty_create', { body }, (init) => api.POST('/api/v1/pty', { body, ...init }), options),
    async createPty(body: TensorlakePtyRequest, options: TensorlakePtyOptions = {}): Promise<TensorlakeNewPty> {
      const created = await methods.createPtySession(body, options.signal ? { signal: options.signal } : undefined);
      try {
        const session = await connectPty(created.session_id, created.token, options);
        // Not enumerable: a logged session object does not show its secret.
        return Object.defineProperty(session, 'token', { value: created.token, enumerable: false }) as TensorlakeNewPty;
      } catch (error) {
        // Nobody can reach a session whose attach failed: kill it, as the official SDK does.
        await methods.killPty(created.session_id).catch(() => undefined);
        throw error;
      }
    },
    connectPty: (sessionId: string, token: string, options?: TensorlakePtyOptions) => connectPty(sessionId, token, options),
    async listPtys(options?: RequestOptions): Promise<TensorlakePtyInfo[]> {
      const list = await call<unknown>('sandbox_pty_list', {}, (init) => api.GET('/api/v1/pty', init), options);
      return listIn<TensorlakePtyInfo>(list, 'sessions', { provider: 'tensorlake', operation: 'sandbox_pty_list' });
    },
    getPty: (sessionId: string, options?: RequestOptions) =>
      call<TensorlakePtyInfo>('sandbox_pty_get', at(sessionId), (init) => api.GET('/api/v1/pty/{session_id}', { params: at(sessionId), ...init }), options),
    resizePty: (sessionId: string, body: TensorlakePtySize, options?: RequestOptions) =>
      call<void>(
        'sandbox_pty_resize',
        { ...at(sessionId), body },
        (init) => api.POST('/api/v1/pty/{session_id}/resize', { params: at(sessionId), body, ...init }),
        options,
      ),
    killPty: (sessionId: string, options?: RequestOptions) =>
      call<void>('sandbox_pty_delete', at(sessionId), (init) => api.DELETE('/api/v1/pty/{session_id}', { params: at(sessionId), ...init }), options),
    /** The neutral terminal: a PTY running /bin/sh, killed when the session is closed. */
    async openTerminal(options: OpenTerminalOptions = {}): Promise<TerminalSession> {
      const created = await methods.createPtySession(
        { command: '/bin/sh', rows: options.rows ?? 24, cols: options.cols ?? 80 },
        options.signal ? { signal: options.signal } : undefined,
      );
      const kill = () => methods.killPty(created.session_id).catch((error: unknown) => (error instanceof NotFoundError ? undefined : Promise.reject(error)));
      try {
        return await connectPty(created.session_id, created.token, options, kill);
      } catch (error) {
        await kill().catch(() => undefined);
        throw error;
      }
    },
  };
  return methods;
}
