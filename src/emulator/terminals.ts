// A sandbox's terminal sessions: programs in real pseudo-terminals, started
// through the sandbox's launcher (directly, or inside its confinement), each
// marked as every other child is (`<instance id>/pty-<n>`, so the reaper and
// stop() find them and what they started), at most `max` running at once, and
// all killed, whole sessions, when the sandbox stops.
import type { Launcher } from './launcher.js';
import { EMULATOR_MARKER, instancePrefix } from './reaper.js';
import { childEnv, SpawnInputError } from './supervisor.js';
import type { TerminalProcess } from './terminal-process.js';

/** Sessions running at once in one sandbox unless the provider says otherwise (as many as the most generous provider's daemon allows). */
export const DEFAULT_MAX_TERMINALS = 64;

export class TerminalLimitError extends Error {}

export interface OpenTerminal {
  command: string;
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** A host path (a confined launcher shows the sandbox's own directory as /workspace). */
  cwd: string;
  cols: number;
  rows: number;
}

export interface Terminal {
  readonly pid: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly startedAt: number;
  cols: number;
  rows: number;
  /** Set once it has ended: its exit code (null when a signal ended it). */
  exitCode: number | null;
  signal: number | null;
  endedAt: number | null;
  readonly running: boolean;
  readonly exited: Promise<void>;
  /** Output as it comes; returns the unsubscribe. */
  onData(listener: (chunk: Buffer) => void): () => void;
  write(data: Uint8Array): Promise<void>;
  resize(cols: number, rows: number): void;
  /** Output waits while any holder holds it (a reader that is behind); released by the same holder. */
  hold(holder: object): void;
  release(holder: object): void;
  /** Ends the program and everything in its terminal session; resolves once it has exited. */
  kill(): Promise<void>;
}

export function createTerminals(options: { launcher: Launcher; instanceId: string; marks?: Readonly<Record<string, string>>; max?: number }) {
  const max = options.max ?? DEFAULT_MAX_TERMINALS;
  const prefix = instancePrefix(options.instanceId);
  const running = new Set<Terminal>();
  let sequence = 0;
  let starting = 0;
  let closed = false;

  async function open(request: OpenTerminal): Promise<Terminal> {
    if (closed) throw new TerminalLimitError('the sandbox is stopping');
    if (running.size + starting >= max) throw new TerminalLimitError(`too many terminal sessions (limit ${max})`);
    const words = [request.command, request.cwd, ...(request.args ?? []), ...Object.entries(request.env ?? {}).flat()];
    if (words.some((word) => word.includes('\0'))) throw new SpawnInputError('a NUL byte cannot be passed to a process (command, args, env or working directory)');
    const marker = `${prefix}pty-${++sequence}`;
    starting++;
    let process: TerminalProcess;
    try {
      process = await options.launcher.launchTerminal({
        command: request.command,
        args: [...(request.args ?? [])],
        env: childEnv({ TERM: 'xterm-256color', ...request.env }, { ...options.marks, [EMULATOR_MARKER]: marker }),
        cwd: request.cwd,
        cols: request.cols,
        rows: request.rows,
        marker,
      });
    } finally {
      starting--;
    }
    const listeners = new Set<(chunk: Buffer) => void>();
    process.onData((chunk) => {
      for (const listener of listeners) listener(chunk);
    });
    const holders = new Set<object>();
    const terminal: Terminal = {
      pid: process.pid,
      command: request.command,
      args: [...(request.args ?? [])],
      startedAt: Date.now(),
      cols: request.cols,
      rows: request.rows,
      exitCode: null,
      signal: null,
      endedAt: null,
      get running() {
        return terminal.endedAt === null;
      },
      exited: process.exited.then(({ code, signal }) => {
        terminal.exitCode = code;
        terminal.signal = signal;
        terminal.endedAt = Date.now();
        running.delete(terminal);
        // What the program left behind in its session goes with it (a background job, a daemon it started).
        process.kill();
      }),
      onData(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      write: (data) => (terminal.running ? process.write(data) : Promise.resolve()),
      resize(cols, rows) {
        terminal.cols = cols;
        terminal.rows = rows;
        if (terminal.running) process.resize(cols, rows);
      },
      hold(holder) {
        if (holders.size === 0) process.pause();
        holders.add(holder);
      },
      release(holder) {
        if (!holders.delete(holder) || holders.size > 0) return;
        process.resume();
      },
      async kill() {
        if (terminal.running) process.kill();
        await terminal.exited;
      },
    };
    running.add(terminal);
    // Opened while the sandbox began to stop: it goes at once.
    if (closed) void terminal.kill();
    return terminal;
  }

  return {
    max,
    open,
    running: () => running.size,
    /** The PIDs of the running sessions' programs (as their sandbox knows them). */
    pids: () => [...running].map((t) => t.pid),
    /** Kills every session, whole; with `final` (the sandbox is going away), none may open afterwards. */
    async killAll(final = true): Promise<void> {
      if (final) closed = true;
      await Promise.all([...running].map((t) => t.kill()));
    },
    /** For an exit hook: ends every session now, synchronously as far as it can. */
    killAllNow(): void {
      closed = true;
      for (const terminal of running) void terminal.kill();
    },
  };
}

export type Terminals = ReturnType<typeof createTerminals>;
