// The one place that turns an emulator's isolation mode and a sandbox's limits
// into its confinement: a bubblewrap sandbox (sandbox.ts) started inside a cgroup
// of its own (../cgroups.ts) where the machine lets us manage one. What could not
// be set up is said in the returned state, never assumed.
import { dirname } from 'node:path';
import { createSandboxCgroup, type CgroupLimits, type SandboxCgroup } from '../cgroups.js';
import { DEFAULT_ISOLATION, type IsolationMode, type IsolationState, type NetworkInForce, type SandboxNetwork } from '../emulator.js';
import { ConfinementUnavailableError, startConfinedSandbox, type ConfinedSandbox } from './sandbox.js';

/** Processes (and threads) a sandbox may hold when its creator asks for no cap: a fork storm ends here. */
export const DEFAULT_MAX_PROCESSES = 256;
/** What the sandbox itself holds in its cgroup: bwrap twice and the spawner's Node with its threads (about 9, measured). */
const OVERHEAD_PROCESSES = 12;
/** The spawner's share of the memory cgroup (about 7 MB charged, measured), so that the programs get what was asked for. */
const OVERHEAD_BYTES = 16 * 1024 * 1024;

export interface Confinement {
  readonly sandbox: ConfinedSandbox;
  /** Its cgroup's directories, for the reaper (empty without a cgroup). */
  readonly cgroupDirs: readonly string[];
  /** Ends the sandbox, then removes its cgroup. */
  stop(): Promise<void>;
  killNow(): void;
  /** Freezes (true) or thaws (false) the whole sandbox with its cgroup's freezer; false when it has none. */
  setFrozen(frozen: boolean): Promise<boolean>;
}

export async function confine(
  id: string,
  workdir: string,
  options: { isolation?: IsolationMode; sandboxLimits?: CgroupLimits; network?: SandboxNetwork },
): Promise<{ confinement?: Confinement; isolation: IsolationState }> {
  const mode = options.isolation ?? DEFAULT_ISOLATION;
  if (mode === 'none') return { isolation: { mode, confined: false, note: 'isolation none: processes run as the emulator\'s children, with its rights' } };
  const requested = { maxProcesses: DEFAULT_MAX_PROCESSES, ...options.sandboxLimits };
  let cgroup: SandboxCgroup | undefined;
  let limitsNote: string | undefined;
  try {
    cgroup = await createSandboxCgroup(`sandbox-procs-${id}`, {
      maxProcesses: requested.maxProcesses + OVERHEAD_PROCESSES,
      ...(requested.memoryBytes !== undefined && { memoryBytes: requested.memoryBytes + OVERHEAD_BYTES }),
      ...(requested.cpus !== undefined && { cpus: requested.cpus }),
    });
  } catch (error) {
    limitsNote = `no limits in force: ${(error as Error).message}`;
  }
  let sandbox: ConfinedSandbox;
  try {
    const network = options.network;
    sandbox = await startConfinedSandbox({
      workspace: workdir,
      ...(cgroup && { cgroup }),
      ...(network?.internet && { egress: { allowOut: network.allowOut ?? [], denyOut: network.denyOut ?? [] } }),
    });
  } catch (error) {
    await cgroup?.remove();
    if (mode === 'strict' || !(error instanceof ConfinementUnavailableError)) throw error;
    return { isolation: { mode, confined: false, note: `processes run unconfined, with the emulator's rights: ${error.message}` } };
  }
  const inForce = cgroup?.inForce;
  const limits = inForce && {
    cgroup: inForce.cgroup,
    maxProcesses: requested.maxProcesses,
    ...(inForce.memoryBytes !== undefined && { memoryBytes: requested.memoryBytes }),
    ...(inForce.cpus !== undefined && { cpus: inForce.cpus }),
  };
  return {
    confinement: {
      sandbox,
      cgroupDirs: (cgroup?.joinFiles ?? []).map((file) => dirname(file)),
      killNow: () => sandbox.killNow(),
      setFrozen: async (frozen) => (cgroup ? cgroup.setFrozen(frozen) : false),
      async stop() {
        await sandbox.stop();
        await cgroup?.remove();
      },
    },
    isolation: { mode, confined: true, ...(limits && { limits }), ...(limitsNote && { note: limitsNote }), network: networkInForce(options.network, sandbox.proxyUrl) },
  };
}

function networkInForce(network: SandboxNetwork | undefined, proxy: string | undefined): NetworkInForce {
  if (!network?.internet || proxy === undefined) {
    return { internet: false, note: "no network at all: the sandbox's own network namespace has only lo (no host loopback, no internet, no DNS)" };
  }
  return {
    internet: true,
    proxy,
    ...(network.allowOut !== undefined && { allowOut: [...network.allowOut] }),
    ...(network.denyOut !== undefined && { denyOut: [...network.denyOut] }),
    note:
      `HTTP and HTTPS only, through the emulator's egress proxy at ${proxy} (HTTP_PROXY and HTTPS_PROXY are set; CONNECT and plain http:// requests): ` +
      'programs that ignore those variables, raw TCP, UDP and DNS inside get nowhere (the namespace has only lo). ' +
      "The proxy resolves names itself and never connects to the host's loopback, its interface addresses, link-local or multicast addresses; " +
      'private networks only where allow_out names them; allow_out and deny_out hold for every address it connects to (host names: exact match).',
  };
}
