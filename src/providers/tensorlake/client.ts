// Tensorlake's sandbox process API, in the vocabulary of its own SDKs.
import type { components, paths } from '../../../generated/tensorlake.js';
import { operations } from '../../../generated/tensorlake.operations.js';
import { UnexpectedResponseError, ValidationError } from '../../errors.js';
import { listIn } from '../../core/decode.js';
import type { ClientOptions, RequestOptions } from '../../core/options.js';
import type { JsonEvent } from '../../core/sse.js';
import { createTransport } from '../../core/transport.js';
import type { OpenTerminalOptions, SandboxProcesses, TerminalSession } from '../../processes.js';
import { tensorlakeProcesses } from './processes.js';
import { ptyMethods, type TensorlakeNewPty, type TensorlakePtyCreated, type TensorlakePtyInfo, type TensorlakePtyOptions, type TensorlakePtyRequest, type TensorlakePtySession, type TensorlakePtySize } from './pty.js';

export type { TensorlakeNewPty, TensorlakePtyCreated, TensorlakePtyInfo, TensorlakePtyOptions, TensorlakePtyRequest, TensorlakePtySession, TensorlakePtySize } from './pty.js';

type Schemas = components['schemas'];
/** A process in the sandbox: its PID, or the name a managed process was started with. */
export type TensorlakePid = components['parameters']['Pid'];
/** A process's record as the daemon returns it (`ProcessInfo` in specs/tensorlake.yaml). */
export type TensorlakeProcessInfo = Schemas['ProcessInfo'];
/** The daemon's status words for a process. */
export type TensorlakeProcessStatus = Schemas['ProcessStatus'];
/** The body of startProcess: command, args, env, working directory, stdin mode, and for a managed process its name and policy. */
export type TensorlakeStartProcessRequest = Schemas['StartProcessRequest'];
/** The body of run: what to start and stream to its end. */
export type TensorlakeRunRequest = Schemas['RunProcessRequest'];
/** The answer to sendSignal. */
export type TensorlakeSignalResult = Schemas['SignalResponse'];
/** The captured lines of one or both output streams, as getStdout, getStderr and getOutput return them. */
export type TensorlakeOutput = Schemas['OutputResponse'];
/** The daemon's health answer. */
export type TensorlakeHealth = Schemas['HealthResponse'];
/** The daemon's version, uptime and process counts. */
export type TensorlakeInfo = Schemas['InfoResponse'];
/** One line of a follow stream, with when it was captured. */
export type TensorlakeOutputEvent = Schemas['OutputEvent'];
/** One event of a follow stream: an output line, or `eof` once the process's output has ended. */
export type TensorlakeFollowEvent =
  | ({
      /** An output line. */
      type: 'output';
    } & TensorlakeOutputEvent)
  | {
      /** The process's output has ended; the stream ends after it. */
      type: 'eof';
    };
/** The first frame of run's stream: the started process's PID. */
export type TensorlakeRunStartedEvent = Schemas['RunStartedEvent'];
/** An output line of run's stream. */
export type TensorlakeRunOutputEvent = Schemas['RunOutputEvent'];
/** The last frame of run's stream: the process's exit code or signal. */
export type TensorlakeRunExitEvent = Schemas['RunExitEvent'];
/** One event of run's stream: `started` (its PID), `output` (a line), then `exit` (its exit code or signal). */
export type TensorlakeRunEvent =
  | ({
      /** The process started. */
      type: 'started';
    } & TensorlakeRunStartedEvent)
  | ({
      /** An output line. */
      type: 'output';
    } & TensorlakeRunOutputEvent)
  | ({
      /** The process ended; the stream ends after it. */
      type: 'exit';
    } & TensorlakeRunExitEvent);

/** The options of createTensorlakeClient: those every client takes. */
export type TensorlakeClientOptions = ClientOptions;

/**
 * Tensorlake's sandbox process API (the sandbox daemon's `/api/v1/processes`), in
 * the vocabulary of Tensorlake's own SDKs. Every call checks its input against the
 * spec before sending (ValidationError) and rejects with a SandboxProcsError
 * subclass: NotFoundError, AuthenticationError, InvalidRequestError, TimeoutError,
 * NetworkError, AbortedError, UnexpectedResponseError when the answer breaks the
 * spec. Every call takes RequestOptions (cancel it, or allow retries).
 */
