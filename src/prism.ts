// Starts `prism mock` for a spec as a child process on a free loopback port and
// owns it: every server started here is stopped by stop(), at the latest when this
// process exits, and by Prism itself when this process dies without exiting.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

export interface PrismServer {
  readonly baseUrl: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface StartPrismOptions {
  /** How long to wait for Prism to answer. Default 60 s (a cold start on 2 cores takes a few). */
  readyTimeoutMs?: number;
}

const HOST = '127.0.0.1';
const live = new Set<ChildProcess>();

function prismBin(): string {
  const require = createRequire(import.meta.url);
  let manifestPath: string;
  try {
    manifestPath = require.resolve('@stoplight/prism-cli/package.json');
  } catch {
    throw new Error('Prism is not installed: npm install --save-dev @stoplight/prism-cli@~5.14.2 (5.15+ needs Node 24)');
  }
  const manifest = require(manifestPath) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin.prism;
  if (!bin) throw new Error('@stoplight/prism-cli has no prism bin');
  return join(dirname(manifestPath), bin);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Prism may fork workers; it leads its own process group (detached), so signal the group.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  live.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      // Workers of the group, if any, must not outlive their leader.
      killGroup(child, 'SIGKILL');
      resolve();
    });
    killGroup(child, 'SIGTERM');
  });
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

// Preloaded into Prism's own Node process: its stdin is a pipe from us, so when we
// die, even by SIGKILL, the pipe closes and Prism takes its process group down.
const ORPHAN_GUARD =
  'data:text/javascript,' +
  encodeURIComponent(
    "process.stdin.on('close',()=>{try{process.kill(-process.pid,'SIGKILL')}catch{}process.exit(1)});process.stdin.resume();",
  );

const ANSI = /\u001b\[[0-9;]*m/g;

async function startOnce(specFile: string, port: number, readyTimeoutMs: number): Promise<PrismServer> {
  installExitHook();
  const args = ['--import', ORPHAN_GUARD, prismBin(), 'mock', '-h', HOST, '-p', String(port), specFile];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  live.add(child);
  const baseUrl = `http://${HOST}:${port}`;
  let output = '';

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Prism did not start within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8').replace(ANSI, '')).slice(-8_000);
        if (output.includes('Prism is listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Prism exited before it was ready (${signal ?? `code ${code}`})`));
      });
    });
    // Listening is logged just before the socket accepts; make sure it answers.
    await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.body?.cancel());
  } catch (error) {
    await stopChild(child);
    const tail = output.trim().split('\n').slice(-5).join('\n');
    throw new Error(`${(error as Error).message}${tail ? `\n${tail}` : ''}`);
  }

  // Keep draining output so a chatty Prism never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    baseUrl,
    pid: child.pid ?? -1,
    stop: () => stopChild(child),
  };
}

/** Starts `prism mock specFile` on a free 127.0.0.1 port and resolves once it answers. */
export async function startPrism(specFile: string, options: StartPrismOptions = {}): Promise<PrismServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let lastError: unknown;
  // A free port can be taken between our probe and Prism's bind: try a fresh one.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(specFile, await freePort(), readyTimeoutMs);
    } catch (error) {
      lastError = error;
      if (!/EADDRINUSE/.test(String((error as Error).message))) break;
    }
  }
  throw lastError;
}
