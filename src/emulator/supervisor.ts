// Real child processes behind an emulator: spawn, capture output as lines,
// stdin, signals, status, and a guaranteed stop of everything it started.
// Bounded: a cap on running processes and on captured lines per process.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';

export type StreamName = 'stdout' | 'stderr';

export interface OutputLine {
  stream: StreamName;
  line: string;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
}

export interface StartRequest {
  command: string;
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd: string;
  stdin?: 'pipe' | 'closed';
  capture?: { stdout?: boolean; stderr?: boolean };
}

export type ProcessEvent = { type: 'output'; output: OutputLine } | { type: 'exit' };

export interface SupervisedProcess {
  readonly pid: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  /** The number of the signal that ended the process, if one did. */
  signal: number | null;
  /** Set when the process was ended by SIGKILL from kill(), not by itself. */
  killed: boolean;
  readonly lines: OutputLine[];
  /** Lines dropped from the front of `lines` once the cap was reached. */
  droppedLines: number;
  stdinWritable: boolean;
  readonly running: boolean;
  /** Resolves once the process has exited and its output is fully captured. */
  readonly done: Promise<void>;
  subscribe(listener: (event: ProcessEvent) => void): () => void;
  writeStdin(data: Uint8Array): Promise<void>;
  closeStdin(): void;
}

export interface SupervisorLimits {
  /** Processes running at once. Default 32. */
  maxRunning?: number;
  /** Lines kept per process (older ones are dropped). Default 10 000. */
  maxLinesPerProcess?: number;
  /** Characters per line (longer lines are cut). Default 16 384. */
  maxLineLength?: number;
}

export class SupervisorLimitError extends Error {}

const SIGNAL_NUMBERS = constants.signals as Record<string, number>;

/** Set in every child's environment, so that a leftover child can always be found. */
export const EMULATOR_MARKER = 'SANDBOX_PROCS_EMULATOR_CHILD';

/** What the children see: a small, explicit environment, never the emulator's own (it may hold secrets). */
function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (process.env.HOME) base.HOME = process.env.HOME;
  return { ...base, ...extra, [EMULATOR_MARKER]: '1' };
}

export function createSupervisor(limits: SupervisorLimits = {}) {
  const maxRunning = limits.maxRunning ?? 32;
  const maxLines = limits.maxLinesPerProcess ?? 10_000;
  const maxLineLength = limits.maxLineLength ?? 16_384;
  const processes = new Map<number, SupervisedProcess>();
  const children = new Map<number, ChildProcess>();

  function running(): number {
    let count = 0;
    for (const p of processes.values()) if (p.running) count++;
    return count;
  }

  function killGroup(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone already
    }
  }

  async function start(request: StartRequest): Promise<SupervisedProcess> {
    if (running() >= maxRunning) throw new SupervisorLimitError(`too many running processes (limit ${maxRunning})`);
    const stdinMode = request.stdin ?? 'closed';
    const child = spawn(request.command, [...(request.args ?? [])], {
      cwd: request.cwd,
      env: childEnv(request.env),
      // Its own process group, so that kill reaches whatever it spawned too.
      detached: true,
      stdio: [stdinMode === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([error]) => Promise.reject(error as Error))]);
    const pid = child.pid!;
    children.set(pid, child);

    const listeners = new Set<(event: ProcessEvent) => void>();
    const emit = (event: ProcessEvent) => {
      for (const listener of listeners) listener(event);
    };
    const capture = { stdout: request.capture?.stdout ?? true, stderr: request.capture?.stderr ?? true };
    const record: SupervisedProcess = {
      pid,
      command: request.command,
      args: [...(request.args ?? [])],
      startedAt: Date.now(),
      endedAt: null,
      exitCode: null,
      signal: null,
      killed: false,
      lines: [],
      droppedLines: 0,
      stdinWritable: stdinMode === 'pipe',
      get running() {
        return record.endedAt === null;
      },
      done: Promise.resolve(),
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      async writeStdin(data) {
        if (!record.stdinWritable || !child.stdin) throw new Error('stdin is not writable');
        await new Promise<void>((resolve, reject) => child.stdin!.write(data, (error) => (error ? reject(error) : resolve())));
      },
      closeStdin() {
        record.stdinWritable = false;
        child.stdin?.end();
      },
    };
    child.stdin?.on('error', () => {
      record.stdinWritable = false;
    });

    const addLine = (stream: StreamName, line: string) => {
      const output = { stream, line: line.length > maxLineLength ? line.slice(0, maxLineLength) : line, timestamp: Date.now() };
      record.lines.push(output);
      if (record.lines.length > maxLines) {
        record.lines.shift();
        record.droppedLines++;
      }
      emit({ type: 'output', output });
    };
    const streamsDone = (['stdout', 'stderr'] as const).map((stream) => {
      const source = child[stream]!;
      let partial = '';
      source.setEncoding('utf8');
      source.on('data', (chunk: string) => {
        if (!capture[stream]) return;
        const parts = (partial + chunk).split(/\r?\n/);
        partial = parts.pop() ?? '';
        for (const line of parts) addLine(stream, line);
      });
      return once(source, 'close').then(() => {
        if (partial && capture[stream]) addLine(stream, partial);
      });
    });

    const exited = once(child, 'exit').then(([code, signal]) => {
      record.exitCode = typeof code === 'number' ? code : null;
      record.signal = typeof signal === 'string' ? (SIGNAL_NUMBERS[signal] ?? null) : null;
      // Whatever the process left behind in its group goes with it.
      killGroup(pid, 'SIGKILL');
    });
    (record as { done: Promise<void> }).done = Promise.all([exited, ...streamsDone]).then(() => {
      record.endedAt = Date.now();
      record.stdinWritable = false;
      children.delete(pid);
      emit({ type: 'exit' });
    });
    processes.set(pid, record);
    return record;
  }

  return {
    start,
    get: (pid: number) => processes.get(pid),
    list: () => [...processes.values()],
    /** Sends a signal by number to a running process. */
    signal(pid: number, signal: number): void {
      const record = processes.get(pid);
      if (!record?.running) throw new Error('process is not running');
      process.kill(pid, signal);
    },
    /** SIGKILL to the process and its group. */
    kill(pid: number): void {
      const record = processes.get(pid);
      if (!record?.running) return;
      record.killed = true;
      killGroup(pid, 'SIGKILL');
    },
    /** Stops every process still running and waits until they are gone. */
    async stopAll(): Promise<void> {
      const pending = [...processes.values()].filter((p) => p.running);
      for (const p of pending) killGroup(p.pid, 'SIGKILL');
      await Promise.all(pending.map((p) => p.done));
    },
    /** For an exit hook: SIGKILL everything, synchronously. */
    killAllNow(): void {
      for (const pid of children.keys()) killGroup(pid, 'SIGKILL');
    },
    limits: { maxRunning, maxLines, maxLineLength },
  };
}

export type Supervisor = ReturnType<typeof createSupervisor>;
