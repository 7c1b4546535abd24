// How the supervisor starts a process: directly, as a child of the emulator with
// its rights (isolation "none"), or inside the sandbox's confinement (a bwrap
// namespace driven through its spawner). The supervisor sees the same shape either
// way: a PID, three streams, how it ended, and a way to signal it or its group.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { WORKSPACE } from './confinement/bwrap.js';
import type { ConfinedSandbox } from './confinement/sandbox.js';
import { spawnOptions } from './confinement/spawner.js';
import { launchDirectTerminal, type TerminalProcess, type TerminalRequest } from './terminal-process.js';

export interface LaunchRequest {
  command: string;
  args: readonly string[];
  /** The whole environment the process gets. */
  env: Readonly<Record<string, string>>;
  /** A path on the host: a confined launcher shows the sandbox's own directory as /workspace. */
  cwd: string;
  stdin: 'pipe' | 'closed';
  uid?: number;
  gid?: number;
}

export interface LaunchedProcess {
  /** The PID its sandbox knows it by (the host's, when it is not confined). */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** How it ended: an exit code, or the number of the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: number | null }>;
  /** Sends a signal to the process, or with `group` to its process group. Throws only when a signal to the process itself cannot be sent. */
  signal(signal: number, group: boolean): void;
  /** Its PID on the host, for reading its /proc entry from outside (undefined once it is gone). */
  hostPid(): number | undefined;
  /** Stops reading its stdout and stderr: the program blocks on its next write once its pipes are full. */
  holdOutput(): void;
  /** Reads its output again. */
  releaseOutput(): void;
}

export interface Launcher {
  /** Rejects as spawn() does when the program cannot start (ENOENT, EACCES, a missing working directory). */
  launch(request: LaunchRequest): Promise<LaunchedProcess>;
  /** A program in a pseudo-terminal of its own, leading its own session. */
  launchTerminal(request: TerminalRequest): Promise<TerminalProcess>;
}

const SIGNAL_NUMBERS = constants.signals as Record<string, number>;

/** Processes as children of the emulator, each leading its own process group. */
export const directLauncher: Launcher = {
  async launch(request) {
    const child = spawn(request.command, [...request.args], spawnOptions({ ...request, env: { ...request.env } }));
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([error]) => Promise.reject(error as Error))]);
    const pid = child.pid!;
    return {
      pid,
      stdin: child.stdin,
      stdout: child.stdout!,
      stderr: child.stderr!,
      exited: once(child, 'exit').then(([code, signal]) => ({
        code: typeof code === 'number' ? code : null,
        signal: typeof signal === 'string' ? (SIGNAL_NUMBERS[signal] ?? null) : null,
      })),
      hostPid: () => pid,
      // A pipe's socket stops reading its descriptor at pause(): the kernel's pipe fills and the program waits.
      holdOutput() {
        child.stdout!.pause();
        child.stderr!.pause();
      },
      releaseOutput() {
        child.stdout!.resume();
        child.stderr!.resume();
      },
      signal(signal, group) {
        if (!group) return void process.kill(pid, signal);
        try {
          process.kill(-pid, signal);
        } catch {
          // the group is gone already
        }
      },
    };
  },
  launchTerminal: launchDirectTerminal,
};

/** Processes inside `sandbox`, whose /workspace is the host directory `workdir`. */
export function confinedLauncher(sandbox: ConfinedSandbox, workdir: string): Launcher {
  // The sandbox's own directory is /workspace inside; any other path means the same path in the sandbox's view.
  const inside = (cwd: string) => (cwd === workdir ? WORKSPACE : cwd.startsWith(`${workdir}/`) ? `${WORKSPACE}${cwd.slice(workdir.length)}` : cwd);
  return {
    async launch(request) {
      const child = await sandbox.spawn({
        command: request.command,
        args: [...request.args],
        // The sandbox's own variables (its proxy) first: what the request sets wins.
        env: { ...sandbox.env, ...request.env },
        cwd: inside(request.cwd),
        stdin: request.stdin,
        ...(request.uid !== undefined && { uid: request.uid }),
        ...(request.gid !== undefined && { gid: request.gid }),
      });
      let hostPid: number | undefined;
      return {
        pid: child.pid,
        stdin: child.stdin,
        stdout: child.stdout,
        stderr: child.stderr,
        exited: child.exited,
        signal: (signal, group) => child.signal(signal, group),
        // Held where the pipes are read, inside: pausing the relayed streams here would only pile the output up in this process.
        holdOutput: () => child.holdOutput(),
        releaseOutput: () => child.releaseOutput(),
        // Found once (a /proc scan), then kept: a PID does not change while the process lives.
        hostPid: () => (hostPid ??= sandbox.hostPidOf(child.pid)),
      };
    },
    launchTerminal: ({ marker: _marker, ...request }) =>
      sandbox.spawnTerminal({
        ...request,
        args: [...request.args],
        env: { ...sandbox.env, ...request.env },
        cwd: inside(request.cwd),
      }),
  };
}
