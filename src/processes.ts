// The provider-neutral process interface, for code that must not care which
// provider it runs on. Each provider client exposes one as `client.processes`.
import { NotFoundError, UnexpectedResponseError, type ProviderName } from './errors.js';

/** Where a process is in its life, the same words for every provider. */
export type ProcessStatus = 'queued' | 'running' | 'exited' | 'signaled' | 'failed' | 'timeout' | 'unknown';

/**
 * One process as the neutral interface sees it, whatever the provider.
 * @typeParam Raw - The provider's own record type, kept in `raw`.
 */
export interface ProcessRecord<Raw = unknown> {
  /** The provider's id as a string (Tensorlake: the PID; HopX: the process_id). */
  id: string;
  /** Where the process is in its life, mapped from the provider's own status words. */
  status: ProcessStatus;
  /** True while the process may still produce output or be killed. */
  running: boolean;
  /** Set once the process has exited on its own; null while running or when a signal ended it. */
  exitCode: number | null;
  /**
   * The program that was started, and its arguments. Tensorlake: from its record.
   * HopX: its records carry no command, so these are known only for processes this
   * client started through `start()` (null for others; HopX's `name` is in `raw`).
   */
  command: string | null;
  /** The arguments after `command`; null where `command` is. */
  args: string[] | null;
  /** HopX: the agent's start time, else the time `start()` sent its request. */
  startedAt: Date | null;
  /** When the process ended, if the provider says so; null while it runs. */
  endedAt: Date | null;
  /** The provider's own record, as received. */
  raw: Raw;
}

/** What to start: a program and its arguments, not a shell line (HopX's adapter quotes them for its shell). */
export interface StartProcessSpec {
  /** The program to run (a path, or a name found on the sandbox's PATH). */
  command: string;
  /** Its arguments, passed as they are. */
  args?: string[];
  /** Environment variables added to the sandbox's own. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
}

/** What a provider can do beyond the common set; check before calling `signal()`. */
export interface ProcessCapabilities {
  /** `signal()` works (Tensorlake); otherwise it throws UnsupportedOperationError. */
  signals: boolean;
  /** `get()` asks the provider for one process; otherwise it lists and picks. */
  directGet: boolean;
}

/**
 * An interactive program on a terminal (a shell, a REPL), over a WebSocket: the same
 * object for every provider. Output comes as it is printed; while nobody reads it,
 * at most a bounded amount is held and the server is held back. Cancel the signal it
 * was opened with, or `close()` it, to end it; `await using` closes it too.
 */
export interface TerminalSession {
  /** The provider behind this session. */
  readonly provider: ProviderName;
  /** Types into the terminal (a string is sent as UTF-8). */
  write(data: string | Uint8Array): Promise<void>;
  /** Sets the terminal's size, in character cells. */
  resize(cols: number, rows: number): Promise<void>;
  /**
   * What the terminal prints, as it comes; one reader. Ends when the program exits,
   * fails with SessionClosedError when the session ends otherwise, with
   * AbortedError when its signal fires.
   */
  readonly output: AsyncIterable<Uint8Array>;
  /**
   * The program's exit code, once its end has been read (output not read is held,
   * up to a bound, so a short session settles without a reader). Rejects as `output` fails.
   */
  readonly exitCode: Promise<number>;
  /** Ends the session: closes the WebSocket (the program may keep running where the provider keeps it, e.g. a Tensorlake PTY until killed). */
  close(): Promise<void>;
  /** The same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What openTerminal takes: its size, and a signal that cancels the opening and then the session. */
export interface OpenTerminalOptions {
  /** Columns; default 80. */
  cols?: number;
  /** Rows; default 24. */
  rows?: number;
  /** Cancels the opening, then ends the session (output and exitCode reject with AbortedError). */
  signal?: AbortSignal;
}

/**
 * The provider-neutral process interface (`client.processes`): the same calls and
 * records on every provider. Calls reject with the errors in `errors.ts`
 * (SandboxProcsError subclasses), as the client's own methods do.
 * @typeParam Raw - The provider's own record type, kept in `ProcessRecord.raw`.
 */
export interface SandboxProcesses<Raw = unknown> {
  /** The provider behind this interface. */
  readonly provider: ProviderName;
  /** What this provider supports beyond the common set. */
  readonly capabilities: ProcessCapabilities;
  /** Starts a process in the background; resolves with its first record (usually `running`). */
  start(spec: StartProcessSpec): Promise<ProcessRecord<Raw>>;
  /** Every process the provider knows in this sandbox, running or finished. */
  list(): Promise<ProcessRecord<Raw>[]>;
  /** The process, or undefined when the provider does not know it. */
  get(id: string | number): Promise<ProcessRecord<Raw> | undefined>;
  /** Kill the process: true when it was killed, false when it was already gone. */
  kill(id: string | number): Promise<boolean>;
  /** Send a signal (e.g. 15). Throws UnsupportedOperationError where `capabilities.signals` is false. */
  signal(id: string | number, signal: number): Promise<void>;
  /**
   * A shell on a terminal (HopX: the agent's /terminal; Tensorlake: a PTY session
   * running `/bin/sh`, killed when the session is closed). Needs the optional peer `ws`.
   */
  openTerminal(options?: OpenTerminalOptions): Promise<TerminalSession>;
}

const RUNNING: ReadonlySet<ProcessStatus> = new Set(['queued', 'running']);

export function isRunning(status: ProcessStatus): boolean {
  return RUNNING.has(status);
}

/**
 * A Date from an ISO string or an epoch number in seconds, milliseconds or
 * microseconds (told apart by magnitude, as the providers' SDKs do); null for anything else.
 */
export function toDate(value: unknown): Date | null {
  if (typeof value !== 'number' && typeof value !== 'string') return null;
  const ms = typeof value === 'number' ? (value > 1e15 ? value / 1000 : value > 1e12 ? value : value * 1000) : value;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The value of `promise`, or `gone` when it fails because the process does not exist (by default: a NotFoundError). */
export async function unlessGone<T>(promise: Promise<T>, gone: T, isGone: (error: unknown) => boolean = isNotFound): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (isGone(error)) return gone;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof NotFoundError;
}

/** A provider record the neutral interface can read; anything else is a typed error, not a TypeError. */
export function expectRecord<T>(value: T, provider: ProviderName, operation: string): T & object {
  if (value === null || typeof value !== 'object') {
    throw new UnexpectedResponseError('the body is not the process record the spec describes', { provider, operation, status: 200, code: 'INVALID_BODY' });
  }
  return value as T & object;
}
