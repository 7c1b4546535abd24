// The spawner: the one program a confined sandbox starts with. It runs inside the
// sandbox's namespaces (bwrap is PID 1 and reaps orphans; this is PID 2) and starts,
// feeds, signals and watches the sandbox's processes on the emulator's behalf, over
// the socket the emulator handed it as fd 3. When that socket ends (the emulator
// stopped the sandbox, or died), it exits; bwrap, PID 1, then exits, and the kernel
// ends every process left in the namespace, escapees included.
//
// This file is bound alone into the sandbox (as /.init/spawner.mjs), so it imports
// only Node's built-ins. The emulator imports the frame codec from it; main() runs
// only when it is the program.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';

/** Frame types: to the spawner, then from it. */
export const FRAME = {
  spawn: 1,
  stdin: 2,
  stdinClose: 3,
  signal: 4,
  /** Start a program in a pseudo-terminal (TerminalSpawnFrame); its output comes as stdout frames, its input as stdin frames. */
  spawnTerminal: 5,
  /** A terminal's new size: {cols, rows}. */
  resize: 6,
  /** Stop / start again reading a terminal's or a process's output: the emulator's reader is behind. */
  holdOutput: 7,
  releaseOutput: 8,
  /** SIGKILL to everything in a terminal's session (a shell's jobs lead groups of their own). */
  killSession: 9,
  spawned: 10,
  spawnError: 11,
  stdout: 12,
  stderr: 13,
  exit: 14,
  closed: 15,
  ready: 16,
  /** A stdin frame's bytes were taken by the process's pipe: the emulator's queue for it shrinks only then. */
  stdinTaken: 17,
} as const;

/**
 * A sandbox with internet access: the egress proxy's socket as the sandbox sees it
 * (bound there by bwrap), and the port on the sandbox's own loopback where the
 * spawner relays to it (what HTTP_PROXY names inside).
 */
export const EGRESS_SOCKET = '/run/sandbox-procs-egress.sock';
export const EGRESS_PORT = 3128;
/** The spawner's argument that starts the relay. */
export const EGRESS_ARG = '--egress';
/** Relayed connections at once: as many as the proxy takes from one sandbox (egress-proxy.ts). */
const MAX_RELAYED = 64;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

/** What the emulator asks the spawner to start. */
export interface SpawnFrame {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  stdin: 'pipe' | 'closed';
  uid?: number;
  gid?: number;
}

/** What the emulator asks the spawner to start in a pseudo-terminal. */
export interface TerminalSpawnFrame extends Omit<SpawnFrame, 'stdin'> {
  cols: number;
  rows: number;
}

/**
 * Where node-pty appears inside: the host's `node_modules/@lydell` directory (node-pty and
 * its platform binary), bound read-only beside the spawner. Loaded only when a terminal is asked for.
 */
export const NODE_MODULES_INSIDE = 'node_modules';

/** A frame on the wire: u32 length (of what follows) | u8 type | u32 process id | payload (JSON, or raw bytes for output and stdin). */
export function encodeFrame(type: FrameType, id: number, payload?: Uint8Array | object): Buffer {
  const body = payload instanceof Uint8Array ? payload : Buffer.from(payload === undefined ? '' : JSON.stringify(payload));
  const header = Buffer.allocUnsafe(9);
  header.writeUInt32BE(body.length + 5, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32BE(id, 5);
  return Buffer.concat([header, body]);
}

/**
 * Splits a byte stream into frames, whatever the chunks. A frame that spans chunks is
 * joined once, when its last byte has come (not once per chunk: output frames are as
 * large as a pipe's reads, and joining at every chunk would copy each byte many times).
 */
export function frameReader(onFrame: (type: number, id: number, body: Buffer) => void): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  let buffered = 0;
  return (chunk) => {
    parts.push(chunk);
    buffered += chunk.length;
    while (buffered >= 4) {
      if (parts[0]!.length < 4) parts = [Buffer.concat(parts)];
      const length = parts[0]!.readUInt32BE(0);
      if (buffered < 4 + length) return;
      const head = parts[0]!.length >= 4 + length ? parts[0]! : Buffer.concat(parts);
      onFrame(head.readUInt8(4), head.readUInt32BE(5), head.subarray(9, 4 + length));
      const rest = head.subarray(4 + length);
      parts = head === parts[0] && parts.length > 1 ? [rest, ...parts.slice(1)] : rest.length > 0 ? [rest] : [];
      buffered -= 4 + length;
    }
  };
}

