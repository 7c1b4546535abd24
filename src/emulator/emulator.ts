// Starting and stopping a provider emulator: an HTTP server on loopback over a
// supervisor of real child processes, with a working directory of its own.
// stop() ends every child; so do this process's exit, SIGINT, SIGTERM and SIGHUP,
// and (through the reaper) its death by SIGKILL or a crash.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OperationTable } from '../core/operation.js';
import type { ProviderName } from '../errors.js';
import type { RunningControlPlane } from './control-plane.js';
import { serveOperations, type AuthRefusal, type BodyRejection, type Handler } from './http.js';
import { claimInstance } from './instance.js';
import { newInstanceId, runMarkerEnv } from './reaper.js';
import { stopOnSignals } from './signals.js';
import type { CgroupLimits, LimitsInForce } from './cgroups.js';
import { confine, type Confinement } from './confinement/confine.js';
import { confinedLauncher, directLauncher } from './launcher.js';
import { createTerminals, type Terminals } from './terminals.js';
import type { UpgradeRoute } from './websocket.js';
import { createSupervisor, type Supervisor, type SupervisorLimits } from './supervisor.js';
import { signalFreezer } from './freeze.js';

export interface EmulatorContext {
  supervisor: Supervisor;
  /** Where processes run unless a request names a working directory. */
  workdir: string;
  startedAt: number;
  version: string;
  /** Aborted when the emulator begins to stop: nothing may be started after it (e.g. by a restart timer). */
  stopping: AbortSignal;
  /** What confines this sandbox's processes: its info answer says so (`sandbox_procs_isolation`). */
  isolation: IsolationState;
  /** The sandbox's terminal sessions (programs in pseudo-terminals), killed whole when it stops. */
  terminals: Terminals;
}

/** A provider's WebSocket sessions: its upgrade routes and how it refuses one too many. */
export interface ProviderUpgrades {
  routes: readonly UpgradeRoute[];
  /** The provider's status and code for a session over the cap. */
  busy: { status: number; code: string };
  /** Sessions open at once at most. Default 64. */
  maxSessions?: number;
}

/** IsolationState as the info answers carry it (snake_case, as the providers' own fields are; the specs' EmulatorIsolation). */
export function isolationInfo(state: IsolationState) {
  const limits = state.limits;
  return {
    mode: state.mode,
    confined: state.confined,
    ...(state.note !== undefined && { note: state.note }),
    ...(limits && {
      limits: {
        cgroup: limits.cgroup,
        ...(limits.maxProcesses !== undefined && { max_processes: limits.maxProcesses }),
        ...(limits.memoryBytes !== undefined && { memory_bytes: limits.memoryBytes }),
        ...(limits.cpus !== undefined && { cpus: limits.cpus }),
      },
    }),
    ...(state.network && {
      network: {
        internet_access: state.network.internet,
        ...(state.network.proxy !== undefined && { proxy: state.network.proxy }),
        ...(state.network.allowOut !== undefined && { allow_out: [...state.network.allowOut] }),
        ...(state.network.denyOut !== undefined && { deny_out: [...state.network.denyOut] }),
        note: state.network.note,
      },
    }),
  };
}

export interface ProviderEmulator {
  provider: ProviderName;
  operations: OperationTable;
  errorBody(message: string, code: string | undefined, requestId: string): unknown;
  publicOperations?: ReadonlySet<string>;
  rejectBody?: BodyRejection;
  rawBodyOperations?: ReadonlySet<string>;
  /** The provider's router answer for an unknown path, so that a drift check can tell a missing route from a missing process. */
  unrouted?: { status: number; contentType?: string; body: string };
  handlers(context: EmulatorContext): Record<string, Handler>;
  /** Its WebSocket routes, if it has any (served on the same server, auth as every other route). */
  upgrades?(context: EmulatorContext): ProviderUpgrades;
  /** The variables that point a program (our examples, the provider's tools) at a running emulator: see RunningEmulator.env. */
  environment(baseUrl: string, token: string): Record<string, string>;
}

