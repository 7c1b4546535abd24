// `sandbox-procs drift` against servers that misbehave without limit: endless
// JSON, an endless event stream, a 1 GB body, silence, a reset right after the
// headers. Each run is the real CLI as a child process (dist/, `npm run build`);
// each must end with the right finding and exit code within checks x timeout,
// at a peak RSS under 256 MiB, measured (GNU time's %M, else VmHWM polled).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../src/contract/drift.js';
import { checkBounds, runScenarios, type Target } from '../src/contract/run.js';
import { full } from './support/profile.js';
import type { Scenario } from '../src/contract/scenario.js';
import { createTensorlakeClient } from '../src/index.js';

const root = join(import.meta.dirname, '..');
const TIMEOUT_MS = 2_000;
const MAX_RSS_KB = 256 * 1024;
const CAP = 16 * 1024 * 1024;
const TOKEN = 'sp-bounds-token-0123456789';
const GNU_TIME = '/usr/bin/time';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-bounds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `chunk` again and again, as fast as the client reads, until the client goes. */
function endless(res: ServerResponse, chunk: Buffer): void {
  const go = () => {
    while (!res.destroyed) if (!res.write(chunk)) return void res.once('drain', go);
  };
  go();
}

const handlers = {
  'endless JSON': (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"processes":[');
    endless(res, Buffer.from('{"pid":1,"status":"running","command":"x"},'.repeat(1_000)));
  },
  'endless SSE': (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    endless(res, Buffer.from('data: {"line":"x","timestamp":1,"stream":"stdout"}\n\n'.repeat(1_000)));
  },
  '1 GB body': (_req: IncomingMessage, res: ServerResponse) => {
    // Declared, and streamed from one reused 64 KiB buffer: the server never holds it either.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 ** 30) });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = 2 ** 30;
    const go = () => {
      while (left > 0 && !res.destroyed) {
        left -= chunk.length;
        if (left <= 0) return void res.end(chunk);
        if (!res.write(chunk)) return void res.once('drain', go);
      }
    };
    go();
  },
  silent: () => undefined,
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createHttpServer((req, res) => {
    req.resume();
    handler(req, res);
  });
  const url = await listen(server);
  return { url, close: () => (server.closeAllConnections(), server.close()) };
}

/** Answers health properly (when `healthy`), and everything else with headers and then a closed connection. */
async function resetAfterHeaders(healthy: boolean) {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (data) => {
      if (healthy && data.toString('latin1').startsWith('GET /api/v1/health ')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{"healthy":true}');
        return;
      }
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"hea', () => socket.destroy());
    });
  });
  const url = await listen(server);
  return { url, close: () => (sockets.forEach((s) => s.destroy()), server.close()) };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  peakRssKb: number;
  report: DriftReport | undefined;
}

