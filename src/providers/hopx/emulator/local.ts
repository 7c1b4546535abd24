// What the HopX emulator needs from this machine: which local program runs each
// HopX language, where a requested working directory really is, what /proc says
// about a child, and the webhook of /execute/async. Kept apart from the HTTP
// handlers (hopx.ts) so that each stays small.
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';

/**
 * Every language value the Python SDK's model accepts (hopx-ai/hopx:
 * python/hopx_ai/_generated/models.py:81-91), by the kind of program that runs it.
 */
export const KINDS: Record<string, 'python' | 'node' | 'bash' | 'sh' | 'go'> = {
  python: 'python',
  python3: 'python',
  node: 'node',
  nodejs: 'node',
  javascript: 'node',
  js: 'node',
  bash: 'bash',
  sh: 'sh',
  shell: 'sh',
  go: 'go',
};

export interface CommandLine {
  command: string;
  args: string[];
}

/** The local command line that runs `code` in `language`; go needs a file, written under `scratch`. */
export async function interpreterFor(language: string, code: string, scratch: string): Promise<CommandLine> {
  switch (KINDS[language]) {
    case 'python':
      return { command: 'python3', args: ['-c', code] };
    case 'node':
      // This very Node: always installed, whatever PATH holds.
      return { command: process.execPath, args: ['-e', code] };
    case 'bash':
      return { command: 'bash', args: ['-c', code] };
    case 'sh':
      return { command: 'sh', args: ['-c', code] };
    case 'go': {
      const dir = await mkdtemp(join(scratch, 'go-'));
      await writeFile(join(dir, 'main.go'), code);
      return { command: 'go', args: ['run', join(dir, 'main.go')] };
    }
    default:
      // The spec's enum keeps any other value out before a handler runs.
      throw new Error(`unsupported language ${language}`);
  }
}

/** HopX's default working directory: the agent spec's `workdir` default and both SDKs'. */
export const HOPX_WORKSPACE = '/workspace';

/**
 * Where a requested working directory is on this machine. `/workspace` (and
 * anything below it) is the SDKs' default on every call; where this machine has
 * none, it is a directory of the emulator's own, made on first use, so that a
 * client with its defaults works. Any other path is taken as it is.
 */
export async function localWorkdir(requested: string, emulatorDir: string, confined = false): Promise<string> {
  const below = relative(HOPX_WORKSPACE, requested);
  const insideWorkspace = isAbsolute(requested) && !below.startsWith('..') && !isAbsolute(below);
  // A confined sandbox has a real /workspace: its own directory, which the launcher shows there.
  if (insideWorkspace && confined) {
    const own = join(emulatorDir, below);
    await mkdir(own, { recursive: true });
    return own;
  }
  if (!insideWorkspace || existsSync(HOPX_WORKSPACE)) return requested;
  const mapped = join(emulatorDir, 'workspace', below);
  await mkdir(mapped, { recursive: true });
  return mapped;
}

/** True when `dir` is an existing directory: spawn reports a missing cwd as ENOENT, the same error as a missing program. */
export async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export interface ProcStats {
  name?: string;
  status?: string;
  cpu_percent?: number;
  memory_mb?: number;
}

const STATES: Record<string, string> = { R: 'running', S: 'sleeping', D: 'disk-sleep', Z: 'zombie', T: 'stopped', t: 'tracing-stop', I: 'idle' };
// USER_HZ is 100 on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100;

/** What /proc says about a process: best effort, nothing where there is no /proc (macOS) or the process is gone. */
export async function procStats(pid: number, startedAt: number): Promise<ProcStats> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined),
    readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined),
  ]);
  const stats: ProcStats = {};
  if (stat) {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const close = stat.lastIndexOf(')');
    stats.name = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    stats.status = STATES[fields[0] ?? ''] ?? fields[0];
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    const elapsed = Math.max((Date.now() - startedAt) / 1000, 0.001);
    if (Number.isFinite(cpuSeconds)) stats.cpu_percent = Math.round((cpuSeconds / elapsed) * 1000) / 10;
  }
  const rss = status?.match(/^VmRSS:\s+(\d+) kB/m);
  if (rss) stats.memory_mb = Math.round((Number(rss[1]) / 1024) * 10) / 10;
  return stats;
}

/** A loopback URL: the only callbacks a local emulator makes (it never reaches out to the network). */
export function isLoopbackUrl(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return (protocol === 'http:' || protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
  } catch {
    return false;
  }
}

export interface Webhook {
  url: string;
  headers?: Record<string, string>;
  secret?: string;
  body: unknown;
  signal: AbortSignal;
}

/**
 * POSTs an async execution's result. The headers are those the Python SDK's
 * docstring shows (sandbox.py:1510-1520); what HopX signs is not documented, so
 * this signs the body (an inference, marked so in the spec).
 */
export async function sendWebhook({ url, headers = {}, secret, body, signal }: Webhook): Promise<void> {
  const text = JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature: Record<string, string> = secret ? { 'X-HOPX-Signature': `sha256=${createHmac('sha256', secret).update(text).digest('hex')}` } : {};
  await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'X-HOPX-Timestamp': timestamp, ...signature },
    body: text,
    signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
  })
    .then((response) => response.body?.cancel())
    .catch(() => undefined); // a receiver that is gone is its own problem, as with any webhook
}
