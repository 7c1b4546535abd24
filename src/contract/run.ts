// Runs contract scenarios through the facade against a target (today: Prism mocks
// of our specs) and checks three things per scenario: the status, the facade's
// typed outcome, and the raw response against the spec's schema.
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import * as errors from '../errors.js';
import type { ProviderName } from '../errors.js';
import { startEmulator } from '../emulator/index.js';
import { startPrism, type PrismServer } from '../prism.js';
import { specPath } from '../specs.js';
import { scenarioLabel, type Scenario } from './scenario.js';
import { contracts } from './scenarios.js';
import { SpecValidator, type ObservedResponse } from './validate.js';

export interface Target {
  readonly name: string;
  /**
   * `mock`: stateless, answers any declared status on request (Prism).
   * `stateful`: a real implementation; scenarios need fixtures, and mock-only ones are skipped.
   */
  readonly kind: 'mock' | 'stateful';
  readonly baseUrls: Partial<Record<ProviderName, string>>;
  /** The credentials each provider accepts; a mock takes any (a fresh random key is used). */
  readonly apiKeys?: Partial<Record<ProviderName, string>>;
  /** Extra request headers for a scenario (Prism: which declared response to serve). */
  headersFor?(scenario: Scenario): Record<string, string>;
}

/** The scenarios a target can run: all of them on a mock, the reachable ones on a stateful target. */
export function runnableOn(target: Pick<Target, 'kind'>, scenarios: readonly Scenario[]): Scenario[] {
  return scenarios.filter((scenario) => target.kind === 'mock' || scenario.only !== 'mock');
}

export interface ScenarioResult {
  scenario: Scenario;
  label: string;
  passed: boolean;
  /** The status the provider answered, when it answered. */
  status: number | undefined;
  /** What the facade produced: `result`, or the error class name. */
  outcome: string;
  problems: string[];
  ms: number;
}

export interface RunOptions {
  /** Called as each scenario finishes (progress). */
  onResult?(result: ScenarioResult): void;
  timeoutMs?: number;
}

interface Exchange extends ObservedResponse {}

function outcomeOf(value: { ok: true } | { ok: false; error: unknown }): string {
  if (value.ok) return 'result';
  return value.error instanceof Error ? value.error.constructor.name : typeof value.error;
}

async function runScenario(
  scenario: Scenario,
  target: Target,
  validator: SpecValidator,
  apiKey: string,
  timeoutMs: number,
): Promise<ScenarioResult> {
  const contract = contracts[scenario.provider];
  const baseUrl = target.baseUrls[scenario.provider];
  const label = scenarioLabel(scenario);
  if (!baseUrl) throw new Error(`target ${target.name} has no base URL for ${scenario.provider}`);

  let input = scenario.input;
  if (target.kind === 'stateful' && scenario.fixture) {
    const make = contract.fixtures[scenario.fixture];
    if (!make) throw new Error(`${scenario.provider} has no "${scenario.fixture}" fixture`);
    // Fixtures are made by a client of their own, so that only the scenario's request is recorded.
    const setup = contract.createClient({ apiKey, baseUrl, fetch: (request) => fetch(request), timeoutMs });
    try {
      input = { ...input, ...(await make(setup)) };
    } catch (error) {
      const problem = `could not make the "${scenario.fixture}" fixture: ${error instanceof Error ? error.message : String(error)}`;
      return { scenario, label, passed: false, status: undefined, outcome: 'fixture failed', problems: [problem], ms: 0 };
    }
  }
  const exchanges: Exchange[] = [];
  const extraHeaders = target.headersFor?.(scenario) ?? {};

  // A real fetch that records what went over the wire, independently of the facade.
  const recordingFetch = async (request: Request): Promise<Response> => {
    const outgoing = new Request(request);
    for (const [name, value] of Object.entries(extraHeaders)) outgoing.headers.set(name, value);
    if (scenario.credentials === 'missing') outgoing.headers.delete('authorization');
    const response = await fetch(outgoing);
    const bodyText = await response.clone().text();
    exchanges.push({ status: response.status, contentType: response.headers.get('content-type'), bodyText });
    return response;
  };

  const started = performance.now();
  let settled: { ok: true } | { ok: false; error: unknown };
  try {
    const client = contract.createClient({ apiKey, baseUrl, fetch: recordingFetch, timeoutMs });
    await contract.invoke(client, scenario.operation, input);
    settled = { ok: true };
  } catch (error) {
    settled = { ok: false, error };
  }
  const ms = performance.now() - started;

  const problems: string[] = [];
  const exchange = exchanges[0];
  if (exchanges.length !== 1) problems.push(`expected exactly one request, the facade sent ${exchanges.length}`);
  if (exchange && exchange.status !== scenario.status) problems.push(`expected status ${scenario.status}, got ${exchange.status}`);
  if (exchange) problems.push(...validator.check(scenario.operation, exchange));

  const outcome = outcomeOf(settled);
  if (outcome !== scenario.expect) {
    const detail = settled.ok ? '' : `: ${settled.error instanceof Error ? settled.error.message : String(settled.error)}`;
    problems.push(`expected ${scenario.expect}, the facade gave ${outcome}${detail}`);
  }
  if (!settled.ok) {
    const error = settled.error;
    if (error instanceof errors.SandboxProcsError) {
      if (error.provider !== scenario.provider || error.operation !== scenario.operation) {
        problems.push(`error names ${error.provider} ${error.operation}, expected ${scenario.provider} ${scenario.operation}`);
      }
      if (exchange && error.status !== exchange.status) problems.push(`error.status is ${error.status}, the response was ${exchange.status}`);
    }
    const rendered = [String(error), inspect(error, { depth: 5 }), JSON.stringify(error) ?? ''].join('\n');
    if (rendered.includes(apiKey)) problems.push('the API key appears in the error');
  }

  return { scenario, label, passed: problems.length === 0, status: exchange?.status, outcome, problems, ms };
}