/** How a sandbox's process is started, by the spawner or directly by the emulator: the same everywhere. */
export function spawnOptions(request: Pick<SpawnFrame, 'cwd' | 'env' | 'stdin' | 'uid' | 'gid'>): SpawnOptions {
  return {
    cwd: request.cwd,
    env: request.env,
    // Its own process group: a signal to the group reaches what it started.
    detached: true,
    stdio: [request.stdin === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(request.uid !== undefined && { uid: request.uid }),
    ...(request.gid !== undefined && { gid: request.gid }),
  };
}

function main(): void {
  const socket = new Socket({ fd: 3, readable: true, writable: true });
  const children = new Map<number, ChildProcess>();
  const send = (type: FrameType, id: number, payload?: Uint8Array | object) => socket.write(encodeFrame(type, id, payload));
  // Output waits while the emulator is behind: a process that prints faster than the emulator reads is
  // held at its pipe (as when unconfined), instead of the socket's queue growing in this process.
  const paused = new Map<Readable, number>();
  // Processes whose output the emulator asked to hold (its reader is behind): their pipes stay unread until it releases them.
  const heldProcesses = new Set<number>();
  // Terminals whose output waits: for the socket (`blockedBySocket`), or because the emulator asked (`held`).
  const blockedBySocket = new Set<number>();
  const held = new Set<number>();
  const terminals = new Map<number, TerminalHandle>();
  const releaseIfFree = (id: number) => {
    if (!blockedBySocket.has(id) && !held.has(id)) terminals.get(id)?.resume();
  };
  socket.on('drain', () => {
    for (const [stream, id] of paused) if (!heldProcesses.has(id)) stream.resume();
    paused.clear();
    const waiting = [...blockedBySocket];
    blockedBySocket.clear();
    for (const id of waiting) releaseIfFree(id);
  });
  const relayOutput = (stream: Readable, type: FrameType, id: number) =>
    stream.on('data', (chunk: Buffer) => {
      if (send(type, id, chunk)) return;
      stream.pause();
      paused.set(stream, id);
    });
  const holdProcess = (id: number, child: ChildProcess) => {
    heldProcesses.add(id);
    child.stdout!.pause();
    child.stderr!.pause();
  };
  const releaseProcess = (id: number, child: ChildProcess) => {
    heldProcesses.delete(id);
    // A stream paused for the socket waits for its drain.
    for (const stream of [child.stdout!, child.stderr!]) if (!paused.has(stream)) stream.resume();
  };

  const start = (id: number, request: SpawnFrame) => {
    let child: ChildProcess;
    try {
      child = spawn(request.command, request.args, spawnOptions(request));
    } catch (error) {
      send(FRAME.spawnError, id, { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code });
      return;
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) send(FRAME.spawnError, id, { message: error.message, code: error.code });
    });
    if (child.pid === undefined) return;
    children.set(id, child);
    send(FRAME.spawned, id, { pid: child.pid });
    relayOutput(child.stdout!, FRAME.stdout, id);
    relayOutput(child.stderr!, FRAME.stderr, id);
    child.stdin?.on('error', () => undefined);
    child.once('exit', (code, signal) => send(FRAME.exit, id, { code, signal: signal ? constants.signals[signal] : null }));
    child.once('close', () => {
      children.delete(id);
      heldProcesses.delete(id);
      send(FRAME.closed, id);
    });
  };

  const startTerminal = (id: number, request: TerminalSpawnFrame) => {
    let term: TerminalHandle;
    try {
      term = openTerminal(request);
    } catch (error) {
      send(FRAME.spawnError, id, { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code });
      return;
    }
    terminals.set(id, term);
    send(FRAME.spawned, id, { pid: term.pid });
    term.onData((chunk) => {
      if (send(FRAME.stdout, id, chunk)) return;
      term.pause();
      blockedBySocket.add(id);
    });
    term.onExit((code, signal) => {
      // What the program left running in its terminal session goes with it, as it does unconfined (Linux reuses no
      // PID that still names a session, so the id is still this session's).
      killSession(term.pid);
      terminals.delete(id);
      blockedBySocket.delete(id);
      held.delete(id);
      send(FRAME.exit, id, { code, signal });
      send(FRAME.closed, id);
    });
  };

  const onTerminalFrame = (type: number, id: number, body: Buffer): boolean => {
    const term = terminals.get(id);
    // Hold and release name a process too (not a terminal): those go on to onFrame.
    if (!term) return type === FRAME.resize || type === FRAME.killSession;
    if (type === FRAME.stdin) {
      term.write(body);
      send(FRAME.stdinTaken, id);
    } else if (type === FRAME.resize) {
      const { cols, rows } = JSON.parse(body.toString()) as { cols: number; rows: number };
      term.resize(cols, rows);
    } else if (type === FRAME.holdOutput) {
      held.add(id);
      term.pause();
    } else if (type === FRAME.releaseOutput) {
      held.delete(id);
      releaseIfFree(id);
    } else if (type === FRAME.killSession) killSession(term.pid);
    else return false;
    return true;
  };

  const onFrame = (type: number, id: number, body: Buffer) => {
    const child = children.get(id);
    if (type === FRAME.spawn) start(id, JSON.parse(body.toString()) as SpawnFrame);
    else if (type === FRAME.spawnTerminal) startTerminal(id, JSON.parse(body.toString()) as TerminalSpawnFrame);
    else if (onTerminalFrame(type, id, body)) return;
    else if (type === FRAME.stdin) {
      if (child?.stdin?.writable) child.stdin.write(body, () => send(FRAME.stdinTaken, id));
      else send(FRAME.stdinTaken, id);
    }
    else if (type === FRAME.stdinClose) child?.stdin?.end();
    else if (type === FRAME.holdOutput) {
      if (child) holdProcess(id, child);
    } else if (type === FRAME.releaseOutput) {
      if (child) releaseProcess(id, child);
    }
    else if (type === FRAME.signal && child?.pid !== undefined) {
      const { signal, group } = JSON.parse(body.toString()) as { signal: number; group: boolean };
      // A process that has exited is not signalled (its PID may be reused); its group may still hold what it left behind,
      // and Linux reuses no PID that still names a group.
      if (!group && (child.exitCode !== null || child.signalCode !== null)) return;
      try {
        process.kill(group ? -child.pid : child.pid, signal);
      } catch {
        // gone meanwhile
      }
    }
  };
  socket.on('data', frameReader(onFrame));
  // The emulator is gone, or is ending the sandbox: so are we, and with bwrap everything in the namespace.
  socket.on('end', () => process.exit(0));
  socket.on('error', () => process.exit(0));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => process.exit(0));
  const ready = () => send(FRAME.ready, 0, { pid: process.pid });
  if (process.argv.includes(EGRESS_ARG)) relayEgress(ready);
  else ready();
}

