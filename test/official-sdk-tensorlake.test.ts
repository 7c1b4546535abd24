// The official Tensorlake TypeScript SDK (npm `tensorlake`, pinned in
// test/official-sdks/tensorlake/package.json) against our Tensorlake emulator.
//
// The SDK needs Node >= 22 and we run on Node 20, so the SDK runs in a child
// process: test/official-sdks/tensorlake/run-sdk.mjs under a Node 22 binary that
// comes from the npm registry (see test/support/official-sdk.ts for how it is
// installed and found). The script drives the emulator through the SDK, with a
// logging proxy in between, and prints one JSON line per step: the SDK's result
// or error, and every HTTP request it sent with the response it got.
//
// Each `it` below states what the SDK needs from the emulator. It cannot pass
// silently: when Node 22 or the SDK cannot be had, the tests fail with the
// reason, unless SANDBOX_PROCS_SKIP_OFFICIAL_SDK=1 skips them (loudly).
import { operations } from '../generated/tensorlake.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import { specViolations, type Exchange } from './support/recording-proxy.js';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { ensureInstalled, officialSdkSkipped, resolveNode22, runBounded, TENSORLAKE_SDK_DIR, INSTALL_TIMEOUT_MS, RUN_TIMEOUT_MS, type RecordedRequest, type StepResult } from './support/official-sdk.js';
import { testKey } from './support/secrets.js';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

const SDK_DIR = TENSORLAKE_SDK_DIR;
const SDK_VERSION = '0.5.89';
const SANDBOX_ID = 'sbx-official-sdk';


const skipped = officialSdkSkipped(`the official Tensorlake SDK ${SDK_VERSION} tests (test/official-sdk-tensorlake.test.ts)`);

