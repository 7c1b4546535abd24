// Tensorlake's managed processes: started with `name`, `restart` or
// `health_check`, addressable by name, restarted by policy with exponential
// backoff (crates/cloud-sdk/src/sandboxes/models.rs, RestartPolicyConfig). The
// emulator runs no health probes: it reports `starting` while a check is configured.
import { randomBytes } from 'node:crypto';
import type { components } from '../../../../generated/tensorlake.js';
import type { SupervisedProcess } from '../../../emulator/supervisor.js';

type Schemas = components['schemas'];
type RestartPolicy = Required<Omit<Schemas['RestartPolicyConfig'], 'max_restarts'>> & { max_restarts: number | null };

export interface Managed {
  readonly id: string;
  readonly name: string | null;
  current: SupervisedProcess;
  status: 'starting' | 'running' | 'backing_off' | 'stopped';
  restartCount: number;
  readonly restart: RestartPolicy;
  readonly healthCheck: Schemas['HealthCheck'] | null;
  lastExit: { exit_code: number | null; signal: number | null; oom_killed: boolean; ended_at: number } | null;
  lastError: string | null;
  nextRestartAt: number | null;
}

export function isManagedRequest(request: Schemas['StartProcessRequest']): boolean {
  return request.name !== undefined || request.restart !== undefined || request.health_check !== undefined;
}

export interface ManagedProcesses {
  /** The managed record a process belongs to, by any of its PIDs. */
  ofPid(pid: number): Managed | undefined;
  byName(name: string): Managed | undefined;
  /** Takes `first` under supervision; `respawn` starts the same request again. */
  adopt(request: Schemas['StartProcessRequest'], first: SupervisedProcess): Managed;
  /** Stops supervising (a kill): no restart follows. */
  stop(managed: Managed): void;
  /** Kills the current process if it runs and starts it again now. */
  restartNow(managed: Managed): Promise<SupervisedProcess>;
  info(managed: Managed): Schemas['ManagedInfo'];
}

export function createManagedProcesses(options: {
  respawn: (request: Schemas['StartProcessRequest']) => Promise<SupervisedProcess>;
  kill: (pid: number) => void;
  stopping: AbortSignal;
}): ManagedProcesses {
  const byPid = new Map<number, Managed>();
  const byName = new Map<string, Managed>();
  const requests = new WeakMap<Managed, Schemas['StartProcessRequest']>();
  const timers = new Set<NodeJS.Timeout>();
  options.stopping.addEventListener('abort', () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  });

  function watch(managed: Managed, process: SupervisedProcess): void {
    byPid.set(process.pid, managed);
    managed.current = process;
    managed.status = managed.healthCheck ? 'starting' : 'running';
    void process.done.then(() => onExit(managed, process));
  }

  function shouldRestart(managed: Managed, process: SupervisedProcess): boolean {
    const { policy, max_restarts } = managed.restart;
    if (max_restarts !== null && managed.restartCount >= max_restarts) return false;
    const failed = process.exitCode !== 0 || process.signal !== null;
    return policy === 'always' || (policy === 'on_failure' && failed);
  }

  function onExit(managed: Managed, process: SupervisedProcess): void {
    if (managed.current !== process || managed.status === 'stopped') return;
    managed.lastExit = { exit_code: process.exitCode, signal: process.signal, oom_killed: false, ended_at: process.endedAt ?? Date.now() };
    if (options.stopping.aborted || !shouldRestart(managed, process)) {
      managed.status = 'stopped';
      return;
    }
    const delay = Math.min(managed.restart.initial_backoff_ms * 2 ** managed.restartCount, managed.restart.max_backoff_ms);
    managed.status = 'backing_off';
    managed.nextRestartAt = Date.now() + delay;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (managed.status !== 'backing_off' || options.stopping.aborted) return;
      void spawnAgain(managed);
    }, delay);
    timer.unref();
    timers.add(timer);
  }

  async function spawnAgain(managed: Managed): Promise<SupervisedProcess> {
    managed.nextRestartAt = null;
    try {
      const next = await options.respawn(requests.get(managed)!);
      managed.restartCount++;
      watch(managed, next);
      return next;
    } catch (error) {
      managed.lastError = (error as Error).message;
      managed.status = 'stopped';
      throw error;
    }
  }

  return {
    ofPid: (pid) => byPid.get(pid),
    byName: (name) => byName.get(name),
    adopt(request, first) {
      const managed: Managed = {
        // The name when there is one, as both SDKs document ManagedProcessInfo.id; else an opaque id (addressable by PID only).
        id: request.name ?? `mp_${randomBytes(6).toString('hex')}`,
        name: request.name ?? null,
        current: first,
        status: 'running',
        restartCount: 0,
        restart: {
          policy: request.restart?.policy ?? 'on_failure',
          max_restarts: request.restart?.max_restarts ?? null,
          initial_backoff_ms: request.restart?.initial_backoff_ms ?? 500,
          max_backoff_ms: request.restart?.max_backoff_ms ?? 30_000,
        },
        healthCheck: request.health_check ?? null,
        lastExit: null,
        lastError: null,
        nextRestartAt: null,
      };
      requests.set(managed, request);
      if (managed.name !== null) byName.set(managed.name, managed);
      watch(managed, first);
      return managed;
    },
    stop(managed) {
      managed.status = 'stopped';
      managed.nextRestartAt = null;
      if (managed.current.running) options.kill(managed.current.pid);
    },
    async restartNow(managed) {
      const previous = managed.current;
      // Marked first, so that the exit of the old process starts nothing by itself.
      managed.status = 'stopped';
      if (previous.running) {
        options.kill(previous.pid);
        await previous.done;
      }
      return spawnAgain(managed);
    },
    info(managed) {
      return {
        id: managed.id,
        name: managed.name,
        status: managed.status,
        restart_count: managed.restartCount,
        restart: managed.restart,
        health_check: managed.healthCheck,
        health_status: managed.healthCheck ? 'starting' : 'disabled',
        consecutive_health_failures: 0,
        last_exit: managed.lastExit,
        last_error: managed.lastError,
        next_restart_at: managed.nextRestartAt,
      };
    },
  };
}
