// The Tensorlake daemon's PTY sessions (tensorlakeai/indexify at 30e36750:
// crates/container-daemon/src/pty_manager.rs, http_server.rs 632-1030): REST routes
// to create, list, read, resize and kill a session, and a WebSocket per client
// (`/api/v1/pty/{id}/ws?token=`) speaking pty-frames.ts. What the daemon does, the
// emulator does, with its numbers:
// - at most 64 sessions, exited ones included until they are cleaned up 60 s after
//   their exit (MAX_CONCURRENT_SESSIONS, SESSION_CLEANUP_DELAY_SECS): 429 TOO_MANY_SESSIONS;
// - rows clamped to 1..500, cols to 1..1000, defaults 24 x 80 (clamp_rows/clamp_cols);
// - output history: the newest 1 MiB, replayed to every client that connects
//   (OutputBuffer, MAX_OUTPUT_BUFFER_BYTES), held with live output until the client
//   sends READY, at most 1 MiB more, else close 1008 "pre-ready buffer overflow";
// - the session ends: close 1000 "exit:<code>" (-1 when no code); kill: close 1001
//   "session terminated"; messages of at most 64 KiB; input over 1 MiB/s: close 1008
//   "input rate limit exceeded"; a ping every 30 s, and a client that did not answer
//   the last one is dropped.
// A slow reader: the daemon never slows the program for a client. Its output reader
// keeps reading the PTY into a broadcast channel of 4096 messages
// (OUTPUT_CHANNEL_CAPACITY, reads of at most PTY_READ_BUF_SIZE = 4096 bytes); a client
// whose socket sends fall that far behind gets RecvError::Lagged and is closed with
// 1008 "output lagged by N messages" (http_server.rs handle_pty_websocket). The
// emulator does the same, so that a client written against it handles what the real
// daemon does: it counts a client's frames handed to the socket and not yet written,
// and closes it at 4096 (or at 16 MiB, 4096 reads' worth, whichever comes first), so
// the memory a client can hold is bounded whatever the program prints.
// Differences: a kill ends the whole terminal session at once with SIGKILL (the
// daemon sends SIGHUP to the leader and SIGKILL after 5 s); the 300 s inactivity
// kill of a session no client attaches to is not emulated.
import { randomBytes } from 'node:crypto';
import { access, constants as fsConstants, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { WebSocket } from 'ws';

import type { EmulatorContext, ProviderUpgrades } from '../../../emulator/emulator.js';
import type { Handler, Reply } from '../../../emulator/http.js';
import { SpawnInputError } from '../../../emulator/supervisor.js';
import { TerminalLimitError, type Terminal } from '../../../emulator/terminals.js';
import type { UpgradeDecision } from '../../../emulator/websocket.js';
import { PTY_OPCODE } from '../pty-frames.js';

const MAX_SESSIONS = 64;
const CLEANUP_DELAY_MS = 60_000;
const MAX_ROWS = 500;
const MAX_COLS = 1000;
const MAX_HISTORY_BYTES = 1_048_576;
const MAX_PRE_READY_BYTES = 1_048_576;
const WS_MAX_MESSAGE_BYTES = 65_536;
const MAX_INPUT_BYTES_PER_SEC = 1_048_576;
const PING_INTERVAL_MS = 30_000;
const LAG_MESSAGES = 4096;
const LAG_BYTES = 4096 * 4096;

const clamp = (value: number, max: number) => Math.min(Math.max(value, 1), max);

/** The daemon's session ids are nanoids: 21 characters of A-Za-z0-9_- (pty_manager.rs, nanoid::nanoid!()). */
function nanoid(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  return [...randomBytes(21)].map((byte) => alphabet[byte & 63]).join('');
}

/** Whether `command` names a program that exists (a path, or a name on PATH), as exec would find it. */
async function findProgram(command: string, env: Record<string, string> | undefined): Promise<boolean> {
  const executable = (path: string) => access(path, fsConstants.X_OK).then(() => true, () => false);
  if (command.includes('/')) return executable(command);
  const path = env?.PATH ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  for (const dir of path.split(delimiter)) if (isAbsolute(dir) && (await executable(join(dir, command)))) return true;
  return false;
}

interface Client {
  /** Output waiting for READY (the history first). */
  preReady: Buffer[] | undefined;
  preReadyBytes: number;
  /** Frames handed to the socket and not yet written out. */
  unsent: number;
  outputClosed: boolean;
  ws: WebSocket;
  close(code: number, reason: string): void;
  deliver(chunk: Buffer): void;
}

interface Session {
  id: string;
  token: string;
  terminal: Terminal;
  history: Buffer[];
  historyBytes: number;
  clients: Set<Client>;
  cancelled: boolean;
  cleanup?: NodeJS.Timeout;
}

export function createPtySessions(context: EmulatorContext) {
  const sessions = new Map<string, Session>();

  const info = (s: Session) => ({
    session_id: s.id,
    pid: s.terminal.pid,
    command: s.terminal.command,
    args: [...s.terminal.args],
    rows: s.terminal.rows,
    cols: s.terminal.cols,
    created_at: s.terminal.startedAt,
    // Left out while unknown, as the daemon's serde does (http_models.rs PtySessionInfo: skip_serializing_if Option::is_none).
    ...(s.terminal.endedAt != null && { ended_at: s.terminal.endedAt }),
    ...(s.terminal.exitCode != null && { exit_code: s.terminal.exitCode }),
    is_alive: s.terminal.running,
  });

  const notFound = (reply: Reply, id: string) => reply.error(404, `PTY session ${id} not found`, 'NOT_FOUND');

  /** Ends a session for good: its program and terminal session killed, its clients closed with 1001, gone from the list. */
  async function cancel(s: Session): Promise<void> {
    if (s.cancelled) return;
    s.cancelled = true;
    clearTimeout(s.cleanup);
    for (const client of s.clients) client.close(1001, 'session terminated');
    await s.terminal.kill();
    sessions.delete(s.id);
  }

  async function create(body: { command: string; args?: string[] | null; env?: Record<string, string> | null; working_dir?: string | null; rows?: number | null; cols?: number | null }, reply: Reply) {
    if (sessions.size >= MAX_SESSIONS) {
      return reply.error(429, `Maximum number of concurrent PTY sessions (${MAX_SESSIONS}) reached`, 'TOO_MANY_SESSIONS');
    }
    const cwd = body.working_dir ?? context.workdir;
    // The daemon's spawn fails for a missing program or directory: its 500 with anyhow's context. (A confined
    // sandbox's directories are its own view: there the terminal's program says so itself.)
    const missingDir = !context.isolation.confined && !(await stat(cwd).then((s) => s.isDirectory(), () => false));
    if (missingDir || !(await findProgram(body.command, body.env ?? undefined))) {
      return reply.error(500, 'Failed to spawn command on PTY');
    }
    let terminal: Terminal;
    try {
      terminal = await context.terminals.open({
        command: body.command,
        args: body.args ?? [],
        env: body.env ?? {},
        cwd,
        rows: clamp(body.rows ?? 24, MAX_ROWS),
        cols: clamp(body.cols ?? 80, MAX_COLS),
      });
    } catch (error) {
      if (error instanceof TerminalLimitError) return reply.error(429, error.message, 'TOO_MANY_SESSIONS');
      if (error instanceof SpawnInputError) return reply.error(500, `Failed to spawn command on PTY: ${error.message}`);
      return reply.error(500, `Failed to spawn command on PTY: ${(error as Error).message}`);
    }
    const session: Session = { id: nanoid(), token: randomBytes(32).toString('hex'), terminal, history: [], historyBytes: 0, clients: new Set(), cancelled: false };
    sessions.set(session.id, session);
    terminal.onData((chunk) => {
      session.history.push(chunk);
      session.historyBytes += chunk.length;
      while (session.historyBytes > MAX_HISTORY_BYTES) session.historyBytes -= session.history.shift()!.length;
      for (const client of session.clients) client.deliver(chunk);
    });
    void terminal.exited.then(() => {
      for (const client of session.clients) {
        client.outputClosed = true;
        // A client that has said READY gets the exit now; one that has not, once it does.
        if (!client.preReady) client.close(1000, `exit:${terminal.exitCode ?? -1}`);
      }
      if (!session.cancelled) session.cleanup = setTimeout(() => sessions.delete(session.id), CLEANUP_DELAY_MS).unref();
    });
    reply.json(201, { session_id: session.id, token: session.token });
  }

  function attach(s: Session, ws: WebSocket): void {
    let closed = false;
    let inputBytes = 0;
    let inputWindowStart = Date.now();
    let awaitingPong = false;
    const client: Client = {
      preReady: [...s.history],
      preReadyBytes: s.historyBytes,
      unsent: 0,
      outputClosed: !s.terminal.running,
      ws,
      close(code, reason) {
        if (closed) return;
        closed = true;
        s.clients.delete(client);
        clearInterval(ping);
        ws.close(code, reason);
      },
      deliver(chunk) {
        if (closed) return;
        if (client.preReady) {
          client.preReady.push(chunk);
          client.preReadyBytes += chunk.length;
          if (client.preReadyBytes > MAX_PRE_READY_BYTES) {
            client.preReady = undefined;
            client.close(1008, 'pre-ready buffer overflow');
          }
          return;
        }
        if (client.unsent >= LAG_MESSAGES || ws.bufferedAmount > LAG_BYTES) {
          // Closed at the byte bound, fewer than 4096 frames may be queued: this one is lost all the same, as the daemon's Lagged(n) is never 0.
          return client.close(1008, `output lagged by ${Math.max(1, client.unsent - LAG_MESSAGES + 1)} messages`);
        }
        client.unsent++;
        ws.send(Buffer.concat([Buffer.of(PTY_OPCODE.data), chunk]), () => client.unsent--);
      },
    };
    s.clients.add(client);
    const ping = setInterval(() => {
      if (awaitingPong) {
        closed = true;
        s.clients.delete(client);
        clearInterval(ping);
        return ws.terminate();
      }
      awaitingPong = true;
      ws.ping();
    }, PING_INTERVAL_MS).unref();
    ws.on('pong', () => (awaitingPong = false));
    ws.on('message', (data: Buffer, isBinary) => {
      awaitingPong = false;
      // Read as the daemon reads them (by the first byte; RESIZE needs 5 bytes at least); anything else is ignored.
      if (!isBinary || data.length === 0 || closed) return;
      if (data[0] === PTY_OPCODE.data) {
        const now = Date.now();
        if (now - inputWindowStart >= 1000) {
          inputBytes = 0;
          inputWindowStart = now;
        }
        inputBytes += data.length - 1;
        if (inputBytes > MAX_INPUT_BYTES_PER_SEC) return client.close(1008, 'input rate limit exceeded');
        if (s.terminal.running) void s.terminal.write(data.subarray(1));
      } else if (data[0] === PTY_OPCODE.resize && data.length >= 5) {
        if (s.terminal.running) s.terminal.resize(clamp(data.readUInt16BE(1), MAX_COLS), clamp(data.readUInt16BE(3), MAX_ROWS));
      } else if (data[0] === PTY_OPCODE.ready && client.preReady) {
        const held = client.preReady;
        client.preReady = undefined;
        client.preReadyBytes = 0;
        for (const chunk of held) client.deliver(chunk);
        if (client.outputClosed) client.close(1000, `exit:${s.terminal.exitCode ?? -1}`);
      }
    });
    ws.once('close', () => {
      closed = true;
      s.clients.delete(client);
      clearInterval(ping);
    });
  }

  const handlers: Record<string, Handler> = {
    sandbox_pty_create: (request, reply) => create(request.json as Parameters<typeof create>[0], reply),
    sandbox_pty_list: (_request, reply) => reply.json(200, { sessions: [...sessions.values()].map(info) }),
    sandbox_pty_get: (request, reply) => {
      const s = sessions.get(String(request.params.session_id));
      return s ? reply.json(200, info(s)) : notFound(reply, String(request.params.session_id));
    },
    sandbox_pty_delete: async (request, reply) => {
      const s = sessions.get(String(request.params.session_id));
      if (!s) return notFound(reply, String(request.params.session_id));
      // An exited session stays listed until its cleanup, as the daemon's kill_session returns early for it.
      if (s.terminal.running) await cancel(s);
      reply.empty(204);
    },
    // A plain GET of the WebSocket route: axum's WebSocketUpgrade extractor refuses it in plain text before the handler.
    sandbox_pty_connect: (_request, reply) => reply.text(400, "Connection header did not include 'upgrade'"),
    sandbox_pty_resize: (request, reply) => {
      const s = sessions.get(String(request.params.session_id));
      if (!s) return notFound(reply, String(request.params.session_id));
      const body = request.json as { rows: number; cols: number };
      // An exited session is resized too: the daemon keeps its PTY's master until the session is cleaned up (pty_manager.rs resize checks no is_alive).
      s.terminal.resize(clamp(body.cols, MAX_COLS), clamp(body.rows, MAX_ROWS));
      reply.empty(204);
    },
  };

  const upgrades: ProviderUpgrades = {
    routes: [
      {
        path: '/api/v1/pty/{session_id}/ws',
        name: 'sandbox_pty_connect',
        maxMessageBytes: WS_MAX_MESSAGE_BYTES,
        open({ params, query }): UpgradeDecision {
          const token = query.get('token');
          // axum's Query extractor refuses a request without it before the handler runs.
          if (token === null) return { refuse: { status: 400, message: 'Failed to deserialize query string: missing field `token`', text: true } };
          const s = sessions.get(params.session_id!);
          if (!s || s.cancelled || !constantTimeEqual(s.token, token)) return { refuse: { status: 403, message: 'Invalid token', code: 'INVALID_TOKEN' } };
          return { accept: (ws) => attach(s, ws) };
        },
      },
    ],
    // The daemon caps sessions at create, not clients; the emulator also bounds the clients attached at once
    // (its own bound, so that their buffers bound its memory), refused in the daemon's words for a cap.
    busy: { status: 429, code: 'TOO_MANY_SESSIONS' },
    maxSessions: 4 * MAX_SESSIONS,
  };

  return { handlers, upgrades, stopAll: () => Promise.all([...sessions.values()].map(cancel)) };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
