// Real child processes behind an emulator: spawn, capture output as lines,
// stdin, signals, status, and a guaranteed stop of everything it started.
// Bounded: a cap on running processes and on captured lines per process.
import { once } from 'node:events';
import { constants } from 'node:os';
import { directLauncher, type LaunchedProcess, type Launcher } from './launcher.js';
import { OutputBuffer, type ByteBudget, type LineSink } from './output-buffer.js';
import { EMULATOR_MARKER, instancePrefix, newInstanceId, sweep } from './reaper.js';

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
  /** Run as this user and group (the emulator must be root to switch). */
  uid?: number;
  gid?: number;
  capture?: { stdout?: boolean; stderr?: boolean };
}

export type ProcessEvent = { type: 'output'; output: OutputLine } | { type: 'exit' };

export interface SupervisedProcess {
  /** Its PID as its sandbox knows it (the host's, when it is not confined). */
  readonly pid: number;
  /** Its PID on the host, for reading its /proc entry; undefined once it has ended. */
  hostPid(): number | undefined;
  readonly command: string;
  readonly args: readonly string[];
  readonly startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  /** The number of the signal that ended the process, if one did. */
  signal: number | null;
  /** Set when the process was ended by SIGKILL from kill(), not by itself. */
  killed: boolean;
  /** The captured lines, oldest first (decoded on each read: prefer `output.read()`). */
  readonly lines: OutputLine[];
  /** Lines that are no longer kept: dropped by a limit, or evicted for the budget. */
  readonly droppedLines: number;
  /** The captured output, bounded (see SupervisorLimits). */
  readonly output: OutputBuffer;
  stdinWritable: boolean;
  readonly running: boolean;
  /** Resolves once the process has exited and its output is fully captured. */
  readonly done: Promise<void>;
  subscribe(listener: (event: ProcessEvent) => void): () => void;
  /**
   * Its output waits at the program while any holder holds it (a reader that is behind): its pipes are not
   * read, so the program blocks on its next write. Released by the same holder, and by its exit (what is
   * left in its pipes is then read, so that it can end).
   */
  hold(holder: object): void;
  release(holder: object): void;
  writeStdin(data: Uint8Array): Promise<void>;
  closeStdin(): void;
}

/** Bounds on what an emulator's processes may hold: how many run, and how much output and stdin is kept. */
export interface SupervisorLimits {
  /** Processes running at once. Default 32. */
  maxRunning?: number;
  /** Lines kept per process (older ones are dropped). Default 10 000. */
  maxLinesPerProcess?: number;
  /** Bytes per line, UTF-8 (longer lines are cut at a character boundary while they are read). Default 16 384. */
  maxLineLength?: number;
  /** Bytes of output kept per process (older lines are dropped). Default 8 MiB. */
  maxOutputBytes?: number;
  /**
   * Bytes of output and of records of finished processes kept by the whole
   * emulator. Beyond it, the output of the process that finished first goes
   * first, then whole finished records, oldest first; a running process that
   * cannot grow keeps its newest lines in what it has (at least 64 KiB).
   * Default 32 MiB: with what Node holds besides (up to ~64 MiB of pipe reads
   * not yet collected while children print fast), the emulator stays under
   * 256 MiB of RSS.
   */
  maxTotalOutputBytes?: number;
  /** Bytes written to a process's stdin and not yet read by it; a write beyond is refused. Default 1 MiB. */
  maxStdinQueueBytes?: number;
  /** Records of finished processes kept (the oldest go first). Default 10 000. */
  maxFinishedProcesses?: number;
  /** Bytes of output one list answer embeds in all (where a provider's list carries every process's stdout and stderr): shared fairly, newest lines kept. Default 2 MiB. */
  maxListOutputBytes?: number;
}

/** What a record of a finished process costs besides its output, as counted against the budget (an estimate: the record, its closures, the provider's entry). */
const RECORD_BYTES = 2048;