/** A program in a pseudo-terminal, as node-pty runs it inside the sandbox. */
interface TerminalHandle {
  pid: number;
  onData(listener: (chunk: Buffer) => void): void;
  onExit(listener: (code: number | null, signal: number | null) => void): void;
  write(data: Buffer): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
}

interface NodePtyModule {
  spawn(
    file: string,
    args: string[],
    options: { name: string; cols: number; rows: number; cwd: string; env: Record<string, string>; encoding: null; uid?: number; gid?: number },
  ): {
    pid: number;
    onData(listener: (data: Buffer | string) => void): unknown;
    onExit(listener: (event: { exitCode: number; signal?: number }) => void): unknown;
    write(data: Buffer | string): void;
    resize(cols: number, rows: number): void;
    pause(): void;
    resume(): void;
  };
}

let nodePty: NodePtyModule | undefined;

/** node-pty from the read-only bind beside this file (the host's copy); loaded on the first terminal only. */
function openTerminal(request: TerminalSpawnFrame): TerminalHandle {
  if (!nodePty) {
    try {
      nodePty = createRequire(process.argv[1]!)('@lydell/node-pty') as NodePtyModule;
    } catch (error) {
      throw Object.assign(new Error(`a terminal session needs the optional peer dependency @lydell/node-pty: npm install @lydell/node-pty (${(error as Error).message})`), {
        code: 'ENOPTY',
      });
    }
  }
  const term = nodePty.spawn(request.command, request.args, {
    name: 'xterm-256color',
    cols: request.cols,
    rows: request.rows,
    cwd: request.cwd,
    env: request.env,
    encoding: null,
    ...(request.uid !== undefined && { uid: request.uid }),
    ...(request.gid !== undefined && { gid: request.gid }),
  });
  return {
    pid: term.pid,
    onData: (listener) => void term.onData((data) => listener(typeof data === 'string' ? Buffer.from(data) : data)),
    onExit: (listener) => void term.onExit(({ exitCode, signal }) => (signal ? listener(null, signal) : listener(exitCode, null))),
    write: (data) => term.write(data),
    resize: (cols, rows) => term.resize(cols, rows),
    pause: () => term.pause(),
    resume: () => term.resume(),
  };
}

/** SIGKILL to every process group of the session `sid` leads (this namespace's /proc shows only the sandbox's processes). */
function killSession(sid: number): void {
  const groups = new Set<number>([sid]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp session ...": comm may hold spaces, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid) groups.add(Number(fields[2]));
    } catch {
      // gone meanwhile
    }
  }
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * Relays each TCP connection to 127.0.0.1:EGRESS_PORT, byte for byte, to the egress
 * proxy's socket: the namespace has no other way out, and the proxy (on the host)
 * decides where each request may go.
 */
function relayEgress(ready: () => void): void {
  // Half-open both ways: a client that has said all it will still gets its answer.
  const relay = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ path: EGRESS_SOCKET, allowHalfOpen: true });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  relay.maxConnections = MAX_RELAYED;
  // Without its relay the sandbox would have no way out: better not to start at all.
  relay.once('error', () => process.exit(1));
  relay.listen(EGRESS_PORT, '127.0.0.1', ready);
}

if (process.argv[1]?.endsWith('/spawner.mjs')) main();
