// Drift's verdicts on real local servers: each kill-form verdict with its evidence,
// one finding per root cause, and stand-ins written from the providers' own code
// (../shared/providers/real-sources.md) on which drift reports exactly the
// differences listed there, and nothing else.
import { afterEach, describe, expect, it } from 'vitest';
import { runDrift, type DriftOptions, type DriftReport } from '../src/contract/drift.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { jsonAnswer, startStandIn, type RunningStandIn, type StandIn } from './support/stand-ins.js';

const owned: Array<RunningStandIn | RunningEmulator> = [];
afterEach(async () => {
  await Promise.all(owned.splice(0).map((o) => o.stop()));
});

async function standIn(provider: 'hopx' | 'tensorlake', rules: StandIn): Promise<RunningStandIn> {
  const started = await startStandIn(provider, rules);
  owned.push(started);
  return started;
}

async function drift(options: Omit<DriftOptions, 'toolVersion'>): Promise<DriftReport> {
  return runDrift({ ...options, toolVersion: 'test', timeoutMs: 5_000 });
}

const verdicts = (report: DriftReport) => Object.fromEntries(Object.entries(report.killForms!).map(([form, v]) => [form, v.verdict]));
/** Each check that drifted, as "operation expected-status case", with the kinds of its findings. */
const drifted = (report: DriftReport) =>
  Object.fromEntries(report.checks.filter((c) => c.outcome === 'drift').map((c) => [`${c.operation} ${c.expectedStatus ?? '-'} ${c.case}`, c.findings.map((f) => f.kind)]));

// Go's net/http answer to a path no handler serves (the HopX agent is a Go server).
const GO_NOT_FOUND = { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' };
const isPathKill = (path: string) => /^\/execute\/kill\/[^/]+$/.test(path);

describe('kill-form verdicts, each with its evidence', () => {
  it('accepted: every form answers with its declared schema (the emulator)', async () => {
    const e = await startEmulator('hopx');
    owned.push(e);
    for (const allowMutations of [false, true]) {
      const report = await drift({ provider: 'hopx', baseUrl: e.baseUrl, token: e.token, allowMutations });
      expect(verdicts(report)).toEqual({ body: 'accepted', query: 'accepted', path: 'accepted', post: 'accepted' });
      expect(report.summary.drift).toBe(0);
      expect(report.killForms!.path.evidence).toMatch(
        allowMutations ? /^killing a running process: 200 application\/json/ : /404 application\/json .*RESOURCE_NOT_FOUND.*a path no one serves gets 404 text\/plain/,
      );
    }
  });

  it('missing-route: no POST /execute/kill/{id}, the router\'s plain 404; one finding per check, not three', async () => {
    const server = await standIn('hopx', { before: (r) => (isPathKill(r.path) ? GO_NOT_FOUND : undefined) });
    const report = await drift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token });
    expect(verdicts(report)).toMatchObject({ path: 'missing-route' });
    expect(report.killForms!.path.evidence).toContain('404 page not found');
    const check = report.checks.find((c) => c.operation === 'kill_process_by_path' && c.expectedStatus === 404)!;
    expect(check.findings).toEqual([expect.objectContaining({ kind: 'missing-route' })]);
  });

  it('unknown: read-only, when the router\'s 404 is the provider\'s own not-found body; a running process settles it', async () => {
    const notFound = jsonAnswer(404, { error: 'Process not found', code: 'RESOURCE_NOT_FOUND' });
    const server = await standIn('hopx', { before: (r) => (isPathKill(r.path) || r.path.startsWith('/sandbox-procs-unrouted-') ? notFound : undefined) });
    const readOnly = await drift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token });
    expect(verdicts(readOnly)).toEqual({ body: 'accepted', query: 'accepted', path: 'unknown', post: 'accepted' });
    expect(readOnly.killForms!.path.evidence).toMatch(/cannot tell/);
    const mutating = await drift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token, allowMutations: true });
    expect(verdicts(mutating)).toMatchObject({ path: 'missing-route' });
  });

  it('rejected and accepted-with-drift: the body form refused by the handler, the query form\'s free-form 200', async () => {
    const server = await standIn('hopx', {
      before: (r) => (r.method === 'DELETE' && r.path === '/execute/kill' && !r.query.has('process_id') ? jsonAnswer(400, { error: 'process_id is required', code: 'MISSING_PARAMETER' }) : undefined),
      after: (r, upstream) => (r.method === 'DELETE' && r.query.has('process_id') && upstream.status === 200 ? jsonAnswer(200, {}) : upstream),
    });
    const report = await drift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token, allowMutations: true });
    expect(verdicts(report)).toEqual({ body: 'rejected', query: 'accepted-with-drift', path: 'accepted', post: 'accepted' });
    expect(report.killForms!.body.evidence).toMatch(/400 application\/json .*MISSING_PARAMETER/);
  });
});