/** The real CLI against `url`, its peak RSS measured; killed (and failed) past `boundMs`. */
async function drift(url: string, name: string, boundMs: number): Promise<Run> {
  const json = join(dir, `${name.replace(/\W+/g, '-')}.json`);
  const rssFile = join(dir, `${name.replace(/\W+/g, '-')}.rss`);
  // A V8 heap cap of 128 MiB: what drift keeps must fit in it (past it, the run dies and the test
  // fails). Without a cap V8 collects lazily, so the RSS of a run that makes 16 MB of garbage per
  // check would say more about the collector's mood under load than about what drift holds.
  const args = ['--max-old-space-size=128', join(root, 'dist/src/bin.js'), 'drift', '--provider', 'tensorlake', '--base-url', url, '--timeout-ms', String(TIMEOUT_MS), '--json', json];
  const gnuTime = existsSync(GNU_TIME);
  const started = Date.now();
  const child = spawn(gnuTime ? GNU_TIME : process.execPath, gnuTime ? ['-f', '%M', '-o', rssFile, process.execPath, ...args] : args, {
    env: { ...process.env, TENSORLAKE_API_KEY: TOKEN, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Without GNU time: VmHWM (the peak) of the node process, polled while it runs.
  let polledKb = 0;
  const poll = setInterval(() => {
    if (gnuTime) return;
    readFile(`/proc/${child.pid}/status`, 'utf8').then(
      (status) => (polledKb = Math.max(polledKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))),
      () => undefined,
    );
  }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), boundMs + 5_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearInterval(poll);
  clearTimeout(killer);
  const ms = Date.now() - started;
  const peakRssKb = gnuTime ? Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop()) : polledKb;
  const report = existsSync(json) ? (JSON.parse(await readFile(json, 'utf8')) as DriftReport) : undefined;
  console.log(`drift vs ${name}: exit ${code}, ${ms} ms, peak RSS ${Math.round(peakRssKb / 1024)} MiB, ${report?.summary.checks ?? 0} checks`);
  return { code, stdout, stderr, ms, peakRssKb, report };
}

/** About 42 checks run without mutations: the bound for a whole run, from checks x timeout. */
const RUN_BOUND_MS = 45 * TIMEOUT_MS;
const messages = (report: DriftReport | undefined) => (report?.checks ?? []).flatMap((c) => c.findings.map((f) => f.message));

describe('drift stays bounded in memory and time against any server', { timeout: 4 * RUN_BOUND_MS }, () => {
  it('endless JSON: the client\'s BODY_TOO_LARGE is the finding, every check has its status, exit 1', async () => {
    const server = await httpServer(handlers['endless JSON']);
    try {
      const run = await drift(server.url, 'endless JSON', RUN_BOUND_MS);
      expect(run.code).toBe(1);
      expect(run.peakRssKb).toBeGreaterThan(0);
      expect(run.peakRssKb).toBeLessThan(MAX_RSS_KB);
      expect(run.ms).toBeLessThan((run.report!.summary.checks + 3) * TIMEOUT_MS);
      const checks = run.report!.checks;
      expect(checks.length).toBeGreaterThan(20);
      expect(checks.filter((c) => c.status === null)).toEqual([]);
      expect(checks.every((c) => c.outcome === 'drift')).toBe(true);
      const all = messages(run.report).join('\n');
      expect(all).toContain(`BODY_TOO_LARGE: the response body exceeds ${CAP} bytes`);
      expect(all).not.toMatch(/sent 0|TimeoutError|did not finish|no complete answer/);
      expect(run.stdout + run.stderr + JSON.stringify(run.report)).not.toContain(TOKEN);
    } finally {
      server.close();
    }
  });

  // Full profile only: validating 16 MB of events per stream check is the costliest run
  // here; the SSE cap itself is also covered below (the recorder and the client's decoder).
  it.runIf(full)('endless SSE: the streams are stopped at the cap, the JSON reads fail with BODY_TOO_LARGE, exit 1', async () => {
    const server = await httpServer(handlers['endless SSE']);
    try {
      const run = await drift(server.url, 'endless SSE', RUN_BOUND_MS);
      expect(run.code).toBe(1);
      expect(run.peakRssKb).toBeGreaterThan(0);
      expect(run.peakRssKb).toBeLessThan(MAX_RSS_KB);
      expect(run.ms).toBeLessThan((run.report!.summary.checks + 3) * TIMEOUT_MS);
      const checks = run.report!.checks;
      expect(checks.filter((c) => c.status === null)).toEqual([]);
      const follow = checks.find((c) => c.operation === 'sandbox_process_follow_stdout' && c.expectedStatus === 200)!;
      expect(follow.findings.map((f) => f.message)).toContain(`the event stream went past ${CAP} bytes without ending; the check stopped reading it`);
      // The events it did read were validated (they are not the declared ones).
      expect(follow.findings.map((f) => f.kind)).toContain('undeclared-event');
      const health = checks.find((c) => c.operation === 'sandbox_health' && c.expectedStatus === 200)!;
      expect(health.findings.map((f) => f.message).join('\n')).toContain('BODY_TOO_LARGE');
    } finally {
      server.close();
    }
  });

  it('a 1 GB body (declared, streamed): refused by its length, never held, exit 1', async () => {
    const server = await httpServer(handlers['1 GB body']);
    try {
      const run = await drift(server.url, '1 GB body', RUN_BOUND_MS);
      expect(run.code).toBe(1);
      expect(run.peakRssKb).toBeGreaterThan(0);
      expect(run.peakRssKb).toBeLessThan(MAX_RSS_KB);
      expect(run.ms).toBeLessThan((run.report!.summary.checks + 3) * TIMEOUT_MS);
      expect(run.report!.checks.filter((c) => c.status === null)).toEqual([]);
      const all = messages(run.report).join('\n');
      expect(all).toContain(`BODY_TOO_LARGE: the response body exceeds ${CAP} bytes`);
    } finally {
      server.close();
    }
  });

  it('a silent server: exit 2, "did not answer in time", within the preflight\'s attempts', async () => {
    const server = await httpServer(handlers.silent);
    try {
      const run = await drift(server.url, 'silent server', RUN_BOUND_MS);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/did not answer in time/);
      // Three attempts of TIMEOUT_MS, and the waits between them.
      expect(run.ms).toBeLessThan(4 * TIMEOUT_MS + 2_000);
      expect(run.peakRssKb).toBeLessThan(MAX_RSS_KB);
    } finally {
      server.close();
    }
  });

  it('a connection reset after the headers everywhere: exit 2, "reset", never "cannot reach"', async () => {
    const server = await resetAfterHeaders(false);
    try {
      const run = await drift(server.url, 'reset after headers', RUN_BOUND_MS);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/answered \(status 200\) but the connection was reset/);
      expect(run.stderr).not.toMatch(/cannot reach/);
      expect(run.ms).toBeLessThan(4 * TIMEOUT_MS);
      expect(run.peakRssKb).toBeLessThan(MAX_RSS_KB);
    } finally {
      server.close();
    }
  });

  it('a reset after the headers on the checks (health answers): a finding on each check, with its status, exit 1', async () => {
    const server = await resetAfterHeaders(true);
    try {
      const run = await drift(server.url, 'reset on checks', RUN_BOUND_MS);
      expect(run.code).toBe(1);
      const list = run.report!.checks.find((c) => c.operation === 'sandbox_process_list' && c.expectedStatus === 200)!;
      expect(list.status).toBe(200);
      expect(list.findings.map((f) => f.message).join('\n')).toMatch(/NetworkError: .*the connection closed after the response headers/);
      expect(run.report!.checks.filter((c) => c.status !== 200)).toEqual([]);
      expect(run.peakRssKb).toBeLessThan(MAX_RSS_KB);
    } finally {
      server.close();
    }
  });
});

