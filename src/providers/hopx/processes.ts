// The provider-neutral interface over a HopX client. HopX has no signals and no
// get-by-id: `get` lists and picks, `signal` is unsupported. Its records carry no
// command either: the adapter remembers what its own start() ran.
import { UnsupportedOperationError } from '../../errors.js';
import { expectRecord, isRunning, toDate, unlessGone, type ProcessRecord, type ProcessStatus, type SandboxProcesses } from '../../processes.js';
import type { HopxBackgroundProcess, HopxBackgroundStarted, HopxClient } from './client.js';

const STATUS: Record<string, ProcessStatus> = {
  queued: 'queued',
  running: 'running',
  completed: 'exited',
  failed: 'failed',
  killed: 'signaled',
  timeout: 'timeout',
};

/** A list entry, or the start answer (which names its time start_time, the agent spec's word, if at all). */
type HopxRecordSource = HopxBackgroundProcess | HopxBackgroundStarted;

/** What start() ran, as the caller gave it (HopX only ever sees the shell line). */
interface StartedCommand {
  command: string;
  args: string[];
}

export function toProcessRecord(value: HopxRecordSource, operation = 'list_processes', started?: StartedCommand): ProcessRecord<HopxBackgroundProcess> {
  // Read as the widest shape: every field but process_id and status may be missing.
  const process = expectRecord(value, 'hopx', operation) as Partial<HopxBackgroundProcess> & Pick<HopxBackgroundProcess, 'process_id' | 'status'>;
  const status = STATUS[process.status] ?? 'unknown';
  return {
    id: String(process.process_id),
    status,
    running: isRunning(status),
    exitCode: process.exit_code ?? null,
    command: started?.command ?? null,
    args: started?.args ?? null,
    // The docs and the agent spec name the times differently; take whichever came.
    startedAt: toDate(process.started_at ?? process.start_time),
    endedAt: toDate(process.completed_at ?? process.end_time),
    raw: process as HopxBackgroundProcess,
  };
}

/** One POSIX shell word. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Bounds the memory of started commands; the oldest are forgotten first. */
const MAX_REMEMBERED = 10_000;

export function hopxProcesses(client: Omit<HopxClient, 'processes' | 'close' | typeof Symbol.asyncDispose>): SandboxProcesses<HopxBackgroundProcess> {
  const commands = new Map<string, StartedCommand>();
  const remember = (id: string, started: StartedCommand) => {
    commands.set(id, started);
    if (commands.size > MAX_REMEMBERED) commands.delete(commands.keys().next().value!);
  };
  const toRecord = (p: HopxBackgroundProcess) => toProcessRecord(p, 'list_processes', commands.get(String(p.process_id)));
  return {
    provider: 'hopx',
    capabilities: { signals: false, directGet: false },
    async start({ command, args = [], env, cwd }) {
      const sentAt = new Date();
      // Background processes are code executions: run the command line with bash.
      const started = await client.runCodeBackground({
        code: [command, ...args].map(shellQuote).join(' '),
        language: 'bash',
        ...(env && { env }),
        ...(cwd !== undefined && { workdir: cwd }),
      });
      const record = toProcessRecord(started, 'execute_code_background', { command, args: [...args] });
      remember(record.id, { command, args: [...args] });
      // The start answer may carry no time (its start_time is optional); the request's is the closest known.
      return { ...record, startedAt: record.startedAt ?? sentAt };
    },
    async list() {
      return (await client.listProcesses()).map(toRecord);
    },
    async get(id) {
      const wanted = String(id);
      const found = (await client.listProcesses()).find((p) => p.process_id === wanted);
      return found && toRecord(found);
    },
    async kill(id) {
      return unlessGone(
        client.killProcess(String(id)).then(() => true),
        false,
      );
    },
    async signal() {
      throw new UnsupportedOperationError('HopX has no signal endpoint; use kill', { provider: 'hopx', operation: 'signal' });
    },
    openTerminal: (options) => client.openTerminal(options),
  };
}
