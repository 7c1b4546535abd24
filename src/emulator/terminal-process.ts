// A program in a real pseudo-terminal, started directly (node-pty, as a child of
// the emulator) or inside a confined sandbox (the spawner runs node-pty there):
// the terminal sessions see the same shape either way.
import type { LaunchRequest } from './launcher.js';
import { loadNodePty } from './optional-peers.js';
import { sweep } from './reaper.js';

export interface TerminalRequest extends Omit<LaunchRequest, 'stdin'> {
  cols: number;
  rows: number;
  /** The child's own mark (its environment holds it too): what a kill of its session sweeps for, beyond its session's processes. */
  marker?: string;
}

export interface TerminalProcess {
  /** The PID its sandbox knows it by: the terminal's session leader. */
  readonly pid: number;
  /** Output as the terminal gives it, in chunks. */
  onData(listener: (chunk: Buffer) => void): void;
  /** Bytes typed into the terminal; resolves once the terminal took them. */
  write(data: Uint8Array): Promise<void>;
  resize(cols: number, rows: number): void;
  /** Stops reading the terminal's output: the program blocks on its next write once the kernel's buffer is full. */
  pause(): void;
  resume(): void;
  /** How it ended: an exit code, or the number of the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: number | null }>;
  /** SIGKILL to the program and everything in its terminal session (jobs in their own groups included). */
  kill(): void;
}

/** A terminal whose program is a child of the emulator, in a session of its own (forkpty), carrying the request's mark. */
export async function launchDirectTerminal(request: TerminalRequest): Promise<TerminalProcess> {
  const pty = await loadNodePty();
  const term = pty.spawn(request.command, [...request.args], {
    name: 'xterm-256color',
    cols: request.cols,
    rows: request.rows,
    cwd: request.cwd,
    env: { ...request.env },
    // Bytes, not text: a character split across two reads stays whole for whoever decodes it.
    encoding: null,
    ...(request.uid !== undefined && { uid: request.uid }),
    ...(request.gid !== undefined && { gid: request.gid }),
  });
  const pid = term.pid;
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: number | null }>((resolve) =>
    term.onExit(({ exitCode, signal }) => {
      ended = true;
      resolve(signal ? { code: null, signal } : { code: exitCode, signal: null });
    }),
  );
  return {
    pid,
    onData: (listener) => void term.onData((chunk) => listener(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))),
    write: async (data) => {
      if (!ended) term.write(Buffer.from(data) as unknown as string);
    },
    resize: (cols, rows) => {
      if (!ended) term.resize(cols, rows);
    },
    pause: () => term.pause(),
    resume: () => term.resume(),
    exited,
    kill() {
      // The session leader's group, then whatever carries its mark (a shell's jobs each lead a group of their own).
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
      if (request.marker) {
        const marker = request.marker;
        void sweep((value) => value === marker);
      }
    },
  };
}