// Every step twice where bubblewrap can build sandboxes: the emulator as it was, and each process confined (isolation strict).
describe.skipIf(skipped).each(ISOLATIONS)(`official Tensorlake SDK ${SDK_VERSION} against the emulator (Node 22 from npm), isolation %s`, (isolation) => {
  let emulator: RunningEmulator | undefined;
  let setupError: Error | undefined;
  let steps = new Map<string, StepResult>();
  let ran: { node: string; sdk: string; source: string } | undefined;
  const token = testKey('official-sdk');

  beforeAll(async () => {
    try {
      const install = await ensureInstalled(SDK_DIR, { timeoutMs: INSTALL_TIMEOUT_MS, mustExist: ['node_modules/tensorlake/package.json'] });
      if (install.installed) console.info(`installed ${SDK_DIR} (npm ci) in ${install.ms} ms`);
      const node = resolveNode22(SDK_DIR);
      const native = `${SDK_DIR}/node_modules/tensorlake/dist/native/${process.platform}-${process.arch}`;
      if (!existsSync(native) && !existsSync(`${native}-musl`)) {
        throw new Error(`tensorlake ${SDK_VERSION} ships no native binding for ${process.platform}-${process.arch} (looked for ${native}); it cannot run here.`);
      }
      emulator = await startEmulator('tensorlake', { token, isolation });
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TENSORLAKE_') && name !== 'NODE_OPTIONS'));
      const run = await runBounded(node.path, ['run-sdk.mjs'], {
        cwd: SDK_DIR,
        env: { ...env, TARGET_URL: emulator.baseUrl, TOKEN: token, SANDBOX_ID },
        timeoutMs: RUN_TIMEOUT_MS,
      });
      // The raw transcript (one JSON line per step, with every request and response), on request.
      if (process.env.SANDBOX_PROCS_OFFICIAL_SDK_TRANSCRIPT) writeFileSync(process.env.SANDBOX_PROCS_OFFICIAL_SDK_TRANSCRIPT, run.stdout);
      const lines = run.stdout.split('\n').filter((line) => line.trim() !== '');
      const parsed = lines.map((line) => {
        try {
          return JSON.parse(line) as StepResult & { done?: boolean; node?: string; sdk?: string };
        } catch {
          return undefined;
        }
      });
      if (run.timedOut || run.code !== 0 || !parsed.some((entry) => entry?.done)) {
        const why = run.timedOut ? `did not finish within ${RUN_TIMEOUT_MS} ms (killed)` : `exited with ${run.code ?? run.signal}`;
        throw new Error(`run-sdk.mjs under ${node.path} (${node.version}, ${node.source}) ${why} before its last step.\nstdout:\n${run.stdout.slice(-4000)}\nstderr:\n${run.stderr.slice(-4000)}`);
      }
      const done = parsed.find((entry) => entry?.done)!;
      ran = { node: String(done.node), sdk: String(done.sdk), source: node.source };
      steps = new Map(parsed.filter((entry): entry is StepResult => entry !== undefined && typeof entry.step === 'string').map((entry) => [entry.step, entry]));
    } catch (error) {
      setupError = error as Error;
    }
  }, INSTALL_TIMEOUT_MS + RUN_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await emulator?.stop();
  });

  /** The step's outcome; throws the setup failure first, so that no test passes without the SDK having run. */
  function step(name: string): StepResult {
    if (setupError) throw setupError;
    const result = steps.get(name);
    if (!result) throw new Error(`run-sdk.mjs printed no result for step "${name}"`);
    return result;
  }

  function describeStep(s: StepResult): string {
    const requests = s.requests.map((r) => `  ${r.method} ${r.path} ${r.body ? `body=${r.body} ` : ''}-> ${r.status} ${r.response ?? ''}`).join('\n');
    return `step "${s.step}": ${s.ok ? 'succeeded' : `${s.error?.name}: ${s.error?.message}`}\n${requests}`;
  }

  /** The SDK call succeeded; returns its value. */
  function succeeded(name: string): any {
    const s = step(name);
    expect(s.ok, describeStep(s)).toBe(true);
    return s.value;
  }

  /** The SDK call failed with RemoteAPIError of this status (what the SDK makes of any non-2xx answer). */
  function failedWith(name: string, statusCode: number): void {
    const s = step(name);
    expect(s.ok, describeStep(s)).toBe(false);
    expect(s.error, describeStep(s)).toMatchObject({ name: 'RemoteAPIError', statusCode });
  }

  function only(name: string): RecordedRequest {
    const s = step(name);
    expect(s.requests, describeStep(s)).toHaveLength(1);
    return s.requests[0]!;
  }

  function pidOf(name: string): number {
    const value = succeeded(name);
    expect(value.pid, describeStep(step(name))).toEqual(expect.any(Number));
    return value.pid as number;
  }

  it('the SDK ran under Node >= 22 and reached the emulator through its loopback proxyUrl', () => {
    if (setupError) throw setupError;
    expect(ran?.sdk).toBe(SDK_VERSION);
    expect(Number(/^v(\d+)/.exec(ran?.node ?? '')?.[1])).toBeGreaterThanOrEqual(22);
    const all = [...steps.values()];
    expect(all.length).toBeGreaterThan(20);
    for (const s of all) {
      for (const r of s.requests) {
        expect(r.headers.host, describeStep(s)).toBe(`${SANDBOX_ID}.local`);
        if (s.step !== 'wrong apiKey') expect(r.headers.authorization, describeStep(s)).toBe('Bearer <TOKEN>');
        expect(r.path, describeStep(s)).toMatch(/^\/api\/v1\//);
      }
    }
  });

  it('every request the SDK sent and every response it got validates against specs/tensorlake.yaml', () => {
    if (setupError) throw setupError;
    const exchanges: Exchange[] = [...steps.values()].flatMap((s) =>
      s.requests.map((r) => {
        const url = new URL(r.path, 'http://sdk.local');
        return {
          method: r.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          requestHeaders: {},
          requestBody: r.body,
          status: Number(r.status),
          contentType: r.contentType ?? null,
          responseBody: r.response ?? '',
        };
      }),
    );
    expect(exchanges.length).toBeGreaterThan(20);
    expect(specViolations(exchanges, operations, new SpecValidator('tensorlake'))).toEqual([]);
  });

  it('health: GET /api/v1/health answers {healthy: true}', () => {
    expect(succeeded('health')).toMatchObject({ healthy: true });
    expect(only('health')).toMatchObject({ method: 'GET', path: '/api/v1/health', status: 200 });
  });

  it('startProcess: POST /api/v1/processes answers a ProcessInfo', () => {
    expect(succeeded('startProcess')).toMatchObject({ pid: expect.any(Number), status: 'running', command: 'sleep', args: ['30'], stdinWritable: false });
    const request = only('startProcess');
    expect(request).toMatchObject({ method: 'POST', path: '/api/v1/processes', status: 201 });
    expect(JSON.parse(request.body)).toEqual({ command: 'sleep', args: ['30'] });
    expect(request.headers['content-type']).toBe('application/json');
  });

  it('startProcess with user as a string', () => {
    expect(succeeded('startProcess user string')).toMatchObject({ status: 'running', command: 'sleep' });
    expect(JSON.parse(only('startProcess user string').body)).toMatchObject({ user: expect.any(String) });
  });

  it('startProcess with user as an object {name} (the SDK sends it as given)', () => {
    expect(succeeded('startProcess user object {name}')).toMatchObject({ status: 'running', command: 'sleep' });
    expect(JSON.parse(only('startProcess user object {name}').body)).toMatchObject({ user: { name: expect.any(String) } });
  });

  it('startProcess with a name (a managed process) answers its managed record', () => {
    // The SDK decodes `managed` strictly when present (Rust ProcessManagedInfo: id, status,
    // restart_count, restart, health_status, consecutive_health_failures are required).
    expect(succeeded('startProcess name')).toMatchObject({
      status: 'running',
      command: 'sleep',
      managed: { id: 'sdk-sleeper', name: 'sdk-sleeper', status: 'running', restartCount: 0, healthStatus: 'disabled', consecutiveHealthFailures: 0 },
    });
    expect(succeeded('startProcess')).not.toHaveProperty('managed');
    expect(JSON.parse(only('startProcess name').body)).toMatchObject({ name: 'sdk-sleeper' });
  });

  it('startProcess with a name holding spaces and a user object', () => {
    expect(succeeded('startProcess name + user')).toMatchObject({ status: 'running' });
    expect(JSON.parse(only('startProcess name + user').body)).toMatchObject({ name: 'sdk named sleeper', user: { name: expect.any(String) } });
  });

  it('listProcesses: GET /api/v1/processes answers {processes: [...]} with every started process', () => {
    const list = succeeded('listProcesses') as { pid: number }[];
    const started = ['startProcess', 'startProcess user string', 'startProcess name'].map(pidOf);
    expect(list.map((p) => p.pid)).toEqual(expect.arrayContaining(started));
    expect(only('listProcesses')).toMatchObject({ method: 'GET', path: '/api/v1/processes', status: 200 });
  });

  it('getProcess by pid: GET /api/v1/processes/{pid}', () => {
    const pid = pidOf('startProcess');
    expect(succeeded('getProcess pid')).toMatchObject({ pid, status: 'running', command: 'sleep' });
    expect(only('getProcess pid')).toMatchObject({ method: 'GET', path: `/api/v1/processes/${pid}` });
  });

  it('getProcess by name: GET /api/v1/processes/{name} finds the process started with that name', () => {
    const pid = pidOf('startProcess name');
    expect(only('getProcess name')).toMatchObject({ method: 'GET', path: '/api/v1/processes/sdk-sleeper' });
    expect(succeeded('getProcess name')).toMatchObject({ pid, command: 'sleep' });
  });

  it('getProcess by a percent-encoded name: GET /api/v1/processes/sdk%20named%20sleeper', () => {
    expect(only('getProcess name with space')).toMatchObject({ method: 'GET', path: '/api/v1/processes/sdk%20named%20sleeper' });
    const pid = pidOf('startProcess name + user');
    expect(succeeded('getProcess name with space')).toMatchObject({ pid });
  });

  it('getProcess of an unknown pid or name is RemoteAPIError 404', () => {
    failedWith('getProcess unknown pid', 404);
    failedWith('getProcess unknown name', 404);
  });

  it('sendSignal by pid: POST /api/v1/processes/{pid}/signal {signal} answers {success: true}; the process ends signaled', () => {
    const pid = pidOf('startProcess');
    expect(succeeded('sendSignal pid')).toMatchObject({ success: true });
    const request = only('sendSignal pid');
    expect(request).toMatchObject({ method: 'POST', path: `/api/v1/processes/${pid}/signal`, status: 200 });
    expect(JSON.parse(request.body)).toEqual({ signal: 15 });
    expect(succeeded('getProcess pid after SIGTERM')).toMatchObject({ pid, status: 'signaled', signal: 15 });
  });

  it('sendSignal by name: POST /api/v1/processes/sdk-sleeper/signal', () => {
    expect(only('sendSignal name')).toMatchObject({ method: 'POST', path: '/api/v1/processes/sdk-sleeper/signal' });
    expect(succeeded('sendSignal name')).toMatchObject({ success: true });
  });

  it('killProcess by pid: DELETE /api/v1/processes/{pid} with a 2xx', () => {
    const pid = pidOf('startProcess user string');
    succeeded('killProcess pid');
    expect(only('killProcess pid')).toMatchObject({ method: 'DELETE', path: `/api/v1/processes/${pid}`, body: '' });
  });

  it('killProcess by name: DELETE /api/v1/processes/{name}', () => {
    expect(only('killProcess name')).toMatchObject({ method: 'DELETE', path: '/api/v1/processes/sdk%20named%20sleeper' });
    succeeded('killProcess name');
  });

  it('killProcess of an unknown pid is RemoteAPIError 404', () => {
    failedWith('killProcess unknown pid', 404);
  });

  it('run: POST /api/v1/processes/run streams SSE; the SDK assembles exit code, stdout and stderr', () => {
    expect(succeeded('run')).toMatchObject({ exitCode: 3, stdout: 'out1\nout2', stderr: 'err1' });
    const request = only('run');
    expect(request).toMatchObject({ method: 'POST', path: '/api/v1/processes/run', status: 200 });
    expect(request.headers.accept).toBe('text/event-stream');
    expect(request.contentType).toMatch(/^text\/event-stream/);
    expect(JSON.parse(request.body)).toEqual({ command: 'sh', args: ['-c', 'echo out1; echo err1 >&2; echo out2; exit 3'] });
  });

  it('run with user as an object {name}', () => {
    expect(succeeded('run user object {name}')).toMatchObject({ exitCode: 0, stdout: 'hi', stderr: '' });
  });

  it('getStdout: GET /api/v1/processes/{pid}/stdout answers {pid, lines, line_count}', () => {
    const pid = pidOf('startProcess for output');
    expect(succeeded('startProcess for output')).toMatchObject({ status: 'exited', exitCode: 0 });
    expect(succeeded('getStdout')).toMatchObject({ pid, lines: ['line1', 'line2'], lineCount: 2 });
    expect(only('getStdout')).toMatchObject({ method: 'GET', path: `/api/v1/processes/${pid}/stdout` });
  });

  it('getOutput: GET /api/v1/processes/{pid}/output holds stdout and stderr lines', () => {
    const pid = pidOf('startProcess for output');
    const value = succeeded('getOutput');
    expect(value).toMatchObject({ pid, lineCount: 3 });
    expect([...value.lines].sort()).toEqual(['line1', 'line2', 'oops']);
    expect(only('getOutput')).toMatchObject({ method: 'GET', path: `/api/v1/processes/${pid}/output` });
  });

  it('followStdout: GET /api/v1/processes/{pid}/stdout/follow streams output events and ends', () => {
    const pid = pidOf('startProcess for output');
    const events = succeeded('followStdout') as { line: string; timestamp: unknown }[];
    expect(events.map((e) => e.line)).toEqual(['line1', 'line2']);
    for (const event of events) expect(event).toHaveProperty('timestamp');
    const request = only('followStdout');
    expect(request).toMatchObject({ method: 'GET', path: `/api/v1/processes/${pid}/stdout/follow`, status: 200 });
    expect(request.headers.accept).toBe('text/event-stream');
    expect(request.contentType).toMatch(/^text\/event-stream/);
  });

  it('writeStdin: POST /api/v1/processes/{pid}/stdin with the raw bytes (no content type)', () => {
    const pid = pidOf('startProcess stdin pipe');
    expect(JSON.parse(only('startProcess stdin pipe').body)).toMatchObject({ stdin_mode: 'pipe' });
    succeeded('writeStdin');
    const request = only('writeStdin');
    expect(request).toMatchObject({ method: 'POST', path: `/api/v1/processes/${pid}/stdin`, body: 'hello from the sdk\n' });
    expect(request.headers['content-type']).toBeUndefined();
  });

  it('closeStdin: POST /api/v1/processes/{pid}/stdin/close; the process then sees EOF', () => {
    const pid = pidOf('startProcess stdin pipe');
    succeeded('closeStdin');
    expect(only('closeStdin')).toMatchObject({ method: 'POST', path: `/api/v1/processes/${pid}/stdin/close`, body: '' });
    expect((succeeded('followStdout after closeStdin') as { line: string }[]).map((e) => e.line)).toEqual(['hello from the sdk']);
    expect(succeeded('getProcess after closeStdin')).toMatchObject({ pid, status: 'exited', exitCode: 0 });
  });

  it('a wrong apiKey is RemoteAPIError 401', () => {
    failedWith('wrong apiKey', 401);
  });
});