describe('the proposed fourth kill form: POST /execute/kill with {process_id} (hopx-ai/hopx #57/#58)', () => {
  it('a stand-in that serves only that form gets a report naming it as the one that works', async () => {
    const server = await standIn('hopx', {
      before: (r) => (isPathKill(r.path) || (r.method === 'DELETE' && r.path === '/execute/kill') ? GO_NOT_FOUND : undefined),
    });
    for (const allowMutations of [false, true]) {
      const report = await drift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token, allowMutations });
      expect(verdicts(report)).toEqual({ body: 'missing-route', query: 'missing-route', path: 'missing-route', post: 'accepted' });
      expect(report.killForms!.post.evidence).toMatch(allowMutations ? /^killing a running process: 200 application\/json/ : /^killing an unknown id: 404 application\/json/);
      expect(report.checks.filter((c) => c.operation === 'kill_process_post').every((c) => c.outcome === 'pass')).toBe(true);
    }
  }, 60_000);
});

describe('stand-ins from the providers\' own code: exactly the differences real-sources.md lists', () => {
  it('HopX as its agent spec (hopx-ai/hopx openapi_agent.json) describes it: query-form kill only, a free-form kill body, no 401 body', async () => {
    const server = await standIn('hopx', {
      before(r) {
        const open = r.path === '/health' || r.path === '/info';
        // C7: the agent spec declares no 401; its middleware's answer is assumed to be plain text.
        if (!r.authorized && !open) return { status: 401, contentType: 'text/plain', body: 'Unauthorized' };
        // C7: no POST /execute/kill/{id} (both SDKs still call it).
        if (isPathKill(r.path)) return GO_NOT_FOUND;
        // The POST-body form is only proposed (pull requests #57/#58): not deployed.
        if (r.method === 'POST' && r.path === '/execute/kill') return GO_NOT_FOUND;
        // C3 of the drift run: the agent requires ?process_id; a JSON body alone is a 400.
        if (r.method === 'DELETE' && r.path === '/execute/kill' && !r.query.has('process_id')) return jsonAnswer(400, { error: 'process_id is required', code: 'MISSING_PARAMETER' });
        return undefined;
      },
      // C4 / C7: the kill's 200 body is free-form.
      after: (r, upstream) => (r.method === 'DELETE' && r.query.has('process_id') && upstream.status === 200 ? jsonAnswer(200, {}) : upstream),
    });
    const report = await drift({ provider: 'hopx', baseUrl: server.baseUrl, token: server.token, allowMutations: true });
    expect(verdicts(report)).toEqual({ body: 'rejected', query: 'accepted-with-drift', path: 'missing-route', post: 'missing-route' });
    // The proposed form not deployed yet is a warning, never drift.
    expect(report.checks.filter((c) => c.operation === 'kill_process_post' && c.expectedStatus !== 401).map((c) => c.outcome)).toEqual(expect.arrayContaining(['warning']));
    const found = drifted(report);
    // Every 401 check: one clear finding each, never a content-type finding.
    const unauthorized = Object.entries(found).filter(([key]) => / 401 /.test(key));
    expect(unauthorized.length).toBeGreaterThan(5);
    for (const [, kinds] of unauthorized) expect(kinds).toEqual(['unauthorized-body']);
    const rest = Object.fromEntries(Object.entries(found).filter(([key]) => !/ 401 /.test(key)));
    expect(rest).toEqual({
      'kill_process 200 form=body, running process': ['unexpected-status'],
      'kill_process 404 form=body, unknown process': ['unexpected-status'],
      'kill_process 200 form=query, running process': expect.arrayContaining(['missing-field']),
      'kill_process_by_path 200 form=path, running process': ['missing-route'],
      'kill_process_by_path 404 form=path, unknown process': ['missing-route'],
      'lifecycle - kill': ['lifecycle'],
      'lifecycle - gone': ['lifecycle'],
    });
  }, 60_000);

  it('Tensorlake as its public daemon (tensorlakeai/indexify container-daemon) serves it: no run or restart route, PIDs only', async () => {
    const server = await standIn('tensorlake', {
      before(r) {
        // The sandbox proxy in front of the daemon checks the token first.
        if (!r.authorized) return undefined;
        // B12 / B8: the daemon's router has neither; axum's fallback is an empty 404.
        if (r.path === '/api/v1/processes/run' || r.path.endsWith('/restart')) return { status: 404, body: '' };
        // B2 / B7: Path<u32>: a name is no PID.
        const segment = /^\/api\/v1\/processes\/([^/]+)/.exec(r.path)?.[1];
        if (segment && segment !== 'run' && !/^\d+$/.test(segment)) return { status: 400, contentType: 'text/plain; charset=utf-8', body: `Invalid URL: Cannot parse \`${decodeURIComponent(segment)}\` to a \`u32\`` };
        return undefined;
      },
    });
    const report = await drift({ provider: 'tensorlake', baseUrl: server.baseUrl, token: server.token });
    const found = drifted(report);
    const byName = ['stdout', 'stderr', 'output', 'follow_stdout', 'follow_stderr', 'follow_output'].map((op) => `sandbox_process_${op} 404 unknown name`);
    expect(found).toEqual({
      ...Object.fromEntries(byName.map((key) => [key, ['unexpected-status']])),
      'sandbox_process_run 422 raw POST /api/v1/processes/run {}': ['missing-route'],
      'sandbox_process_run 415 raw POST /api/v1/processes/run "command=ls" as text/plain': ['missing-route'],
      'sandbox_process_restart 404 unknown process': ['missing-route'],
    });
  }, 60_000);
});
