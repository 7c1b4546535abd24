// An emulator in a child process, to be measured from outside: its RSS (from
// /proc) and its answers' latency. Built from the current sources into a cache
// of its own (incremental tsc), so that the test never depends on a stale dist/
// and never writes to the one other tests read.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { ProviderName } from '../../src/errors.js';

const root = join(import.meta.dirname, '..', '..');
const cache = join(root, 'node_modules', '.cache', 'sandbox-procs-emulator-build');

/** Compiles src/ and generated/ into the cache; returns the path of the emulator's entry module. */
export async function buildEmulator(): Promise<string> {
  await promisify(execFile)(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', cache, '--incremental', '--tsBuildInfoFile', join(cache, 'build.tsbuildinfo'), '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
    { cwd: root, timeout: 120_000 },
  );
  return join(cache, 'src', 'emulator', 'index.js');
}

export interface HostedEmulator {
  baseUrl: string;
  token: string;
  pid: number;
  child: ChildProcess;
  /** From /proc/<pid>/status: resident now and its peak (VmHWM), in bytes. */
  memory(): { rss: number; peak: number };
  stop(): Promise<void>;
}

export async function hostEmulator(entry: string, provider: ProviderName, limits?: Record<string, number>, isolation?: 'none' | 'auto' | 'strict'): Promise<HostedEmulator> {
  const extra = isolation ? [JSON.stringify(limits ?? {}), isolation] : limits ? [JSON.stringify(limits)] : [];
  const child = spawn(process.execPath, [join(root, 'test', 'support', 'emulator-host.mjs'), entry, provider, ...extra], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const lines = createInterface({ input: child.stdout! });
    const [first] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => Promise.reject(new Error('the emulator host exited before it was ready')))])) as [string];
    const { baseUrl, token, pid } = JSON.parse(first) as { baseUrl: string; token: string; pid: number };
    const memory = () => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
      return { rss: kb('VmRSS'), peak: kb('VmHWM') };
    };
    return { baseUrl, token, pid, child, memory, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
