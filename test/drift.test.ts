// The drift check: silent on servers that keep the contract, precise on ones
// that break it, and exit 2 (fast) when it cannot run at all.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { DriftCannotRunError, runDrift, type DriftReport } from '../src/contract/drift.js';
import { renderJunit } from '../src/contract/drift-report.js';
import { channelKeys } from './support/channel-keys.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { freePort } from '../src/prism.js';
import { json, startDrifted, type DriftedProvider } from './support/drifted.js';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);
const drift = (options: Omit<Parameters<typeof runDrift>[0], 'toolVersion'>) => runDrift({ toolVersion: 'test', ...options });
const findingsOf = (report: DriftReport) =>
  report.checks.flatMap((c) => c.findings.map((f) => ({ operation: c.operation, case: c.case, severity: f.severity, kind: f.kind })));


describe('no drift where the contract is kept', () => {
  let emulators: RunningEmulator[];
  beforeAll(async () => {
    emulators = await Promise.all([startEmulator('tensorlake'), startEmulator('hopx')]);
  });
  afterAll(() => Promise.all(emulators.map((e) => e.stop())));

  it.each([false, true])('against the emulators (mutations %s): no finding at all, and nothing left running', async (allowMutations) => {
    for (const e of emulators) {
      const report = await drift({ provider: e.provider, baseUrl: e.baseUrl, token: e.token, allowMutations });
      expect(findingsOf(report)).toEqual([]);
      expect(report.summary).toMatchObject({ drift: 0, warnings: 0, passed: report.checks.length });
      expect(report.checks.length).toBeGreaterThan(10);
      if (allowMutations) expect(report.checks.some((c) => c.operation === 'lifecycle')).toBe(true);
      const list = await fetch(`${e.baseUrl}${e.provider === 'hopx' ? '/execute/processes' : '/api/v1/processes'}`, { headers: { Authorization: `Bearer ${e.token}` } });
      const processes = ((await list.json()) as { processes: Array<{ status: string }> }).processes;
      expect(processes.filter((p) => p.status === 'running')).toEqual([]);
      if (e.provider === 'tensorlake') {
        // The PTY sessions the scenarios opened are killed too, not left to run their `sleep 60`.
        const ptys = await fetch(`${e.baseUrl}/api/v1/pty`, { headers: { Authorization: `Bearer ${e.token}` } });
        const sessions = ((await ptys.json()) as { sessions: Array<{ is_alive: boolean }> }).sessions;
        expect(sessions.filter((s) => s.is_alive)).toEqual([]);
      }
      if (e.provider === 'hopx') {
        const verdicts = Object.fromEntries(Object.entries(report.killForms!).map(([form, v]) => [form, v.verdict]));
        expect(verdicts).toEqual({ body: 'accepted', query: 'accepted', path: 'accepted', post: 'accepted' });
        // The sandbox's own variables are the user's: drift never sets or clears them, even with mutations.
        await fetch(`${e.baseUrl}/env`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${e.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ env_vars: { USERS_OWN: 'kept' } }),
        });
        await drift({ provider: e.provider, baseUrl: e.baseUrl, token: e.token, allowMutations });
        const env = await fetch(`${e.baseUrl}/env`, { headers: { Authorization: `Bearer ${e.token}` } });
        expect(((await env.json()) as { env_vars: Record<string, string> }).env_vars).toEqual({ USERS_OWN: 'kept' });
        expect(report.checks.filter((c) => /_env$/.test(c.operation) && c.expectedStatus === 200 && c.operation !== 'get_env')).toEqual([]);
      }
    }
  });

  it('against Prism mocks of our specs: no drift', async () => {
    const urls = inject('prismBaseUrls');
    for (const provider of ['tensorlake', 'hopx'] as const) {
      const report = await drift({ provider, baseUrl: urls[provider]!, token: 'any-token' });
      expect(findingsOf(report)).toEqual([]);
    }
  });

  it('changes nothing without --allow-mutations', async () => {
    const e = await startEmulator('tensorlake');
    onTestFinished(() => e.stop());
    const report = await drift({ provider: e.provider, baseUrl: e.baseUrl, token: e.token });
    expect(report.mutations).toBe(false);
    // Only the malformed starts, which a server must refuse, go out.
    const starts = report.checks.filter((c) => c.operation === 'sandbox_process_start').map((c) => c.case);
    expect(starts.length).toBeGreaterThan(0);
    expect(starts).toEqual(starts.map(() => expect.stringMatching(/^raw POST/)));
    const list = await fetch(`${e.baseUrl}/api/v1/info`, { headers: { Authorization: `Bearer ${e.token}` } });
    expect(((await list.json()) as { total_processes: number }).total_processes).toBe(0);
  });
});

