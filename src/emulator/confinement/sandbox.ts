// One confined sandbox: a long-lived bwrap (see bwrap.ts) whose one program is the
// spawner (spawner.ts), driven over a socket pair. Every process of the sandbox is
// started by the spawner inside the sandbox's namespaces, so it sees only the
// sandbox, and ending the sandbox (SIGKILL to bwrap) ends every one of them, those
// that left their group or cleared their environment included. With a cgroup, bwrap
// joins it before it forks, so the whole sandbox is born inside its limits.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import type { SandboxCgroup } from '../cgroups.js';
import { bwrapArguments, findBubblewrap, WORKSPACE } from './bwrap.js';
import type { EgressRules } from './egress-policy.js';
import { startEgressProxy, type EgressProxy } from './egress-proxy.js';
import { EGRESS_PORT, encodeFrame, FRAME, frameReader, type SpawnFrame, type TerminalSpawnFrame } from './spawner.js';
import type { TerminalProcess } from '../terminal-process.js';

/** The compiled spawner: beside this module in dist/, or, when this runs from its TypeScript source (the tests), the build's copy. */
const SPAWNER = [
  fileURLToPath(new URL('./spawner.js', import.meta.url)),
  // From src/emulator/confinement/ to the repository's dist/: only where this runs from source.
  fileURLToPath(new URL('../../../dist/src/emulator/confinement/spawner.js', import.meta.url)),
].find((path) => existsSync(path)) ?? fileURLToPath(new URL('./spawner.js', import.meta.url));
/** A sandbox that has not said it is ready by then never will (bwrap failed, or the machine is overloaded). */
const READY_TIMEOUT_MS = 15_000;

/** A process inside a confined sandbox, shaped like the parts of a ChildProcess the supervisor uses. */
export interface ConfinedProcess extends EventEmitter {
  /** Its PID inside the sandbox (what `ps` and `$$` show there). */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  /**
   * How it ended: an exit code, or the number of the signal that ended it. A promise made
   * before the process starts, so that an exit reported with its start (a process that ends
   * at once) is never missed by a listener that came a moment later.
   */
  readonly exited: Promise<{ code: number | null; signal: number | null }>;
  /** Sends `signal` to the process, or with `group` to its whole process group. */
  signal(signal: number, group: boolean): void;
  /** Asks the spawner to stop reading the process's pipes (the program then waits at its next write), and to read them again. */
  holdOutput(): void;
  releaseOutput(): void;
}

export interface ConfinedSandbox {
  /** bwrap's PID on the host. */
  readonly hostPid: number;
  /** What every process inside gets in its environment (with internet access: the proxy variables), under what its request sets. */
  readonly env: Readonly<Record<string, string>>;
  /** With internet access: the proxy inside, as HTTP_PROXY names it. */
  readonly proxyUrl?: string;
  /** The host's PID of a process this sandbox knows as `pid` (for reading its /proc entry from outside), if it still runs. */
  hostPidOf(pid: number): number | undefined;
  /** Starts a process inside; rejects like spawn() does when it cannot (ENOENT, EACCES, ...). `cwd` is a path inside. */
  spawn(request: SpawnFrame): Promise<ConfinedProcess>;
  /** Starts a program in a pseudo-terminal inside (node-pty, run by the spawner); `cwd` is a path inside. */
  spawnTerminal(request: TerminalSpawnFrame): Promise<TerminalProcess>;
  /** Resolves when the sandbox has ended, whoever ended it. */
  readonly ended: Promise<void>;
  /** Ends the sandbox and everything in it; resolves once bwrap is gone. */
  stop(): Promise<void>;
  /** For an exit hook: SIGKILL to bwrap, now. */
  killNow(): void;
}

export class ConfinementUnavailableError extends Error {}

export interface ConfinedSandboxOptions {
  /** The host directory that becomes /workspace. */
  workspace: string;
  /** A group to start the sandbox in (its limits then hold for every process inside). */
  cgroup?: SandboxCgroup;
  /** Internet access through the egress proxy, under these rules. Without it: no network at all. */
  egress?: EgressRules;
}

/** Where the proxy's socket is made on the host: in the workspace, whose name is removed once bwrap has bound it (so no user process ever sees it there, and the reaper's removal of the workspace covers a crash before). */
const EGRESS_SOCKET_NAME = '.sandbox-procs-egress.sock';
/** A unix socket's path is at most 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

/** The variables that point a program's HTTP client at the proxy; the sandbox's own loopback stays direct. */
function proxyEnv(proxyUrl: string): Record<string, string> {
  const direct = 'localhost,127.0.0.1,::1';
  return { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, http_proxy: proxyUrl, https_proxy: proxyUrl, NO_PROXY: direct, no_proxy: direct };
}