/** What the shared entry points need of a provider's emulators (each provider's emulator/index.ts, found through the registry). */
export interface ProviderEmulators {
  /** One sandbox's process API (the agent or daemon inside a sandbox). */
  processApi: ProviderEmulator;
  /** The provider's sandbox lifecycle API, each sandbox a process-API emulator of its own. */
  startControlPlane(options: EmulatorOptions): Promise<RunningControlPlane>;
}

/** How to start an emulator: where it listens, the token it accepts, and its bounds. */
export interface EmulatorOptions {
  /** Default 0: a free port. The emulator listens on 127.0.0.1 only. */
  port?: number;
  /** The bearer token it accepts. Default: a random one (see `token`). */
  token?: string;
  /** Bounds on the processes it runs and the output it keeps. */
  limits?: SupervisorLimits;
  /** Request bodies above this are refused with 400. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Interval of the keep-alive comments on an open output stream (SSE), in milliseconds. Default 15 000. */
  keepAliveMs?: number;
  /** Open connections at most (more are refused). Default 256. */
  maxConnections?: number;
  /**
   * Default true: on SIGINT, SIGTERM or SIGHUP this process stops the emulator,
   * then dies of that signal (unless the program listens for it too: then the
   * program decides). false leaves signals to the caller, who must stop() it.
   */
  handleSignals?: boolean;
  /**
   * Whether the sandbox's processes are confined (docs/emulators.md, "Isolation"):
   * `strict` confines them or refuses to start; `auto` confines them where the
   * machine allows it and otherwise runs them unconfined, saying so in
   * `isolation`; `none` runs them as the emulator's own children, with its
   * rights, and only on request. Default `auto`.
   */
  isolation?: IsolationMode;
  /** Caps for a confined sandbox, where the machine lets the emulator manage cgroups. */
  sandboxLimits?: CgroupLimits;
  /**
   * What a confined sandbox's processes may reach. Default `{ internet: false }`: no
   * network at all. `internet: true`: HTTP and HTTPS through the emulator's egress
   * proxy (never the host's own addresses), under the create request's `allow_out` /
   * `deny_out` rules. Ignored when the processes are not confined.
   */
  network?: SandboxNetwork;
  /**
   * A control plane that hands out agent tokens: their lifetime in seconds. Default:
   * the provider's, as its control spec says (a day where no source states it). A short
   * one (e.g. 2) lets a test see a client renew its token. Ignored where there are none.
   */
  tokenTtlSeconds?: number;
}

/** What a confined sandbox may reach (EmulatorOptions.network). */
export type SandboxNetwork =
  | {
      /** No network at all. */
      internet: false;
    }
  | {
      /** HTTP and HTTPS through the egress proxy, never to the host's own addresses. */
      internet: true;
      /** `allow_out` (a create request's egress rules): IPs, CIDRs or host names; non-empty, nothing else is reachable. An entry here wins over `denyOut`. */
      allowOut?: readonly string[];
      /** `deny_out`: IPs, CIDRs or host names refused. */
      denyOut?: readonly string[];
    };

/** How far a sandbox's processes are kept in: see EmulatorOptions.isolation. */
export type IsolationMode = 'none' | 'auto' | 'strict';

/** Confined where the machine allows it: the code a sandbox runs is untrusted, so no confinement must be asked for. */
export const DEFAULT_ISOLATION: IsolationMode = 'auto';

/** What confines a running emulator's processes, as it was set up. */
export interface IsolationState {
  /** The mode asked for. */
  mode: IsolationMode;
  /** True when every process runs inside the sandbox's own namespaces (bubblewrap). */
  confined: boolean;
  /** Why it is not confined, or why a limit is not in force. */
  note?: string;
  /** The limits the kernel holds for the sandbox, where a cgroup holds them. */
  limits?: LimitsInForce;
  /** What a confined sandbox can reach over the network (absent when it is not confined: then the host's whole network). */
  network?: NetworkInForce;
}

/** A confined sandbox's network, as it was set up. */
export interface NetworkInForce {
  /** False: no network at all. True: HTTP(S) through the egress proxy at `proxy`. */
  internet: boolean;
  /** The proxy's URL inside the sandbox (every process gets it as HTTP_PROXY and HTTPS_PROXY). */
  proxy?: string;
  /** The `allow_out` rules applied, as the create request gave them. */
  allowOut?: readonly string[];
  /** The `deny_out` rules applied, as the create request gave them. */
  denyOut?: readonly string[];
  /** What is and is not reachable, in words. */
  note: string;
}