export class SupervisorLimitError extends Error {}
/** A stdin write refused because the process has not read what it was sent before. */
export class StdinQueueFullError extends Error {}
/** A start request no process can be started from (a NUL byte in what exec(2) takes): the caller's fault, not the emulator's. */
export class SpawnInputError extends Error {}

function hasNul(request: StartRequest): boolean {
  const words = [request.command, request.cwd, ...(request.args ?? []), ...Object.entries(request.env ?? {}).flat()];
  return words.some((word) => word.includes('\0'));
}

const SIGNAL_NUMBERS = constants.signals as Record<string, number>;

/** Set in every child's environment (`<instance id>/<n>`), so that a leftover child can always be found. */
export { EMULATOR_MARKER } from './reaper.js';

export interface SupervisorMarking {
  /** Marks every child; stop and kill act on this id only. Default: a new one. */
  instanceId?: string;
  /** More marks for every child's environment (e.g. the run mark). */
  env?: Readonly<Record<string, string>>;
  /** How processes start: directly (default), or inside the sandbox's confinement. */
  launcher?: Launcher;
}

/** What the children see: a small, explicit environment, never the emulator's own (it may hold secrets). */
export function childEnv(extra: Readonly<Record<string, string>> | undefined, marks: Readonly<Record<string, string>>): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (process.env.HOME) base.HOME = process.env.HOME;
  return { ...base, ...extra, ...marks };
}