/** Starts a sandbox and waits until its spawner is ready. */
export async function startConfinedSandbox(options: ConfinedSandboxOptions): Promise<ConfinedSandbox> {
  const bubblewrap = findBubblewrap();
  if ('unavailable' in bubblewrap) throw new ConfinementUnavailableError(bubblewrap.unavailable);
  let proxy: EgressProxy | undefined;
  if (options.egress) {
    const socketPath = joinPath(options.workspace, EGRESS_SOCKET_NAME);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) throw new ConfinementUnavailableError(`the egress proxy's socket path is too long for a unix socket (${socketPath}): use a shorter TMPDIR`);
    proxy = await startEgressProxy(socketPath, options.egress);
  }
  const args = bwrapArguments({ workspace: options.workspace, spawner: SPAWNER, network: proxy ? { egressSocket: proxy.socketPath } : false });
  // Joining the group first, in a shell that then becomes bwrap: nothing of the sandbox is ever outside it.
  const join = (options.cgroup?.joinFiles ?? []).map((file, i) => `echo $$ > "$${i + 1}" || exit 126`).join('; ');
  const files = options.cgroup?.joinFiles ?? [];
  const child: ChildProcess = options.cgroup
    ? spawn('/bin/sh', ['-c', `${join}; shift ${files.length}; exec "$@"`, 'sh', ...files, bubblewrap.path, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: {}, cwd: '/' })
    : spawn(bubblewrap.path, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: {}, cwd: '/' });
  const control = child.stdio[3] as Socket;
  const processes = new Map<number, ConfinedProcess & { markExited(how: { code: number | null; signal: number | null }): void }>();
  const waiting = new Map<
    number,
    { resolve: (p: ConfinedProcess) => void; reject: (e: Error) => void; process: ConfinedProcess & { markExited(how: { code: number | null; signal: number | null }): void } }
  >();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  control.on('error', () => undefined);
  // The proxy never outlives its sandbox, whoever ended it.
  const ended = once(child, 'exit').then(() => proxy?.close());
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  control.on(
    'data',
    frameReader((type, id, body) => {
      if (type === FRAME.ready) return markReady();
      const pending = waiting.get(id);
      if (type === FRAME.spawned && pending) {
        waiting.delete(id);
        (pending.process as { pid: number }).pid = (JSON.parse(body.toString()) as { pid: number }).pid;
        processes.set(id, pending.process);
        pending.resolve(pending.process);
        return;
      }
      if (type === FRAME.spawnError && pending) {
        waiting.delete(id);
        const { message, code } = JSON.parse(body.toString()) as { message: string; code?: string };
        pending.reject(Object.assign(new Error(message), { code }));
        return;
      }
      const process = processes.get(id);
      if (!process) return;
      if (type === FRAME.stdinTaken) process.emit('stdin-taken');
      else if (type === FRAME.stdout) process.stdout.write(body);
      else if (type === FRAME.stderr) process.stderr.write(body);
      else if (type === FRAME.exit) {
        process.markExited(JSON.parse(body.toString()) as { code: number | null; signal: number | null });
      } else if (type === FRAME.closed) {
        processes.delete(id);
        process.stdout.end();
        process.stderr.end();
        process.emit('close');
      }
    }),
  );
  // A sandbox that ends takes its processes with it: each is reported killed (SIGKILL), and its output ends.
  void ended.then(() => {
    for (const [, pending] of waiting) pending.reject(new Error('the sandbox ended'));
    waiting.clear();
    for (const process of processes.values()) {
      process.markExited({ code: null, signal: 9 });
      process.stdout.end();
      process.stderr.end();
      process.emit('close');
    }
    processes.clear();
  });

  const failed = ended.then(() => Promise.reject(new ConfinementUnavailableError(`the sandbox ended before it was ready: ${stderr.trim() || 'no message'}`)));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConfinementUnavailableError(`the sandbox was not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, failed, late]);
  } catch (error) {
    child.kill('SIGKILL');
    await ended;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  // bwrap has bound the socket inside: its name on the host (in the workspace, which the sandbox sees) is no longer needed.
  await proxy?.unlinkSocket();

  // The sandbox's PID namespace, as the host names it: that of bwrap's child (PID 1 inside).
  const namespace = (() => {
    try {
      const inner = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0];
      return readlinkSync(`/proc/${inner}/ns/pid`);
    } catch {
      return undefined;
    }
  })();
  const hostPidOf = (pid: number): number | undefined => {
    if (namespace === undefined) return undefined;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // "NSpid: <host pid> ... <pid in the innermost namespace>"
        const ids = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
        if (ids && ids.length > 1 && Number(ids.at(-1)) === pid && readlinkSync(`/proc/${entry}/ns/pid`) === namespace) return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
    return undefined;
  };

  let nextId = 1;
  const send = (type: (typeof FRAME)[keyof typeof FRAME], id: number, payload?: Uint8Array | object) =>
    new Promise<void>((resolve, reject) => control.write(encodeFrame(type, id, payload), (error) => (error ? reject(error) : resolve())));
  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  /** The emulator's side of process `id` inside: its streams and exit, its signals and output holds sent as frames. */
  const confinedProcess = (id: number, stdin: Writable | null) => {
    let markExited!: (how: { code: number | null; signal: number | null }) => void;
    const exited = new Promise<{ code: number | null; signal: number | null }>((resolve) => (markExited = resolve));
    return Object.assign(new EventEmitter(), {
      pid: 0,
      stdin,
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      exited,
      markExited,
      signal: (signal: number, group: boolean) => void send(FRAME.signal, id, { signal, group }).catch(() => undefined),
      holdOutput: () => void send(FRAME.holdOutput, id).catch(() => undefined),
      releaseOutput: () => void send(FRAME.releaseOutput, id).catch(() => undefined),
    });
  };
  /** Asks the spawner to start `process` (with `frame`: a plain process or a terminal); resolves once it has a PID inside. */
  const startInside = (frame: typeof FRAME.spawn | typeof FRAME.spawnTerminal, id: number, request: { cwd?: string }, process: ReturnType<typeof confinedProcess>) =>
    new Promise<ConfinedProcess>((resolve, reject) => {
      waiting.set(id, { resolve, reject, process });
      send(frame, id, { ...request, cwd: request.cwd || WORKSPACE }).catch((error: Error) => {
        waiting.delete(id);
        reject(error);
      });
    });
  const proxyUrl = proxy && `http://127.0.0.1:${EGRESS_PORT}`;
  return {
    hostPid: child.pid!,
    env: proxyUrl ? proxyEnv(proxyUrl) : {},
    ...(proxyUrl && { proxyUrl }),
    hostPidOf,
    ended,
    killNow,
    async stop() {
      killNow();
      await ended;
    },
    spawn(request) {
      const id = nextId++;
      const stdin =
        request.stdin === 'pipe'
          ? new Writable({
              // Done only when the process's pipe took the bytes: until then they count as queued (writableLength), as with a real pipe.
              write: (chunk: Buffer, _encoding, done) => {
                const process = processes.get(id) ?? waiting.get(id)?.process;
                if (!process) return done(new Error('the process is gone'));
                const taken = () => {
                  process.off('close', gone);
                  done();
                };
                const gone = () => {
                  process.off('stdin-taken', taken);
                  done(new Error('the process is gone'));
                };
                process.once('stdin-taken', taken);
                process.once('close', gone);
                send(FRAME.stdin, id, chunk).catch(gone);
              },
              final: (done) => void send(FRAME.stdinClose, id).then(() => done(), done),
            })
          : null;
      return startInside(FRAME.spawn, id, request, confinedProcess(id, stdin));
    },
    async spawnTerminal(request) {
      const id = nextId++;
      // Its output is read as it comes (flowing), never buffered here: the spawner holds the terminal while this side is behind.
      const process = confinedProcess(id, null);
      const { exited } = process;
      const started = await startInside(FRAME.spawnTerminal, id, request, process);
      let gone = false;
      void exited.then(() => (gone = true));
      const quietly = (promise: Promise<void>) => void promise.catch(() => undefined);
      return {
        pid: started.pid,
        onData: (listener) => void process.stdout.on('data', listener),
        write: (data) =>
          gone
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                // Taken by the terminal, or gone: either way nothing more waits for it.
                const done = () => {
                  process.off('stdin-taken', done);
                  process.off('close', done);
                  resolve();
                };
                process.once('stdin-taken', done);
                process.once('close', done);
                send(FRAME.stdin, id, data).catch(done);
              }),
        resize: (cols, rows) => quietly(send(FRAME.resize, id, { cols, rows })),
        pause: () => quietly(send(FRAME.holdOutput, id)),
        resume: () => quietly(send(FRAME.releaseOutput, id)),
        exited,
        kill: () => quietly(send(FRAME.killSession, id)),
      };
    },
  };
}
