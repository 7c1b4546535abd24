// The official HopX SDK (@hopx-ai/sdk, a dev dependency) against our HopX
// emulator, with the SDK's defaults (no workingDir, so every call asks for
// /workspace), through a recording proxy: every request the SDK sends and every
// response it gets must validate against specs/hopx.yaml with the project's own
// validators. Sandbox.connect needs a control plane first; a stand-in here plays
// it (GET /v1/sandboxes/:id says running with public_host = the proxy, POST
// .../token/refresh hands out the emulator's token), as the SDK's
// dist/index.js:1500-1527 and 2340-2365 expect.
import { createHmac, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '@hopx-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../generated/hopx.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { MAX_ENV_VARS } from '../src/providers/hopx/emulator/env-store.js';
import { startRecordingProxy, specViolations, type Exchange, type RecordingProxy } from './support/recording-proxy.js';
import { testKey } from './support/secrets.js';
import { json, startServer, type Received, type TestServer } from './support/servers.js';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

const validator = new SpecValidator('hopx');
const installed = (command: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

// Every flow twice where bubblewrap can build sandboxes: the emulator as it was, and each process confined (isolation strict).
describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let emulator: RunningEmulator;
  let proxy: RecordingProxy;
  let controlPlane: TestServer;
  let webhooks: TestServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    emulator = await startEmulator('hopx', { token: testKey('hopx-agent'), isolation });
    proxy = await startRecordingProxy(emulator.baseUrl);
    controlPlane = await startServer((req, res) => {
      if (req.method === 'GET' && /^\/v1\/sandboxes\/[^/]+$/.test(req.url)) {
        return json(res, 200, { id: req.url.split('/').pop(), status: 'running', public_host: proxy.baseUrl });
      }
      if (req.method === 'POST' && /^\/v1\/sandboxes\/[^/]+\/token\/refresh$/.test(req.url)) {
        return json(res, 200, { auth_token: emulator.token, token_expires_at: new Date(Date.now() + 86_400_000).toISOString() });
      }
      json(res, 404, { error: `control plane stand-in: no ${req.method} ${req.url}` });
    });
    webhooks = await startServer((_req, res) => json(res, 200, { received: true }));
    // The SDK caches tokens per sandbox id for the whole process: a fresh id each run.
    sandbox = await Sandbox.connect(`sbx_${randomBytes(6).toString('hex')}`, testKey('hopx-api'), controlPlane.baseUrl);
  });

  afterAll(async () => {
    // Each stopped on its own, so that one failure leaves nothing else running.
    await Promise.allSettled([proxy?.close(), controlPlane?.close(), webhooks?.close()]);
    await emulator?.stop();
  });

  /** The exchanges `fn` caused, checked against the spec: the test fails on the first that breaks it. */
  async function recorded<T>(fn: () => Promise<T>): Promise<{ value: T; exchanges: Exchange[] }> {
    const from = proxy.exchanges.length;
    const value = await fn();
    const exchanges = proxy.exchanges.slice(from);
    expect(specViolations(exchanges, operations, validator)).toEqual([]);
    return { value, exchanges };
  }

  const body = (x: Exchange | undefined) => JSON.parse(x?.requestBody ?? '{}') as Record<string, unknown>;

  describe('@hopx-ai/sdk 0.5.1 against the HopX emulator, with its defaults', () => {
    it('connects through the control plane and then calls the agent with the Bearer token it was handed', async () => {
      const { value, exchanges } = await recorded(() => sandbox.getHealth());
      expect(value).toMatchObject({ status: 'healthy', version: expect.any(String), uptime_seconds: expect.any(Number) });
      expect(exchanges.map((x) => `${x.method} ${x.path}`)).toEqual(['GET /health']);
      expect(controlPlane.received.map((r: Received) => `${r.method} ${r.url.replace(/sbx_\w+/, ':id')}`)).toEqual(
        expect.arrayContaining(['GET /v1/sandboxes/:id', 'POST /v1/sandboxes/:id/token/refresh']),
      );
      expect(await sandbox.isHealthy()).toBe(true);
    });

    it('getAgentInfo: the fields the SDK types as required', async () => {
      const { value } = await recorded(() => sandbox.getAgentInfo());
      expect(value).toMatchObject({ version: expect.any(String), uptime_seconds: expect.any(Number) });
    });

    // The SDK's documented values (README: python, javascript, bash; its Language enum adds go)
    // and the rest of the Python model's list (models.py:81-91), which the SDK passes through as is.
    const languages = [
      ['python', 'print(6 * 7)'],
      ['javascript', 'console.log(6 * 7)'],
      ['bash', 'echo $((6 * 7))'],
      ['python3', 'print(6 * 7)'],
      ['node', 'console.log(6 * 7)'],
      ['nodejs', 'console.log(6 * 7)'],
      ['js', 'console.log(6 * 7)'],
      ['sh', 'echo $((6 * 7))'],
      ['shell', 'echo $((6 * 7))'],
    ] as const;
    it.each(languages)('runCode with language %s runs in /workspace and answers what ExecutionResult needs', async (language, code) => {
      const { value, exchanges } = await recorded(() => sandbox.runCode(code, { language }));
      expect(value).toMatchObject({ success: true, stdout: '42\n', exit_code: 0 });
      expect(typeof value.execution_time).toBe('number');
      expect(() => value.toString()).not.toThrow(); // execution_time.toFixed (dist/index.js:603)
      expect(exchanges).toHaveLength(1); // no 5xx retried
      expect(body(exchanges[0])).toMatchObject({ language, workdir: '/workspace' });
    });

    it('runCode with language go: runs where go is installed, else a spec-valid 500 EXECUTION_FAILED (never a wrong code)', async () => {
      const code = 'package main\nimport "fmt"\nfunc main() { fmt.Println(6 * 7) }';
      if (installed('go')) {
        const { value } = await recorded(() => sandbox.runCode(code, { language: 'go', timeout: 120 }));
        expect(value).toMatchObject({ success: true, stdout: '42\n' });
      } else {
        const { value: error, exchanges } = await recorded(() => sandbox.runCode(code, { language: 'go' }).then(() => undefined, (e: unknown) => e));
        expect(error).toMatchObject({ name: 'ServerError', statusCode: 500, code: 'EXECUTION_FAILED' });
        // The SDK retries a 5xx: three attempts, each the same spec-valid answer.
        expect(exchanges.map((x) => x.status)).toEqual([500, 500, 500]);
        expect(JSON.parse(exchanges[0]!.responseBody)).toMatchObject({ error: expect.stringMatching(/go is not installed/), timestamp: expect.any(String) });
      }
    }, 20_000);

    it('the default /workspace is a real directory: the agent\'s where it exists, else one of the emulator\'s own', async () => {
      const { value } = await recorded(() => sandbox.runCode('pwd', { language: 'bash' }));
      // Confined, /workspace is the sandbox's own (its directory on the host is emulator.workdir).
    expect(value.stdout.trim()).toBe(isolation === 'strict' || existsSync('/workspace') ? '/workspace' : join(emulator.workdir, 'workspace'));
    });

    it('a non-zero exit is a result with success false, and a missing working directory is a 400, not "not installed"', async () => {
      const { value } = await recorded(() => sandbox.runCode('exit 3', { language: 'bash' }));
      expect(value).toMatchObject({ success: false, exit_code: 3 });
      const missing = `/nonexistent-${randomBytes(4).toString('hex')}`;
      const { value: error } = await recorded(() => sandbox.runCode('print(1)', { workingDir: missing }).then(() => undefined, (e: unknown) => e));
      expect(error).toMatchObject({ name: 'APIError', statusCode: 400, code: 'DIRECTORY_NOT_FOUND' });
    });

    it('runCodeBackground, listProcesses (both field namings) and killProcess', async () => {
      const { value: started } = await recorded(() => sandbox.runCodeBackground('import time; time.sleep(30)', { name: 'sleeper' }));
      expect(started).toMatchObject({ process_id: expect.stringMatching(/^proc_/), execution_id: expect.any(String), status: 'running' });

      const { value: listed } = await recorded(() => sandbox.listProcesses());
      const entry = listed.find((p) => p.process_id === started.process_id);
      expect(entry).toMatchObject({ status: 'running', name: 'sleeper', started_at: expect.any(String), pid: expect.any(Number) });
      expect(entry).toMatchObject({ start_time: entry!.started_at, completed_at: null });

      await recorded(() => sandbox.killProcess(started.process_id));
      const after = (await recorded(() => sandbox.listProcesses())).value.find((p) => p.process_id === started.process_id);
      expect(after).toMatchObject({ status: 'killed', end_time: expect.any(String), duration: expect.any(Number), execution_time: expect.any(Number) });

      const { value: again } = await recorded(() => sandbox.killProcess(started.process_id).then(() => undefined, (e: unknown) => e));
      expect(again).toMatchObject({ statusCode: 404, code: 'RESOURCE_NOT_FOUND' });
    });

    it('commands.run: a whole shell line, with the fields CommandResponse requires', async () => {
      const { value, exchanges } = await recorded(() => sandbox.commands.run('echo hello | tr a-z A-Z && pwd'));
      expect(value).toMatchObject({ success: true, exit_code: 0, execution_time: expect.any(Number), pid: expect.any(Number), timestamp: expect.any(String) });
      expect(value.stdout.split('\n')[0]).toBe('HELLO');
      expect(body(exchanges[0])).toMatchObject({ command: 'bash', args: ['-c', 'echo hello | tr a-z A-Z && pwd'], workdir: '/workspace' });
      const { value: failed } = await recorded(() => sandbox.commands.run('exit 4'));
      expect(failed).toMatchObject({ success: false, exit_code: 4 });
    });

    it('commands.runBackground, then listSystemProcesses shows it with the real fields', async () => {
      const { value: started } = await recorded(() => sandbox.commands.runBackground('sleep 30'));
      expect(started.process_id).toMatch(/^cmd_/);
      // A process that has just exec'd can still be running for a moment (more so through a confined sandbox's
      // spawner): its /proc facts settle once it sleeps, so the listing is read until they have, for 5 s at most.
      let sleeper: Awaited<ReturnType<typeof sandbox.listSystemProcesses>>[number] | undefined;
      for (let tries = 0; tries < 50; tries++) {
        const { value: system } = await recorded(() => sandbox.listSystemProcesses());
        sleeper = system.find((p) => (p as { command?: string }).command === 'bash -c sleep 30');
        const facts = sleeper as { name?: string; status?: string } | undefined;
        if (!existsSync('/proc/self/stat') || (facts?.name === 'sleep' && facts.status === 'sleeping')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(sleeper).toMatchObject({ pid: expect.any(Number), name: expect.any(String), status: expect.any(String), started_at: expect.any(String) });
      // Where there is a /proc, its facts: bash has exec'd sleep, which now sleeps.
      if (existsSync('/proc/self/stat')) {
        expect(sleeper).toMatchObject({ name: 'sleep', status: 'sleeping', cpu_percent: expect.any(Number), memory_mb: expect.any(Number) });
      }
      expect(sleeper).not.toHaveProperty('user');
      await recorded(() => sandbox.killProcess(started.process_id));
    });

    it('runCodeAsync: queued at once, then the result is POSTed to the callback, signed with the secret', async () => {
      const secret = 'webhook-secret';
      const callbackUrl = `${webhooks.baseUrl}/done`;
      const { value } = await recorded(() =>
        sandbox.runCodeAsync('print(6 * 7)', { callbackUrl, callbackHeaders: { 'X-Job': 'j1' }, callbackSignatureSecret: secret }),
      );
      expect(value).toMatchObject({ execution_id: expect.any(String), status: 'queued', callback_url: callbackUrl });
      const deadline = Date.now() + 10_000;
      while (webhooks.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const [hook] = webhooks.received;
      expect(hook).toMatchObject({ method: 'POST', url: '/done' });
      expect(JSON.parse(hook!.body)).toMatchObject({ execution_id: value.execution_id, status: 'completed', stdout: '42\n', exit_code: 0 });
      expect(hook!.headers['x-job']).toBe('j1');
      expect(hook!.headers['x-hopx-signature']).toBe(`sha256=${createHmac('sha256', secret).update(hook!.body).digest('hex')}`);
      expect(hook!.headers['x-hopx-timestamp']).toMatch(/^\d+$/);
    });

    it('runIpython: an ExecuteResponse', async () => {
      const { value, exchanges } = await recorded(() => sandbox.runIpython('print(6 * 7)'));
      expect(value).toMatchObject({ success: true, stdout: '42\n' });
      expect(Object.keys(body(exchanges[0])).sort()).toEqual(['code', 'timeout']);
    });

    it('env: update (PATCH merge), getAll, set, delete (getAll then setAll) and the agent\'s DELETE; processes started afterwards see them, a request\'s own env wins', async () => {
      const bash = (code: string, env?: Record<string, string>) => sandbox.runCode(code, { language: 'bash', ...(env ? { env } : {}) });
      const { value: updated, exchanges } = await recorded(() => sandbox.env.update({ GREETING: 'hi' }));
      expect(updated).toEqual({ GREETING: 'hi' });
      expect(exchanges.map((x) => `${x.method} ${x.path}`)).toEqual(['PATCH /env']);
      expect(body(exchanges[0])).toEqual({ env_vars: { GREETING: 'hi' }, merge: true });
      expect((await recorded(() => sandbox.env.getAll())).value).toEqual({ GREETING: 'hi' });
      expect((await recorded(() => bash('echo "$GREETING"'))).value.stdout).toBe('hi\n');
      expect((await recorded(() => sandbox.commands.run('echo "$GREETING"'))).value.stdout.trim()).toBe('hi');
      expect((await recorded(() => bash('echo "$GREETING"', { GREETING: 'own' }))).value.stdout).toBe('own\n');

      await recorded(() => sandbox.env.set('OTHER', 'x'));
      expect((await recorded(() => sandbox.env.getAll())).value).toEqual({ GREETING: 'hi', OTHER: 'x' });
      const { exchanges: deleting } = await recorded(() => sandbox.env.delete('GREETING'));
      expect(deleting.map((x) => `${x.method} ${x.path}`)).toEqual(['GET /env', 'PUT /env']);
      expect((await recorded(() => bash('echo "[$GREETING][$OTHER]"'))).value.stdout).toBe('[][x]\n');

      // The emulator's child markers are no user variable's to replace: refused, nothing changed.
      const { value: refused } = await recorded(() => sandbox.env.update({ SANDBOX_PROCS_EMULATOR_CHILD: 'mine' }).then(() => undefined, (e: unknown) => e));
      expect(refused).toMatchObject({ statusCode: 400 });
      const tooMany = Object.fromEntries(Array.from({ length: MAX_ENV_VARS + 1 }, (_, i) => [`V${i}`, 'x']));
      const { value: bounded } = await recorded(() => sandbox.env.setAll(tooMany).then(() => undefined, (e: unknown) => e));
      expect(bounded).toMatchObject({ statusCode: 400 });
      expect((await recorded(() => sandbox.env.getAll())).value).toEqual({ OTHER: 'x' });

      // The SDK never sends the agent's DELETE /env (it clears nothing on its own): sent here as the agent spec has it.
      const { value: cleared } = await recorded(() => fetch(`${proxy.baseUrl}/env`, { method: 'DELETE', headers: { authorization: `Bearer ${emulator.token}` } }));
      expect(cleared.status).toBe(200);
      expect(await cleared.json()).toMatchObject({ env_vars: {}, count: 0 });
      expect((await recorded(() => sandbox.env.getAll())).value).toEqual({});
      expect((await recorded(() => bash('echo "[$OTHER]"'))).value.stdout).toBe('[]\n');
    });

    it('sent only requests the spec has an operation for, and covered every process operation the SDK has', () => {
      const hit = new Set(proxy.exchanges.map((x) => `${x.method} ${x.path.replace(/\/execute\/kill\/.+$/, '/execute/kill/{process_id}')}`));
      expect([...hit].sort()).toEqual(
        [
          'GET /health',
          'GET /info',
          'POST /execute',
          'POST /execute/background',
          'GET /execute/processes',
          'POST /execute/kill/{process_id}',
          'POST /commands/run',
          'POST /commands/background',
          'GET /processes',
          'POST /execute/async',
          'POST /execute/ipython',
          'GET /env',
          'PUT /env',
          'PATCH /env',
          'DELETE /env',
        ].sort(),
      );
      expect(specViolations(proxy.exchanges, operations, validator)).toEqual([]);
    });
  });
});

describe('the recording proxy\'s spec check is no rubber stamp', () => {
  const exchange = (over: Partial<Exchange>): Exchange => ({
    method: 'POST',
    path: '/execute',
    query: {},
    requestHeaders: {},
    requestBody: '{"code":"print(1)","language":"python"}',
    status: 200,
    contentType: 'application/json',
    responseBody: '{"success":true,"stdout":"1\\n","stderr":"","exit_code":0,"execution_time":0.01}',
    ...over,
  });

  it('passes a conforming exchange and flags each kind of break', () => {
    expect(specViolations([exchange({})], operations, validator)).toEqual([]);
    const broken = [
      exchange({ path: '/execute/stream' }),
      exchange({ requestBody: '{"code":"x","language":"cobol"}' }),
      exchange({ responseBody: '{"success":true,"stdout":"","stderr":"","exit_code":0}' }),
      exchange({ method: 'GET', path: '/processes', requestBody: '', responseBody: '{"processes":[{"pid":"one"}]}' }),
      exchange({ status: 418 }),
    ];
    const found = specViolations(broken, operations, validator);
    expect(found).toEqual([
      expect.stringMatching(/^POST \/execute\/stream -> 200: no operation/),
      expect.stringMatching(/^POST \/execute -> 200: request: .*language/),
      expect.stringMatching(/^POST \/execute -> 200: request .*language/),
      expect.stringMatching(/response breaking missing-field: .*execution_time/),
      expect.stringMatching(/^GET \/processes -> 200: response breaking wrong-type/),
      expect.stringMatching(/response breaking undeclared-status/),
    ]);
  });
});