export interface TensorlakeClient {
  /** Always `'tensorlake'`. */
  readonly provider: 'tensorlake';
  /** Spawns a process in the sandbox and returns at once with its record (PID, status). Not retried unless `retryNonIdempotent`. */
  startProcess(request: TensorlakeStartProcessRequest, options?: RequestOptions): Promise<TensorlakeProcessInfo>;
  /** Every process started in the sandbox, running or finished. */
  listProcesses(options?: RequestOptions): Promise<TensorlakeProcessInfo[]>;
  /** Throws NotFoundError when no such process exists. */
  getProcess(pid: TensorlakePid, options?: RequestOptions): Promise<TensorlakeProcessInfo>;
  /** Sends a POSIX signal by number (e.g. 15, SIGTERM). InvalidRequestError (400) for an invalid signal or a process that is not running. */
  sendSignal(pid: TensorlakePid, signal: number, options?: RequestOptions): Promise<TensorlakeSignalResult>;
  /**
   * SIGKILL the process (a managed one stops being restarted). Throws NotFoundError
   * when no such process exists, and ServerError (500) when the daemon still
   * tracks it but it is no longer running.
   */
  killProcess(pid: TensorlakePid, options?: RequestOptions): Promise<void>;
  /** Stop and start again a managed process (one started with `name`, `restart` or `health_check`); its PID changes. */
  restartProcess(pid: TensorlakePid, options?: RequestOptions): Promise<TensorlakeProcessInfo>;
  /** Write bytes (a string is sent as UTF-8) to a process started with `stdin_mode: 'pipe'`. */
  writeStdin(pid: TensorlakePid, data: string | Uint8Array, options?: RequestOptions): Promise<void>;
  /** Closes the process's stdin so that it reads end-of-file; closing again is harmless. InvalidRequestError when stdin is not a pipe. */
  closeStdin(pid: TensorlakePid, options?: RequestOptions): Promise<void>;
  /** The captured lines of the process's standard output so far. */
  getStdout(pid: TensorlakePid, options?: RequestOptions): Promise<TensorlakeOutput>;
  /** The captured lines of the process's standard error so far. */
  getStderr(pid: TensorlakePid, options?: RequestOptions): Promise<TensorlakeOutput>;
  /** The captured lines of standard output and error so far, interleaved. */
  getOutput(pid: TensorlakePid, options?: RequestOptions): Promise<TensorlakeOutput>;
  /** Captured then live lines; ends after the `eof` event. The request goes out on the first iteration. */
  followStdout(pid: TensorlakePid, options?: RequestOptions): AsyncGenerator<TensorlakeFollowEvent>;
  /** As followStdout, for standard error. */
  followStderr(pid: TensorlakePid, options?: RequestOptions): AsyncGenerator<TensorlakeFollowEvent>;
  /** As followStdout, for standard output and error interleaved. */
  followOutput(pid: TensorlakePid, options?: RequestOptions): AsyncGenerator<TensorlakeFollowEvent>;
  /**
   * Start a process and stream it to its end: `started`, `output`..., `exit`.
   * Keep-alive frames are skipped. A stream that ends without the exit frame
   * throws UnexpectedResponseError (INCOMPLETE_STREAM).
   */
  run(request: TensorlakeRunRequest, options?: RequestOptions): AsyncGenerator<TensorlakeRunEvent>;
  /** Whether the sandbox daemon is healthy. */
  health(options?: RequestOptions): Promise<TensorlakeHealth>;
  /** The sandbox daemon's version, uptime and process counts. */
  info(options?: RequestOptions): Promise<TensorlakeInfo>;
  /** Creates a PTY session (a command on a pseudo-terminal) without attaching: its ID and its token (a secret). Not retried unless `retryNonIdempotent`. */
  createPtySession(request: TensorlakePtyRequest, options?: RequestOptions): Promise<TensorlakePtyCreated>;
  /**
   * Creates a PTY session and attaches to it over its WebSocket (see TerminalSession);
   * if attaching fails, the session is killed. `token` (not enumerable) attaches again
   * with connectPty. Closing the session detaches; the program runs on until it exits
   * or killPty. 429 TOO_MANY_SESSIONS (RateLimitError) past the daemon's 64. Needs the optional peer `ws`.
   */
  createPty(request: TensorlakePtyRequest, options?: TensorlakePtyOptions): Promise<TensorlakeNewPty>;
  /**
   * Attaches to a PTY session over its WebSocket, sending READY so that its output
   * (what it printed before, then live) flows. A wrong token or an unknown session is
   * the daemon's 403 INVALID_TOKEN (AuthenticationError). The token is never in an error. Needs the optional peer `ws`.
   */
  connectPty(sessionId: string, token: string, options?: TensorlakePtyOptions): Promise<TensorlakePtySession>;
  /** Every PTY session the daemon holds (alive, or ended within the last minute); no tokens. */
  listPtys(options?: RequestOptions): Promise<TensorlakePtyInfo[]>;
  /** One PTY session's record. NotFoundError when there is none. */
  getPty(sessionId: string, options?: RequestOptions): Promise<TensorlakePtyInfo>;
  /** Resizes a PTY session's terminal (the daemon clamps rows to 1..500, columns to 1..1000). */
  resizePty(sessionId: string, size: TensorlakePtySize, options?: RequestOptions): Promise<void>;
  /** Kills a PTY session (SIGHUP, SIGKILL after 5 s); attached sockets close with 1001 "session terminated". */
  killPty(sessionId: string, options?: RequestOptions): Promise<void>;
  /** A shell on a terminal: a PTY session running /bin/sh, killed when the session is closed (see TerminalSession). */
  openTerminal(options?: OpenTerminalOptions): Promise<TerminalSession>;
  /** The provider-neutral interface over this client. */
  readonly processes: SandboxProcesses<TensorlakeProcessInfo>;
  /**
   * Closes the client's connection pool (the Node transport's keep-alive sockets),
   * ending any call still in flight. Also `await using client = ...`. A client
   * given its own `fetch` has nothing to close.
   */
  close(): Promise<void>;
  /** The same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The documented address of a sandbox's daemon from its ID or name: `https://<sandbox>.sandbox.tensorlake.ai`. */
export function tensorlakeSandboxHost(sandbox: string): string {
  return `https://${sandbox}.sandbox.tensorlake.ai`;
}

// A stream exists only after a declared 200, hence the status.
function incomplete(operation: string, what: string): UnexpectedResponseError {
  return new UnexpectedResponseError(`the stream ended without its ${what}`, { provider: 'tensorlake', operation, status: 200, code: 'INCOMPLETE_STREAM' });
}

const KEEP_ALIVE = new Set(['heartbeat', 'keepalive']);

/** Frames that only keep a run stream open, skipped as the official CLI skips them (see specs/tensorlake.yaml, RunKeepAliveEvent). */
function isKeepAlive(frame: Record<string, unknown>): boolean {
  return [frame.type, frame.event, frame.kind].some((kind) => typeof kind === 'string' && KEEP_ALIVE.has(kind));
}

function classifyRunFrame(data: unknown): TensorlakeRunEvent | 'skip' | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const frame = data as Record<string, unknown>;
  if (isKeepAlive(frame)) return 'skip';
  if ('exit_code' in frame || 'signal' in frame) return { type: 'exit', ...(frame as Schemas['RunExitEvent']) };
  if ('line' in frame) return { type: 'output', ...(frame as Schemas['RunOutputEvent']) };
  if ('pid' in frame && 'started_at' in frame) return { type: 'started', ...(frame as Schemas['RunStartedEvent']) };
  return undefined;
}

