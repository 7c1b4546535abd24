// The provider-neutral interface over a Tensorlake client.
import { NotFoundError, ServerError } from '../../errors.js';
import { expectRecord, isRunning, toDate, unlessGone, type ProcessRecord, type ProcessStatus, type SandboxProcesses } from '../../processes.js';
import type { TensorlakeClient, TensorlakeProcessInfo, TensorlakePid } from './client.js';

const STATUS: Record<string, ProcessStatus> = {
  running: 'running',
  exited: 'exited',
  signaled: 'signaled',
  oom_killed: 'signaled',
};

export function toProcessRecord(value: TensorlakeProcessInfo, operation = 'sandbox_process_get'): ProcessRecord<TensorlakeProcessInfo> {
  const info = expectRecord(value, 'tensorlake', operation);
  const status = STATUS[info.status] ?? 'unknown';
  return {
    id: String(info.pid),
    status,
    running: isRunning(status),
    exitCode: info.exit_code ?? null,
    command: typeof info.command === 'string' ? info.command : null,
    args: Array.isArray(info.args) ? info.args : null,
    startedAt: toDate(info.started_at),
    endedAt: toDate(info.ended_at),
    raw: info,
  };
}

/**
 * Tensorlake's ways of saying "already gone" to a kill: 404, and the daemon's
 * 500 "Process N is not running" for a process it still tracks (see specs/tensorlake.yaml, sandbox_process_kill).
 */
function isAlreadyGone(error: unknown): boolean {
  return error instanceof NotFoundError || (error instanceof ServerError && error.status === 500 && /\bnot running\b/i.test(error.message));
}

/** A neutral id back to a PID; anything else is a managed name (or is refused by the spec's validation). */
function pidOf(id: string | number): TensorlakePid {
  return (typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id) as TensorlakePid;
}

export function tensorlakeProcesses(client: Omit<TensorlakeClient, 'processes' | 'close' | typeof Symbol.asyncDispose>): SandboxProcesses<TensorlakeProcessInfo> {
  return {
    provider: 'tensorlake',
    capabilities: { signals: true, directGet: true },
    async start({ command, args, env, cwd }) {
      const info = await client.startProcess({ command, ...(args && { args }), ...(env && { env }), ...(cwd !== undefined && { working_dir: cwd }) });
      return toProcessRecord(info, 'sandbox_process_start');
    },
    async list() {
      return (await client.listProcesses()).map((info) => toProcessRecord(info, 'sandbox_process_list'));
    },
    async get(id) {
      const info = await unlessGone(client.getProcess(pidOf(id)), undefined);
      return info === undefined ? undefined : toProcessRecord(info);
    },
    async kill(id) {
      return unlessGone(
        client.killProcess(pidOf(id)).then(() => true),
        false,
        isAlreadyGone,
      );
    },
    async signal(id, signal) {
      await client.sendSignal(pidOf(id), signal);
    },
    openTerminal: (options) => client.openTerminal(options),
  };
}
