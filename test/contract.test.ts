// The contract suite: the same scenario list `sandbox-procs check` runs, through
// the facade, against Prism mocks of our specs.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runnableOn, runScenarios, startEmulatorTarget, type RunningTarget, type Target } from '../src/contract/run.js';
import { controlContracts, controlScenariosFor, providers, scenariosFor } from '../src/contract/scenarios.js';
import { loadSpec } from '../src/specs.js';
import { scenarioLabel } from '../src/contract/scenario.js';
import { SpecValidator } from '../src/contract/validate.js';
import { startServer, json } from './support/servers.js';

const prism: Target = {
  name: 'prism',
  kind: 'mock',
  baseUrls: inject('prismBaseUrls'),
  headersFor: (scenario) => ({ Prefer: `code=${scenario.status}` }),
};

describe.each(providers)('%s contract against Prism', (provider) => {
  const scenarios = scenariosFor([provider]);

  it.each(scenarios.map((s) => [`${s.operation} ${s.status} ${scenarioLabel(s)}`.trim(), s] as const))('%s', async (_name, scenario) => {
    const [result] = await runScenarios([scenario], prism);
    expect(result!.problems).toEqual([]);
    // A mock cannot upgrade a connection: a channel scenario is skipped, with its reason, never dropped.
    if (scenario.channel) return void expect(result).toMatchObject({ passed: true, outcome: 'skipped', skipped: expect.stringMatching(/cannot upgrade a connection to a WebSocket/) });
    expect(result!.status).toBe(scenario.status);
    // A raw probe bypasses the typed client: there is no client outcome to compare.
    expect(result!.outcome).toBe(scenario.raw ? 'raw' : scenario.expect);
  });

  it('has a scenario for every declared (operation, status) pair, and none for undeclared ones', () => {
    const declared = new SpecValidator(provider).declaredPairs().map((p) => `${p.operation} ${p.status}`);
    // A channel scenario names its AsyncAPI channel, not an operation: the channels are held to their documents in test/channel-specs.test.ts.
    const covered = scenarios.filter((s) => !s.channel).map((s) => `${s.operation} ${s.status}`);
    expect(declared.filter((pair) => !covered.includes(pair))).toEqual([]);
    expect(covered.filter((pair) => !declared.includes(pair))).toEqual([]);
  });
});

describe('every scenario has a case name that tells it apart', () => {
  it('of every provider, agent and control plane: a non-empty name, and no two rows (provider, operation, case, status) alike', () => {
    const all = [...scenariosFor(), ...controlScenariosFor()];
    expect(all.length).toBeGreaterThan(150);
    expect(all.filter((s) => scenarioLabel(s).trim() === '').map((s) => `${s.provider} ${s.operation} ${s.status}`)).toEqual([]);
    const rows = all.map((s) => `${s.provider} ${s.api ?? 'agent'} ${s.operation} | ${scenarioLabel(s)} | ${s.status}`);
    expect(rows.filter((row, i) => rows.indexOf(row) !== i)).toEqual([]);
  });

  it('names what the fixture, credentials and form do not say', () => {
    const label = (provider: 'tensorlake' | 'hopx', operation: string, status: number) =>
      scenariosFor([provider]).filter((s) => s.operation === operation && s.status === status).map(scenarioLabel);
    expect(label('tensorlake', 'sandbox_process_start', 201)).toEqual(['valid request', 'managed, named']);
    expect(label('tensorlake', 'sandbox_process_start', 400)).toEqual(['mock only']);
    expect(label('hopx', 'execute_code', 400)).toEqual(['no code', 'raw POST /execute {"code":42,"language":"bash"}']);
    expect(controlScenariosFor(['hopx']).filter((s) => s.status === 401).map(scenarioLabel)).toContain('raw GET /v1/sandboxes, no credentials');
  });
});

describe('contract against the emulators (real processes behind the API)', () => {
  let running: RunningTarget;
  beforeAll(async () => {
    running = await startEmulatorTarget(providers);
  });
  afterAll(() => running?.stop());

  it.each(providers)('%s: every scenario a real server can be brought to answer passes, and every response validates', async (provider) => {
    // The channels run once the provider's AsyncAPI document is there (#24: it and the emulators' sessions come in parallel).
    const scenarios = runnableOn(running.target, scenariosFor([provider]));
    // Only the statuses nothing can provoke on purpose are left out (a server fault, a full emulator's 429,
    // a request the facade will not send and no raw probe can stand for).
    expect(scenarios.length).toBeGreaterThan(scenariosFor([provider]).length * 0.66);
    const results = await runScenarios(scenarios, running.target);
    expect(results.filter((r) => !r.passed).map((r) => `${r.scenario.operation} ${r.scenario.status} ${r.label}: ${r.problems.join('; ')}`)).toEqual([]);
    expect(results).toHaveLength(scenarios.length);
    if (provider === 'tensorlake') {
      // What the scenarios opened (201s and fixtures) is killed by the run's cleanup: no PTY session lives on.
      const ptys = await fetch(`${running.target.baseUrls.tensorlake}/api/v1/pty`, { headers: { Authorization: `Bearer ${running.target.apiKeys!.tensorlake}` } });
      expect(((await ptys.json()) as { sessions: Array<{ is_alive: boolean }> }).sessions.filter((s) => s.is_alive)).toEqual([]);
    }
  });
});

