// Starting and stopping a provider emulator: an HTTP server on loopback over a
// supervisor of real child processes, with a working directory of its own.
// stop() ends every child; so does this process's exit.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationTable } from '../core/operation.js';
import type { ProviderName } from '../errors.js';
import { serveOperations, type BodyRejection, type Handler } from './http.js';
import { createSupervisor, type Supervisor, type SupervisorLimits } from './supervisor.js';

export interface EmulatorContext {
  supervisor: Supervisor;
  /** Where processes run unless a request names a working directory. */
  workdir: string;
  startedAt: number;
  version: string;
  /** Aborted when the emulator begins to stop: nothing may be started after it (e.g. by a restart timer). */
  stopping: AbortSignal;
}

export interface ProviderEmulator {
  provider: ProviderName;
  operations: OperationTable;
  errorBody(message: string, code: string | undefined, requestId: string): unknown;
  publicOperations?: ReadonlySet<string>;
  rejectBody?: BodyRejection;
  handlers(context: EmulatorContext): Record<string, Handler>;
}

export interface EmulatorOptions {
  /** Default 0: a free port. The emulator listens on 127.0.0.1 only. */
  port?: number;
  /** The bearer token it accepts. Default: a random one (see `token`). */
  token?: string;
  limits?: SupervisorLimits;
  /** Request bodies above this are refused with 400. Default 1 MiB. */
  maxBodyBytes?: number;
  keepAliveMs?: number;
}

export interface RunningEmulator {
  readonly provider: ProviderName;
  readonly baseUrl: string;
  readonly token: string;
  /** Where processes run unless a request names a working directory; removed on stop. */
  readonly workdir: string;
  /** Stops the server and every process it started, and removes its working directory. */
  stop(): Promise<void>;
}

export const EMULATOR_VERSION = '0.1.0';

export async function startProviderEmulator(emulator: ProviderEmulator, options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const token = options.token ?? `emu_${randomBytes(16).toString('hex')}`;
  const supervisor = createSupervisor(options.limits);
  const workdir = await mkdtemp(join(tmpdir(), `sandbox-procs-${emulator.provider}-`));
  const stopSignal = new AbortController();
  const context: EmulatorContext = { supervisor, workdir, startedAt: Date.now(), version: EMULATOR_VERSION, stopping: stopSignal.signal };
  const onExit = () => supervisor.killAllNow();
  process.on('exit', onExit);
  let server;
  try {
    server = await serveOperations({
      operations: emulator.operations,
      handlers: emulator.handlers(context),
      errorBody: emulator.errorBody,
      ...(emulator.publicOperations ? { publicOperations: emulator.publicOperations } : {}),
      ...(emulator.rejectBody ? { rejectBody: emulator.rejectBody } : {}),
      token,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}),
    });
  } catch (error) {
    process.off('exit', onExit);
    await rm(workdir, { recursive: true, force: true });
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    provider: emulator.provider,
    baseUrl: server.baseUrl,
    token,
    workdir,
    stop() {
      stopping ??= (async () => {
        stopSignal.abort();
        await supervisor.stopAll();
        await server.close();
        process.off('exit', onExit);
        await rm(workdir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