describe('the recorder, in process', () => {
  const raw = (path: string): Scenario => ({
    provider: 'tensorlake',
    operation: 'sandbox_process_start',
    input: {},
    status: 422,
    expect: 'InvalidRequestError',
    raw: { method: 'POST', path, body: {} },
  });
  const target = (url: string): Target => ({ name: 'misbehaving', kind: 'mock', baseUrls: { tensorlake: url } });

  it('a raw probe\'s endless body: read up to the cap, and said so', async () => {
    const server = await httpServer(handlers['endless JSON']);
    try {
      const [result] = await runScenarios([raw('/api/v1/processes')], target(server.url), { timeoutMs: TIMEOUT_MS, maxResponseBytes: 256 * 1024 });
      expect(result!.status).toBe(200);
      expect(result!.problems).toContain(`the response body is larger than ${256 * 1024} bytes (only the first ${256 * 1024} were read)`);
      expect(result!.problems.join('\n')).not.toMatch(/sent 0|no complete answer/);
    } finally {
      server.close();
    }
  });

  it('a raw probe\'s connection reset after the headers: a finding with the status', async () => {
    const server = await resetAfterHeaders(false);
    try {
      const [result] = await runScenarios([raw('/api/v1/processes')], target(server.url), { timeoutMs: TIMEOUT_MS });
      expect(result!.status).toBe(200);
      expect(result!.problems.join('\n')).toMatch(/the connection closed after the response headers/);
    } finally {
      server.close();
    }
  });

  it('a stream that trickles forever: stopped at the check\'s bound, with what it sent validated', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('event: output\ndata: {"line":"x","timestamp":1,"stream":"stdout"}\n\n'), 50);
      res.on('close', () => clearInterval(timer));
    });
    try {
      const scenario: Scenario = { provider: 'tensorlake', operation: 'sandbox_process_follow_stdout', input: { pid: 1 }, status: 200, expect: 'result' };
      const started = Date.now();
      const [result] = await runScenarios([scenario], target(server.url), { timeoutMs: 300 });
      const { requestMs } = checkBounds(300);
      expect(Date.now() - started).toBeGreaterThanOrEqual(requestMs - 50);
      expect(Date.now() - started).toBeLessThan(requestMs + 1_000);
      expect(result!.status).toBe(200);
      expect(result!.problems).toEqual([`no complete answer within ${requestMs} ms; the check stopped waiting`]);
      expect(result!.findings).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('never hands a timer more than 2^31-1 ms: a huge timeout stays huge', async () => {
    const server = await httpServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"healthy":true}'), 100);
    });
    try {
      const scenario: Scenario = { provider: 'tensorlake', operation: 'sandbox_health', input: {}, status: 200, expect: 'result' };
      const [result] = await runScenarios([scenario], target(server.url), { timeoutMs: 3_000_000_000 });
      // With a timer overflow, every limit would be 1 ms and the check would fail at once.
      expect(result!.problems).toEqual([]);
      expect(result!.ms).toBeGreaterThanOrEqual(90);
    } finally {
      server.close();
    }
  });
});

describe('the client\'s SSE decoder is bounded too', () => {
  it('an endless line with no line end: EVENT_TOO_LARGE at maxResponseBytes, in linear time', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: ');
      endless(res, Buffer.alloc(64 * 1024, 0x61));
    });
    try {
      const client = createTensorlakeClient({ apiKey: TOKEN, baseUrl: server.url, maxResponseBytes: 8 * 1024 * 1024, retry: { maxRetries: 0 } });
      const started = Date.now();
      const error = await (async () => {
        for await (const event of client.followStdout(1)) void event;
      })().catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'UnexpectedResponseError', code: 'EVENT_TOO_LARGE', status: 200 });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      server.close();
    }
  });
});