describe('control-plane scenarios (specs/<provider>-control.yaml) against the emulator target', () => {
  const withControl = providers.filter((provider) => controlContracts[provider] !== undefined);
  let running: RunningTarget;
  beforeAll(async () => {
    running = await startEmulatorTarget(withControl);
  });
  afterAll(() => running?.stop());

  it('never run on a target without a control plane (Prism, a live sandbox)', () => {
    // Issue 16: both providers' control planes are covered.
    expect(withControl).toEqual(expect.arrayContaining(['tensorlake', 'hopx']));
    expect(controlScenariosFor().length).toBeGreaterThan(0);
    expect(runnableOn(prism, controlScenariosFor())).toEqual([]);
  });

  it.each(withControl)('%s: one per declared (operation, status) pair but the ones nothing provokes on purpose (429 full, 503 stopping, 504 a gateway timeout), and all pass', async (provider) => {
    const scenarios = controlScenariosFor([provider]);
    const declared = new SpecValidator(provider, loadSpec(`${provider}-control`)).declaredPairs().map((p) => `${p.operation} ${p.status}`);
    // A channel scenario names its AsyncAPI channel, not an operation: the channels are held to their documents in test/channel-specs.test.ts.
    const covered = scenarios.filter((s) => !s.channel).map((s) => `${s.operation} ${s.status}`);
    expect(declared.filter((pair) => !covered.includes(pair)).every((pair) => / (429|503|504)$/.test(pair))).toBe(true);
    expect(covered.filter((pair) => !declared.includes(pair))).toEqual([]);
    expect(runnableOn(running.target, scenarios)).toEqual(scenarios);
    const results = await runScenarios(scenarios, running.target);
    expect(results.filter((r) => !r.passed).map((r) => `${r.scenario.operation} ${r.scenario.status} ${r.label}: ${r.problems.join('; ')}`)).toEqual([]);
    expect(results.map((r) => r.status)).toEqual(scenarios.map((s) => s.status));
  });

  it.each(withControl)('%s: a wrong answer from its control plane fails its scenario', async (provider) => {
    const [scenario] = controlScenariosFor([provider]).filter((s) => s.status === 404);
    const server = await startServer((_req, res) => json(res, 200, { unexpected: true }));
    try {
      const target: Target = { name: 'broken', kind: 'stateful', baseUrls: {}, controlBaseUrls: { [provider]: server.baseUrl }, apiKeys: { [provider]: 'k' } };
      const [result] = await runScenarios([scenario!], target);
      expect(result!.passed).toBe(false);
      expect(result!.problems).toEqual(expect.arrayContaining(['expected status 404, got 200']));
    } finally {
      await server.close();
    }
  });
});

describe('the contract engine catches a provider that breaks the contract', () => {
  it('reports an undeclared status, an undeclared content type and the wrong error class', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    });
    try {
      const [scenario] = scenariosFor(['tensorlake']).filter((s) => s.status === 404);
      const [result] = await runScenarios([scenario!], { name: 'broken', kind: 'mock', baseUrls: { tensorlake: server.baseUrl } });
      expect(result!.passed).toBe(false);
      expect(result!.status).toBe(502);
      expect(result!.outcome).toBe('UnexpectedResponseError');
      expect(result!.problems.join('\n')).toMatch(/expected status 404, got 502/);
      expect(result!.problems.join('\n')).toMatch(/status 502 is not declared/);
    } finally {
      await server.close();
    }
  });

  it('reports an error body that does not match the error schema', async () => {
    const server = await startServer((_req, res) => json(res, 404, { message: 'gone', code: 7 }));
    try {
      const [scenario] = scenariosFor(['hopx']).filter((s) => s.status === 404 && s.input.form === 'body');
      const [result] = await runScenarios([scenario!], { name: 'drifted', kind: 'mock', baseUrls: { hopx: server.baseUrl } });
      expect(result!.passed).toBe(false);
      expect(result!.outcome).toBe('NotFoundError');
      expect(result!.problems).toContain("body must have required property 'error'");
      expect(result!.problems).toContain('body/code must be string');
    } finally {
      await server.close();
    }
  });
});