export async function runScenarios(scenarios: readonly Scenario[], target: Target, options: RunOptions = {}): Promise<ScenarioResult[]> {
  // On a mock, a fresh key per run: any place it shows up later is a leak we can find.
  const randomKey = `sp-test-${randomUUID()}`;
  const keyFor = (provider: ProviderName) => target.apiKeys?.[provider] ?? randomKey;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const validators = new Map<ProviderName, SpecValidator>();
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of runnableOn(target, scenarios)) {
      let validator = validators.get(scenario.provider);
      if (!validator) {
        validator = new SpecValidator(scenario.provider);
        validators.set(scenario.provider, validator);
      }
      const result = await runScenario(scenario, target, validator, keyFor(scenario.provider), timeoutMs);
      options.onResult?.(result);
      results.push(result);
    }
  } finally {
    if (target.kind === 'stateful') {
      for (const provider of validators.keys()) {
        const contract = contracts[provider];
        const client = contract.createClient({ apiKey: keyFor(provider), baseUrl: target.baseUrls[provider]!, fetch: (r) => fetch(r), timeoutMs });
        await contract.cleanup(client).catch(() => undefined);
      }
    }
  }
  return results;
}

export interface RunningTarget {
  target: Target;
  stop(): Promise<void>;
}

/** Prism mocks of our own specs, one per provider, started in parallel. */
export async function startPrismTarget(selected: readonly ProviderName[]): Promise<RunningTarget> {
  const started = await Promise.allSettled(selected.map((provider) => startPrism(specPath(provider))));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((server: PrismServer) => server.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const baseUrls = Object.fromEntries(selected.map((provider, i) => [provider, servers[i]!.baseUrl]));
  return {
    target: {
      name: 'prism',
      kind: 'mock',
      baseUrls,
      headersFor: (scenario) => ({ Prefer: `code=${scenario.status}` }),
    },
    stop,
  };
}

/** Local emulators of the providers' APIs over real processes, started in parallel. */
export async function startEmulatorTarget(selected: readonly ProviderName[]): Promise<RunningTarget> {
  const started = await Promise.allSettled(selected.map((provider) => startEmulator(provider)));
  const emulators = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(emulators.map((emulator) => emulator.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    target: {
      name: 'emulator',
      kind: 'stateful',
      baseUrls: Object.fromEntries(emulators.map((e) => [e.provider, e.baseUrl])),
      apiKeys: Object.fromEntries(emulators.map((e) => [e.provider, e.token])),
    },
    stop,
  };
}