/**
 * Creates a client of one Tensorlake sandbox's process API. Give `baseUrl` (e.g. an
 * emulator's) or `sandbox` (its ID or name, see tensorlakeSandboxHost). Nothing is
 * sent until the first call.
 *
 * @throws ValidationError when an option is invalid: an empty apiKey, neither
 * baseUrl nor sandbox, a non-positive limit, or a plain `http://` URL to a host that
 * is not loopback (the key would travel in clear).
 */
export function createTensorlakeClient(options: TensorlakeClientOptions): TensorlakeClient {
  const { api, call, events, close, upgrade } = createTransport<paths, typeof operations>('tensorlake', operations, options, tensorlakeSandboxHost);
  const at = (pid: TensorlakePid) => ({ path: { pid } });

  async function* follow(
    operation: 'sandbox_process_follow_stdout' | 'sandbox_process_follow_stderr' | 'sandbox_process_follow_output',
    stream: Iterable<JsonEvent> | AsyncIterable<JsonEvent>,
  ): AsyncGenerator<TensorlakeFollowEvent> {
    for await (const { event, data } of stream) {
      if (event === 'eof') {
        yield { type: 'eof' };
        return;
      }
      // Unknown event names are skipped: the standard lets servers add them.
      if (event === 'output') yield { type: 'output', ...(data as Schemas['OutputEvent']) };
    }
    throw incomplete(operation, 'eof event');
  }

  const client: Omit<TensorlakeClient, 'processes' | 'close' | typeof Symbol.asyncDispose> = {
    provider: 'tensorlake',
    startProcess: (body, options) =>
      call('sandbox_process_start', { body }, (init) => api.POST('/api/v1/processes', { body, ...init }), options),
    listProcesses: async (options) => {
      const list = await call<unknown>('sandbox_process_list', {}, (init) => api.GET('/api/v1/processes', init), options);
      return listIn<TensorlakeProcessInfo>(list, 'processes', { provider: 'tensorlake', operation: 'sandbox_process_list' });
    },
    getProcess: (pid, options) =>
      call('sandbox_process_get', at(pid), (init) => api.GET('/api/v1/processes/{pid}', { params: at(pid), ...init }), options),
    sendSignal: (pid, signal, options) => {
      const body = { signal };
      return call(
        'sandbox_process_signal',
        { ...at(pid), body },
        (init) => api.POST('/api/v1/processes/{pid}/signal', { params: at(pid), body, ...init }),
        options,
      );
    },
    killProcess: (pid, options) =>
      call('sandbox_process_kill', at(pid), (init) => api.DELETE('/api/v1/processes/{pid}', { params: at(pid), ...init }), options),
    restartProcess: (pid, options) =>
      call('sandbox_process_restart', at(pid), (init) => api.POST('/api/v1/processes/{pid}/restart', { params: at(pid), ...init }), options),
    writeStdin: async (pid, data, options) => {
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
        throw new ValidationError('data must be a string or a Uint8Array', { provider: 'tensorlake', operation: 'sandbox_process_write_stdin' });
      }
      await call<void>('sandbox_process_write_stdin', at(pid), (init) =>
        api.POST('/api/v1/processes/{pid}/stdin', {
          params: at(pid),
          // Raw bytes, not JSON: openapi-fetch passes the body through untouched.
          body: data as unknown as string,
          bodySerializer: (raw: unknown) => raw as BodyInit,
          headers: { 'Content-Type': 'application/octet-stream' },
          ...init,
        }),
        options,
      );
    },
    closeStdin: (pid, options) =>
      call('sandbox_process_close_stdin', at(pid), (init) => api.POST('/api/v1/processes/{pid}/stdin/close', { params: at(pid), ...init }), options),
    getStdout: (pid, options) =>
      call('sandbox_process_stdout', at(pid), (init) => api.GET('/api/v1/processes/{pid}/stdout', { params: at(pid), ...init }), options),
    getStderr: (pid, options) =>
      call('sandbox_process_stderr', at(pid), (init) => api.GET('/api/v1/processes/{pid}/stderr', { params: at(pid), ...init }), options),
    getOutput: (pid, options) =>
      call('sandbox_process_output', at(pid), (init) => api.GET('/api/v1/processes/{pid}/output', { params: at(pid), ...init }), options),
    followStdout: (pid, options) =>
      follow(
        'sandbox_process_follow_stdout',
        events('sandbox_process_follow_stdout', at(pid), (init) => api.GET('/api/v1/processes/{pid}/stdout/follow', { params: at(pid), ...init }), options),
      ),
    followStderr: (pid, options) =>
      follow(
        'sandbox_process_follow_stderr',
        events('sandbox_process_follow_stderr', at(pid), (init) => api.GET('/api/v1/processes/{pid}/stderr/follow', { params: at(pid), ...init }), options),
      ),
    followOutput: (pid, options) =>
      follow(
        'sandbox_process_follow_output',
        events('sandbox_process_follow_output', at(pid), (init) => api.GET('/api/v1/processes/{pid}/output/follow', { params: at(pid), ...init }), options),
      ),
    async *run(body, options) {
      const stream = events('sandbox_process_run', { body }, (init) => api.POST('/api/v1/processes/run', { body, ...init }), options);
      for await (const { data } of stream) {
        const event = classifyRunFrame(data);
        if (!event) {
          throw new UnexpectedResponseError('a run frame is neither a start, an output nor an exit frame', {
            provider: 'tensorlake',
            operation: 'sandbox_process_run',
            status: 200,
            code: 'INVALID_EVENT',
          });
        }
        if (event === 'skip') continue;
        yield event;
        if (event.type === 'exit') return;
      }
      throw incomplete('sandbox_process_run', 'exit frame');
    },
    health: (options) => call('sandbox_health', {}, (init) => api.GET('/api/v1/health', init), options),
    info: (options) => call('sandbox_info', {}, (init) => api.GET('/api/v1/info', init), options),
    ...ptyMethods(api, call, upgrade),
  };
  return { ...client, processes: tensorlakeProcesses(client), close, [Symbol.asyncDispose]: close };
}