describe('each drift class is reported on the right operation', () => {
  let tensorlake: DriftedProvider;
  let hopx: DriftedProvider;
  beforeAll(async () => {
    tensorlake = await startDrifted('tensorlake', [
      { method: 'GET', path: /^\/api\/v1\/health$/, rewrite: () => json(200, {}) },
      { method: 'GET', path: /^\/api\/v1\/info$/, rewrite: (u) => json(200, { ...JSON.parse(u.body), uptime_secs: '3600' }) },
      { method: 'GET', path: /^\/api\/v1\/processes\/\d+$/, statuses: [404], rewrite: () => json(404, { message: 'gone', status: 404 }) },
      { method: 'GET', path: /^\/api\/v1\/processes$/, rewrite: () => ({ status: 502, contentType: 'text/html', body: '<html><h1>502 Bad Gateway</h1></html>' }) },
    ]);
    hopx = await startDrifted('hopx', [
      {
        method: 'GET',
        path: /^\/execute\/processes$/,
        rewrite: (u) => {
          const body = JSON.parse(u.body) as { processes: unknown[] };
          return json(200, { ...body, processes: [...body.processes, { process_id: 'proc_x', status: 'zombie' }] });
        },
      },
      { method: 'GET', path: /^\/processes$/, rewrite: () => ({ status: 200, contentType: 'text/html', body: '<ul><li>init</li></ul>' }) },
      { method: 'POST', path: /^\/execute\/kill\//, rewrite: () => ({ status: 405, contentType: 'text/plain', body: 'Method Not Allowed' }) },
      { method: 'GET', path: /^\/health$/, rewrite: (u) => json(200, { ...JSON.parse(u.body), load_average: 0.5 }) },
    ]);
  });
  afterAll(() => Promise.all([tensorlake?.stop(), hopx?.stop()]));

  it('Tensorlake: missing field, wrong type, error body of another shape, undeclared status (HTML 502)', async () => {
    const report = await drift({ provider: 'tensorlake', baseUrl: tensorlake.baseUrl, token: tensorlake.token });
    const findings = findingsOf(report);
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'sandbox_health', kind: 'missing-field', severity: 'breaking' }));
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'sandbox_info', kind: 'wrong-type', severity: 'breaking' }));
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'sandbox_process_get', case: 'unknown process', kind: 'missing-field' }));
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'sandbox_process_list', kind: 'undeclared-status' }));
    // Nothing else drifted, and nothing else is reported.
    const drifted = new Set(report.checks.filter((c) => c.outcome !== 'pass').map((c) => `${c.operation} ${c.expectedStatus}`));
    expect([...drifted].sort()).toEqual(['sandbox_health 200', 'sandbox_info 200', 'sandbox_process_get 404', 'sandbox_process_list 200']);
  });

  it('HopX: unknown enum value, wrong content type, a kill form no longer accepted, and an extra field as a warning', async () => {
    const report = await drift({ provider: 'hopx', baseUrl: hopx.baseUrl, token: hopx.token, allowMutations: true });
    const findings = findingsOf(report);
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'list_processes', kind: 'unknown-enum', severity: 'breaking' }));
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'list_system_processes', kind: 'content-type', severity: 'breaking' }));
    // A route that answers 405: one finding, not a status, a content type and an error class.
    const pathKill = report.checks.find((c) => c.operation === 'kill_process_by_path' && c.expectedStatus === 200)!;
    expect(pathKill.findings).toEqual([expect.objectContaining({ kind: 'missing-route', message: expect.stringContaining('405 text/plain') })]);
    expect(findings).toContainEqual(expect.objectContaining({ operation: 'get_health', kind: 'additional-property', severity: 'warning' }));
    expect(report.killForms).toMatchObject({ body: { verdict: 'accepted' }, query: { verdict: 'accepted' }, path: { verdict: 'missing-route', evidence: expect.stringContaining('405') } });
    expect(report.checks.find((c) => c.operation === 'get_health')?.outcome).toBe('warning');
    const drifted = new Set(report.checks.filter((c) => c.outcome === 'drift' && !channelKeys.has(c.operation)).map((c) => c.operation));
    expect([...drifted].sort()).toEqual(['kill_process_by_path', 'list_processes', 'list_system_processes']);
  });
});