/** A started emulator: where to point a client, with which token, and how to stop it. */
export interface RunningEmulator {
  /** The provider whose API it serves. */
  readonly provider: ProviderName;
  /** Its address, `http://127.0.0.1:<port>` (a client's `baseUrl`). */
  readonly baseUrl: string;
  /** The bearer token it accepts (a client's `apiKey`); keep it out of logs. */
  readonly token: string;
  /** This instance's unique id: every child's environment has `SANDBOX_PROCS_EMULATOR_CHILD=<id>/<n>`. */
  readonly id: string;
  /** Where processes run unless a request names a working directory; removed on stop. */
  readonly workdir: string;
  /**
   * The environment variables that point a program here, by the names the
   * README's examples and the provider's official SDK read (its sandbox URL
   * and key, e.g. `<PROVIDER>_SANDBOX_URL`); the token is among them.
   * `emulate` prints them as `export` lines and writes them with `--env-file`.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Whether its processes are confined, and by what. */
  readonly isolation: IsolationState;
  /** Stops the server and every process it started, and removes its working directory. */
  stop(): Promise<void>;
}

export const EMULATOR_VERSION = '0.1.0';

/** The server settings of EmulatorOptions, as serveOperations takes them (only those given). */
export function serverSettings(options: EmulatorOptions): Pick<EmulatorOptions, 'port' | 'maxBodyBytes' | 'keepAliveMs' | 'maxConnections'> {
  const { port, maxBodyBytes, keepAliveMs, maxConnections } = options;
  return {
    ...(port !== undefined && { port }),
    ...(maxBodyBytes !== undefined && { maxBodyBytes }),
    ...(keepAliveMs !== undefined && { keepAliveMs }),
    ...(maxConnections !== undefined && { maxConnections }),
  };
}

/** The Retry-After of a full emulator's 429: a running process may end any moment. */
export const RETRY_SOON: Readonly<Record<string, string>> = { 'retry-after': '1' };

/**
 * A sandbox's state as its control plane sets it: running; paused (every process
 * frozen where it is, no CPU used); stopped (every process ended, files kept).
 */
export type SandboxState = 'running' | 'paused' | 'stopped';

/** A process-API emulator as a control plane holds it: one sandbox, which can be paused and stopped. */
export interface SandboxEmulator extends RunningEmulator {
  readonly state: SandboxState;
  /**
   * Moves the sandbox to `state`. Paused or stopped, its API answers every request
   * with 503 and the code SANDBOX_PAUSED or SANDBOX_STOPPED in the provider's error
   * body (no source says what a paused sandbox answers: inferred, see the specs).
   */
  setState(state: SandboxState): Promise<void>;
}

/** What a control plane sets on the sandboxes it starts, beyond EmulatorOptions. */
export interface SandboxAuth {
  /** Replaces the check of the emulator's own token (e.g. by tokens the control plane signs, which expire). */
  authorize?: (authorization: string | undefined) => AuthRefusal | undefined;
}