export function createSupervisor(limits: SupervisorLimits = {}, marking: SupervisorMarking = {}) {
  const instanceId = marking.instanceId ?? newInstanceId();
  const prefix = instancePrefix(instanceId);
  let sequence = 0;
  /** Each child's own marker, `<instance id>/<n>`: kill() finds what it started outside its group. */
  const markers = new WeakMap<LaunchedProcess, string>();
  const launcher = marking.launcher ?? directLauncher;
  const maxRunning = limits.maxRunning ?? 32;
  const maxLines = limits.maxLinesPerProcess ?? 10_000;
  const maxLineLength = limits.maxLineLength ?? 16_384;
  const maxOutputBytes = limits.maxOutputBytes ?? 8 * 1024 * 1024;
  const maxTotalOutputBytes = limits.maxTotalOutputBytes ?? 32 * 1024 * 1024;
  const maxStdinQueueBytes = limits.maxStdinQueueBytes ?? 1024 * 1024;
  const maxFinished = limits.maxFinishedProcesses ?? 10_000;
  const outputLimits = { maxLines, maxBytes: maxOutputBytes, maxLineLength };
  // Finished records in the order they finished: the first ones go first.
  const finished = new Map<number, SupervisedProcess>();
  const finishedWithOutput = new Map<number, SupervisedProcess>();
  const evictListeners = new Set<(record: SupervisedProcess) => void>();
  let usedBytes = 0;

  /** Takes a finished record out entirely: it is not listed or found any more. */
  function evictRecord(record: SupervisedProcess): void {
    record.output.clear();
    finished.delete(record.pid);
    finishedWithOutput.delete(record.pid);
    if (processes.get(record.pid) === record) processes.delete(record.pid);
    usedBytes -= RECORD_BYTES;
    for (const listener of evictListeners) listener(record);
  }

  /** Frees finished processes' bytes, oldest first, until `bytes` more fit; with `records`, whole records too. */
  function makeRoom(bytes: number, records: boolean): boolean {
    for (const record of finishedWithOutput.values()) {
      if (usedBytes + bytes <= maxTotalOutputBytes) return true;
      record.output.clear();
      finishedWithOutput.delete(record.pid);
    }
    if (records) {
      for (const record of finished.values()) {
        if (usedBytes + bytes <= maxTotalOutputBytes) return true;
        evictRecord(record);
      }
    }
    return usedBytes + bytes <= maxTotalOutputBytes;
  }

  const budget: ByteBudget = {
    request(bytes, force = false) {
      const fits = makeRoom(bytes, false);
      if (fits || force) usedBytes += bytes;
      return fits || force;
    },
    release(bytes) {
      usedBytes -= bytes;
    },
  };
  const processes = new Map<number, SupervisedProcess>();
  const children = new Map<number, LaunchedProcess>();

  function running(): number {
    let count = 0;
    for (const p of processes.values()) if (p.running) count++;
    return count;
  }

  function killGroup(pid: number, signal: NodeJS.Signals): void {
    children.get(pid)?.signal(SIGNAL_NUMBERS[signal]!, true);
  }


  let starting = 0;

  async function start(request: StartRequest): Promise<SupervisedProcess> {
    if (hasNul(request)) throw new SpawnInputError('a NUL byte cannot be passed to a process (command, args, env or working directory)');
    // Starts under way count too: many concurrent starts must not overshoot the limit.
    if (running() + starting >= maxRunning) throw new SupervisorLimitError(`too many running processes (limit ${maxRunning})`);
    const stdinMode = request.stdin ?? 'closed';
    const marker = `${prefix}${++sequence}`;
    starting++;
    let child: LaunchedProcess;
    try {
      child = await launcher.launch({
        command: request.command,
        args: request.args ?? [],
        env: childEnv(request.env, { ...marking.env, [EMULATOR_MARKER]: marker }),
        cwd: request.cwd,
        stdin: stdinMode,
        ...(request.uid !== undefined && { uid: request.uid }),
        ...(request.gid !== undefined && { gid: request.gid }),
      });
    } finally {
      starting--;
    }
    const pid = child.pid!;
    // The system reuses PIDs: a finished record under this one goes now.
    const previous = processes.get(pid);
    if (previous && !previous.running) evictRecord(previous);
    children.set(pid, child);
    markers.set(child, marker);

    const listeners = new Set<(event: ProcessEvent) => void>();
    const emit = (event: ProcessEvent) => {
      for (const listener of listeners) listener(event);
    };
    const capture = { stdout: request.capture?.stdout ?? true, stderr: request.capture?.stderr ?? true };
    const output = new OutputBuffer(outputLimits, budget);
    // Held apart from `child`, and let go when the process is done, so that a finished record keeps no streams alive.
    let stdin = child.stdin ?? null;
    const holders = new Set<object>();
    // Let go when the process is done, with the streams: a finished record keeps no child alive.
    let outputControl: Pick<LaunchedProcess, 'holdOutput' | 'releaseOutput'> | null = child;
    const record: SupervisedProcess = {
      pid,
      hostPid: () => children.get(pid)?.hostPid(),
      command: request.command,
      args: [...(request.args ?? [])],
      startedAt: Date.now(),
      endedAt: null,
      exitCode: null,
      signal: null,
      killed: false,
      get lines() {
        return output.read().lines;
      },
      get droppedLines() {
        return output.dropped();
      },
      output,
      stdinWritable: stdinMode === 'pipe',
      get running() {
        return record.endedAt === null;
      },
      done: Promise.resolve(),
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      hold(holder) {
        if (!outputControl || record.exitCode !== null || record.signal !== null) return;
        if (holders.size === 0) outputControl.holdOutput();
        holders.add(holder);
      },
      release(holder) {
        if (!holders.delete(holder) || holders.size > 0) return;
        outputControl?.releaseOutput();
      },
      /** Resolves once the pipe has taken the bytes; refused while what it holds unread would go over the cap (one write always fits an empty queue). */
      async writeStdin(data) {
        const pipe = stdin;
        if (!record.stdinWritable || !pipe) throw new Error('stdin is not writable');
        const queued = pipe.writableLength;
        if (queued > 0 && queued + data.length > maxStdinQueueBytes) {
          throw new StdinQueueFullError(`stdin is full: ${queued} bytes not yet read by the process (limit ${maxStdinQueueBytes})`);
        }
        await new Promise<void>((resolve, reject) => pipe.write(data, (error) => (error ? reject(error) : resolve())));
      },
      closeStdin() {
        record.stdinWritable = false;
        stdin?.end();
      },
    };
    stdin?.on('error', () => {
      record.stdinWritable = false;
    });

    const sink: LineSink = (stream, line, timestamp) => emit({ type: 'output', output: { stream, line, timestamp } });
    // No closure here names `child`: a finished record must not keep the child and its streams alive.
    const pipes = [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const;
    const streamsDone = pipes.map(([stream, source]) => {
      source.on('data', (chunk: Buffer) => {
        if (capture[stream]) output.append(stream, chunk, Date.now(), listeners.size > 0 ? sink : undefined);
      });
      return once(source, 'close').then(() => output.endStream(stream, Date.now(), listeners.size > 0 ? sink : undefined));
    });
    usedBytes += RECORD_BYTES;
    makeRoom(0, true);

    const exited = child.exited.then(({ code, signal }) => {
      record.exitCode = code;
      record.signal = signal;
      // Its pipes must be read to their end for it to be done: what is left there is at most their capacity.
      if (holders.size > 0) {
        holders.clear();
        outputControl?.releaseOutput();
      }
      // Whatever the process left behind in its group goes with it.
      killGroup(pid, 'SIGKILL');
    });
    (record as { done: Promise<void> }).done = Promise.all([exited, ...streamsDone]).then(() => {
      record.endedAt = Date.now();
      record.stdinWritable = false;
      stdin = null;
      outputControl = null;
      children.delete(pid);
      output.compact();
      // Evicted meanwhile (a PID reused): nothing to keep.
      if (processes.get(pid) === record) {
        finished.set(pid, record);
        if (output.lineCount() > 0) finishedWithOutput.set(pid, record);
        if (finished.size > maxFinished) evictRecord(finished.values().next().value!);
        makeRoom(0, true);
      }
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
      children.get(pid)?.signal(signal, false);
    },
    /** SIGKILL to the process and its group, and to what it started outside the group (setsid, double fork). */
    kill(pid: number): void {
      const record = processes.get(pid);
      if (!record?.running) return;
      record.killed = true;
      killGroup(pid, 'SIGKILL');
      const child = children.get(pid);
      const marker = child && markers.get(child);
      if (marker) void sweep((value) => value === marker);
    },
    /** Stops every process still running, and whatever carries this instance's mark, and waits until they are gone. */
    async stopAll(): Promise<void> {
      const pending = [...processes.values()].filter((p) => p.running);
      for (const p of pending) killGroup(p.pid, 'SIGKILL');
      // Before waiting: an escaped descendant may hold a child's output pipe open.
      await sweep((value) => value.startsWith(prefix));
      await Promise.all(pending.map((p) => p.done));
    },
    /** For an exit hook: SIGKILL everything, synchronously. */
    killAllNow(): void {
      for (const pid of children.keys()) killGroup(pid, 'SIGKILL');
    },
    /** Called with each finished record taken out for the budget (a provider forgets its own entry for it). */
    onEvict(listener: (record: SupervisedProcess) => void): () => void {
      evictListeners.add(listener);
      return () => evictListeners.delete(listener);
    },
    /** Bytes of output and records held now, against the budget. */
    usage: () => ({ bytes: usedBytes, limit: maxTotalOutputBytes, finished: finished.size }),
    limits: {
      maxRunning,
      maxLines,
      maxLineLength,
      maxOutputBytes,
      maxTotalOutputBytes,
      maxStdinQueueBytes,
      maxFinishedProcesses: maxFinished,
      maxListOutputBytes: limits.maxListOutputBytes ?? 2 * 1024 * 1024,
    },
    instanceId,
  };
}

export type Supervisor = ReturnType<typeof createSupervisor>;