describe('when the check cannot run', () => {
  it('an unreachable host is a clear DriftCannotRunError, at once', async () => {
    const t0 = Date.now();
    const error = await drift({ provider: 'tensorlake', baseUrl: `http://127.0.0.1:${await freePort()}`, token: 't' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriftCannotRunError);
    expect((error as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it.each([
    ['resets every connection', (socket: import('node:net').Socket) => socket.once('data', () => socket.resetAndDestroy()), /cannot reach/],
    ['never answers', () => undefined, /did not answer in time/],
  ])('a server that %s is a DriftCannotRunError within the time limit', async (_name, onConnection, message) => {
    const server: Server = createNetServer(onConnection);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const t0 = Date.now();
    try {
      const error = await drift({ provider: 'hopx', baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, token: 't', timeoutMs: 300 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DriftCannotRunError);
      expect((error as Error).message).toMatch(message);
      expect(Date.now() - t0).toBeLessThan(3_000);
    } finally {
      server.close();
    }
  });

  it('a refused token is a DriftCannotRunError that says so', async () => {
    const e = await startEmulator('hopx');
    try {
      await expect(drift({ provider: 'hopx', baseUrl: e.baseUrl, token: 'wrong' })).rejects.toThrow(/refused the token \(401\)/);
    } finally {
      await e.stop();
    }
  });
});

describe('the drift CLI and its files', () => {
  let drifted: DriftedProvider;
  let dir: string;
  beforeAll(async () => {
    drifted = await startDrifted('hopx', [{ method: 'GET', path: /^\/processes$/, rewrite: () => json(200, { processes: [{ pid: 'one' }] }) }]);
    dir = await mkdtemp(join(tmpdir(), 'sandbox-procs-drift-'));
  });
  afterAll(async () => {
    await drifted?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [join(root, 'dist/src/bin.js'), 'drift', ...args], { env: { ...process.env, NO_COLOR: '1', ...env } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('exits 1 on drift, writes valid JUnit and JSON, and never shows the token', async () => {
    const json = join(dir, 'report.json');
    const junit = join(dir, 'report.xml');
    const result = await cli(['--provider', 'hopx', '--base-url', drifted.baseUrl, '--token-env', 'MY_HOPX_TOKEN', '--json', json, '--junit', junit], {
      MY_HOPX_TOKEN: drifted.token,
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(await readFile(json, 'utf8')) as DriftReport;
    expect(result.stdout).toMatch(/DRIFT in 1 of \d+ checks/);
    const xml = await readFile(junit, 'utf8');
    for (const text of [result.stdout, result.stderr, JSON.stringify(report), xml]) expect(text).not.toContain(drifted.token);

    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(await readFile(join(root, 'schemas/drift-report.schema.json'), 'utf8')) as object);
    expect(validate(report) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...report, summary: { ...report.summary, drift: 'one' } })).toBe(false);

    expect(XMLValidator.validate(xml)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase' }).parse(xml) as {
      testsuites: { testsuite: { testcase: Array<{ failure?: unknown; '@_classname': string }> } };
    };
    const cases = parsed.testsuites.testsuite.testcase;
    expect(cases).toHaveLength(report.checks.length);
    expect(cases.filter((c) => c.failure !== undefined && !channelKeys.has(c['@_classname'].slice('hopx.'.length))).map((c) => c['@_classname'])).toEqual(['hopx.list_system_processes']);
  });

  it('escapes what it writes into XML', () => {
    const xml = renderJunit({
      version: 2, tool: 'sandbox-procs', toolVersion: 't', provider: 'hopx', baseUrl: 'http://x', mutations: false,
      startedAt: new Date(0).toISOString(), durationMs: 1, summary: { checks: 1, passed: 0, drift: 1, warnings: 0 },
      checks: [{ id: 'a', operation: 'op<&>"', case: "c'\u0001", expectedStatus: 200, status: 502, outcome: 'drift', durationMs: 1,
        findings: [{ severity: 'breaking', kind: 'content-type', message: '<html> & "quotes"' }] }],
    });
    expect(XMLValidator.validate(xml)).toBe(true);
  });

  it.each([
    [['--provider', 'hopx'], {}, /needs --base-url/],
    [['--provider', 'hopx', '--base-url', 'http://127.0.0.1:1'], { HOPX_AUTH_TOKEN: '' }, /HOPX_AUTH_TOKEN is not set/],
    [['--provider', 'hopx', '--base-url', 'http://sandbox.example.com'], { HOPX_AUTH_TOKEN: 'x' }, /refusing to send an API key over plain http/],
    [['--provider', 'hopx', '--base-url', 'http://127.0.0.1:9', '--token', 'x'], {}, /^error: unknown flag --token for drift$/m],
  ] as const)('%j exits 2 with a clear message', async (args, env, message) => {
    const result = await cli([...args], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