export async function startProviderEmulator(emulator: ProviderEmulator, options: EmulatorOptions = {}, auth: SandboxAuth = {}): Promise<SandboxEmulator> {
  const token = options.token ?? `emu_${randomBytes(16).toString('hex')}`;
  const id = newInstanceId();
  let supervisor: Supervisor | undefined;
  let confinement: Confinement | undefined;
  let terminals: Terminals | undefined;
  // From here on, even a SIGKILL leaves nothing behind.
  const { workdir, exitNow, release, watchCgroups } = await claimInstance(id, emulator.provider, () => {
    terminals?.killAllNow();
    supervisor?.killAllNow();
    confinement?.killNow();
  });
  let isolation: IsolationState;
  try {
    ({ confinement, isolation } = await confine(id, workdir, options));
    if (confinement) watchCgroups(confinement.cgroupDirs);
  } catch (error) {
    await release();
    throw error;
  }
  const launcher = confinement ? confinedLauncher(confinement.sandbox, workdir) : directLauncher;
  supervisor = createSupervisor(options.limits, { instanceId: id, env: runMarkerEnv(), launcher });
  terminals = createTerminals({ launcher, instanceId: id, marks: runMarkerEnv() });
  const stopSignal = new AbortController();
  let state: SandboxState = 'running';
  // The cgroup freezer where the sandbox has one, else signals to its processes.
  const signals = signalFreezer(id, () => [...supervisor!.list().filter((p) => p.running).map((p) => p.pid), ...terminals!.pids()]);
  const setFrozen = async (frozen: boolean) => {
    if (await confinement?.setFrozen(frozen)) return;
    await (frozen ? signals.freeze() : signals.thaw());
  };
  // A paused or stopped sandbox answers nothing but this (its control plane's routes are elsewhere).
  const refuseUnlessRunning = (_req: IncomingMessage, res: ServerResponse): boolean => {
    if (state === 'running') return false;
    const code = state === 'paused' ? 'SANDBOX_PAUSED' : 'SANDBOX_STOPPED';
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify(emulator.errorBody(`the sandbox is ${state}: resume or start it first`, code, randomUUID())));
    return true;
  };
  const context: EmulatorContext = { supervisor, workdir, startedAt: Date.now(), version: EMULATOR_VERSION, stopping: stopSignal.signal, isolation, terminals };
  const upgrades = emulator.upgrades?.(context);
  let server;
  try {
    server = await serveOperations({
      operations: emulator.operations,
      handlers: emulator.handlers(context),
      errorBody: emulator.errorBody,
      ...(emulator.publicOperations ? { publicOperations: emulator.publicOperations } : {}),
      ...(emulator.rejectBody ? { rejectBody: emulator.rejectBody } : {}),
      ...(emulator.rawBodyOperations ? { rawBodyOperations: emulator.rawBodyOperations } : {}),
      ...(emulator.unrouted ? { unrouted: emulator.unrouted } : {}),
      token,
      ...(auth.authorize && { authorize: auth.authorize }),
      divert: refuseUnlessRunning,
      ...(upgrades && {
        upgrades: {
          ...upgrades,
          gate: () =>
            state === 'running' ? undefined : { status: 503, message: `the sandbox is ${state}: resume or start it first`, code: state === 'paused' ? 'SANDBOX_PAUSED' : 'SANDBOX_STOPPED', headers: { 'retry-after': '1' } },
        },
      }),
      ...serverSettings(options),
    });
  } catch (error) {
    await confinement?.stop();
    await release();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  let releaseSignals = () => {};
  let changing: Promise<void> = Promise.resolve();
  const running: SandboxEmulator = {
    get state() {
      return state;
    },
    setState(next) {
      // One change at a time, in the order asked.
      changing = changing.then(async () => {
        if (stopping || next === state) return;
        const was = state;
        // Closed to requests before its processes are touched, open again only once they run.
        if (next !== 'running') state = next;
        // Thawed first: a frozen process takes no signal until thawed.
        if (was === 'paused') await setFrozen(false);
        if (next === 'paused') await setFrozen(true);
        if (next === 'stopped') await Promise.all([terminals!.killAll(false), supervisor!.stopAll()]);
        state = next;
      });
      return changing;
    },
    provider: emulator.provider,
    baseUrl: server.baseUrl,
    token,
    id,
    workdir,
    env: emulator.environment(server.baseUrl, token),
    isolation,
    stop() {
      stopping ??= (async () => {
        stopSignal.abort();
        // A frozen process takes no signal (a frozen bwrap would hold its stop): thawed, then ended.
        if (state === 'paused') await setFrozen(false);
        // A confined sandbox ends whole, escapees included; its processes' records then finish as killed.
        await confinement?.stop();
        await Promise.all([terminals!.killAll(), supervisor!.stopAll()]);
        await server.close();
        await release();
        releaseSignals();
      })();
      return stopping;
    },
  };
  if (options.handleSignals !== false) releaseSignals = stopOnSignals({ stop: () => running.stop(), killNow: exitNow });
  return running;
}
