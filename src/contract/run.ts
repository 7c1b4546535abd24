// Runs contract scenarios against a target (Prism mocks, the emulators, a live
// provider) and checks, per scenario: the status, the typed client's outcome, and
// the raw response against the spec (findings, breaking or warning).
import { redactText } from '../core/redact.js';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import * as errors from '../errors.js';
import type { ProviderName } from '../errors.js';
import { startEmulator } from '../emulator/index.js';
import { startPrism, type PrismServer } from '../prism.js';
import { loadSpec, specPath, type SpecName } from '../specs.js';
import { scenarioLabel, type ControlPlaneContract, type Scenario } from './scenario.js';
import { contracts, controlContracts } from './scenarios.js';
import { SpecValidator, type Finding, type ObservedResponse } from './validate.js';
import { guardedFetch } from '../core/guarded-fetch.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../core/options.js';
import { timerDelay } from '../core/sleep.js';
import { runChannelScenario } from './channel-run.js';
import { CheckStopped, createBound, cutShort, finish, observed, release, tap, type Bound, type Recording } from './record.js';

export interface Target {
  readonly name: string;
  /**
   * `mock`: stateless, answers any declared status on request (Prism).
   * `stateful`: a real implementation; scenarios need fixtures, and mock-only ones are skipped.
   */
  readonly kind: 'mock' | 'stateful';
  readonly baseUrls: Partial<Record<ProviderName, string>>;
  /** Where each provider's control plane is, if the target serves one; it takes the same key as `apiKeys`. */
  readonly controlBaseUrls?: Partial<Record<ProviderName, string>>;
  /** The credentials each provider accepts; a mock takes any (a fresh random key is used). */
  readonly apiKeys?: Partial<Record<ProviderName, string>>;
  /** Extra request headers for a scenario (Prism: which declared response to serve). */
  headersFor?(scenario: Scenario): Record<string, string>;
  /** Headers every request to a process API carries, fixtures and cleanup included (a sandbox proxy's routing header). */
  readonly headers?: Record<string, string>;
}

/** The scenarios a target can run: all of them on a mock, the reachable ones on a stateful target; control-plane ones where it serves a control plane. */
export function runnableOn(target: Pick<Target, 'kind' | 'controlBaseUrls'>, scenarios: readonly Scenario[]): Scenario[] {
  return scenarios.filter((scenario) => (target.kind === 'mock' || scenario.only !== 'mock') && (scenario.api !== 'control' || target.controlBaseUrls?.[scenario.provider] !== undefined));
}

export interface ScenarioResult {
  scenario: Scenario;
  label: string;
  passed: boolean;
  /** The status the provider answered, when it answered. */
  status: number | undefined;
  /** The request that went out (evidence for a report): its method, URL and headers, the key redacted. */
  request: RequestEvidence | undefined;
  /** What came with that status: its content type and the start of its body (evidence for a report). */
  response: { contentType: string | null; bodyExcerpt: string } | undefined;
  /** What the typed client produced: `result`, the error class name, or `raw` for a raw probe. */
  outcome: string;
  /** How the response departs from the spec (schema, status, content type). */
  findings: Finding[];
  /** Every breaking problem, findings and client-side ones alike; empty when passed. */
  problems: string[];
  /** What departs from the spec without breaking a client built on it. */
  warnings: string[];
  ms: number;
  /** Why the scenario did not run on this target (a channel on a mock): said in every report, never dropped. */
  skipped?: string;
  /** A channel scenario's server messages, their bytes, and what of them the check kept. */
  channel?: { messages: number; bytes: number; keptBytes: number };
}

export interface RequestEvidence {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** How much of a response body a result keeps as evidence. */
const RESPONSE_EXCERPT_CHARS = 2_048;

export interface RunOptions {
  /** Called as each scenario finishes (progress). */
  onResult?(result: ScenarioResult): void;
  /** Per request: headers and body (a stream: its headers, and its longest silence). Default 10 000 ms. */
  timeoutMs?: number;
  /** The most of a response body that is read and kept, as the client's own cap. Default 16 MiB. */
  maxResponseBytes?: number;
}

/**
 * The wall-clock bounds of one check: its request (with the stream it may open)
 * gets timeoutMs and up to 1 s more, so that the client's own TimeoutError comes
 * first when it applies; making its fixture gets 3 x timeoutMs, at least 15 s.
 */
export function checkBounds(timeoutMs: number): { requestMs: number; fixtureMs: number } {
  return { requestMs: timerDelay(timeoutMs + Math.min(timeoutMs, 1_000)), fixtureMs: timerDelay(Math.max(3 * timeoutMs, 15_000)) };
}

function outcomeOf(value: { ok: true } | { ok: false; error: unknown }): string {
  if (value.ok) return 'result';
  return value.error instanceof Error ? value.error.constructor.name : typeof value.error;
}

function methodOf(provider: ProviderName, operation: string): string {
  for (const item of Object.values(loadSpec(provider).paths)) {
    for (const [method, op] of Object.entries(item)) {
      if ((op as { operationId?: string })?.operationId === operation) return method;
    }
  }
  throw new Error(`${provider}: no operation ${operation} in the spec`);
}

export { methodOf as operationMethod };

interface RunState {
  target: Target;
  validator: SpecValidator;
  apiKey: string;
  timeoutMs: number;
  maxBytes: number;
  /** Ids of processes (on a control plane: sandboxes) the run started, to stop at the end. */
  started: Set<string>;
  /** Set when the state is that of a provider's control plane. */
  control?: ControlPlaneContract;
}

/** The raw path with its `{name}` placeholders filled from the input. */
function fillPath(path: string, input: Readonly<Record<string, unknown>>): string {
  return path.replace(/\{(\w+)\}/g, (whole, name: string) => (input[name] === undefined ? whole : encodeURIComponent(String(input[name]))));
}

async function runScenario(scenario: Scenario, state: RunState): Promise<ScenarioResult> {
  const { target, validator, apiKey, timeoutMs, maxBytes } = state;
  const bounds = checkBounds(timeoutMs);
  // The clients of a check: the same byte cap as the recorder, and a stream may stay silent no longer than a request may take.
  const routing = state.control ? {} : (target.headers ?? {});
  const clientOptions = { apiKey, baseUrl: target.baseUrls[scenario.provider]!, timeoutMs, streamIdleTimeoutMs: timeoutMs, maxResponseBytes: maxBytes, headers: routing };
  const within = (bound: Bound) => (request: Request, init?: RequestInit) => fetch(request, { ...init, signal: AbortSignal.any([request.signal, bound.signal]) });
  const contract = contracts[scenario.provider];
  const { control } = state;
  const baseUrl = control ? target.controlBaseUrls?.[scenario.provider] : target.baseUrls[scenario.provider];
  const label = scenarioLabel(scenario);
  if (!baseUrl) throw new Error(`target ${target.name} has no base URL for ${scenario.provider}`);
  const failed = (problem: string): ScenarioResult => ({ scenario, label, passed: false, status: undefined, request: undefined, response: undefined, outcome: 'not run', findings: [], problems: [problem], warnings: [], ms: 0 });

  let input = scenario.input;
  if (control && scenario.fixture) {
    const make = control.fixtures[scenario.fixture];
    if (!make) return failed(`${scenario.provider}'s control plane has no "${scenario.fixture}" fixture`);
    try {
      const made = await make(baseUrl, apiKey);
      control.startedIds('fixture', made).forEach((id) => state.started.add(id));
      input = { ...input, ...made };
    } catch (error) {
      return failed(`could not make the "${scenario.fixture}" fixture: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if (target.kind === 'stateful' && scenario.fixture) {
    const make = contract.fixtures[scenario.fixture];
    if (!make) return failed(`${scenario.provider} has no "${scenario.fixture}" fixture`);
    // Fixtures are made by a client of their own, so that only the scenario's request is recorded.
    const fixtureBound = createBound(bounds.fixtureMs, `not made within ${bounds.fixtureMs} ms`);
    const setup = contract.createClient({ ...clientOptions, fetch: within(fixtureBound) });
    try {
      input = { ...input, ...(await fixtureBound.run(make(setup))) };
      const id = contract.idOf(input);
      if (id !== undefined && scenario.fixture !== 'unknown') state.started.add(id);
    } catch (error) {
      return failed(`could not make the "${scenario.fixture}" fixture: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      fixtureBound.end();
    }
  }

  const recordings: Recording[] = [];
  const requests: RequestEvidence[] = [];
  const extraHeaders = { ...routing, ...target.headersFor?.(scenario) };
  const bound = createBound(bounds.requestMs, `no complete answer within ${bounds.requestMs} ms; the check stopped waiting`);
  const streams = !scenario.raw && validator.streams(scenario.operation);
  const authNames = control ? Object.keys(control.authHeaders('')) : ['authorization'];
  // A real fetch that records what went over the wire, independently of the client: the status
  // and content type, and at most maxBytes of the body, as the client reads it.
  const recordingFetch = async (request: Request): Promise<Response> => {
    const outgoing = new Request(request, { signal: AbortSignal.any([request.signal, bound.signal]) });
    for (const [name, value] of Object.entries(extraHeaders)) outgoing.headers.set(name, value);
    if (scenario.credentials === 'missing') for (const name of authNames) outgoing.headers.delete(name);
    // Redacted as it is kept: the Authorization header carries the key itself.
    const headers: Record<string, string> = {};
    outgoing.headers.forEach((value, name) => (headers[name] = redactText(value, apiKey)));
    requests.push({ method: outgoing.method, url: redactText(outgoing.url, apiKey), headers });
    // A text body past the cap fails in the client (BODY_TOO_LARGE, the finding); a stream has no cap there, so the check stops it.
    const { response, recording } = tap(
      await fetch(outgoing),
      maxBytes,
      () => {
        if (streams) bound.stop(`the event stream went past ${maxBytes} bytes without ending; the check stopped reading it`);
      },
      outgoing.signal,
    );
    recordings.push(recording);
    return response;
  };

  const started = performance.now();
  let settled: { ok: true } | { ok: false; error: unknown };
  try {
    try {
      await bound.run(
        (async () => {
          if (scenario.raw) {
            const raw = { ...scenario.raw, path: fillPath(scenario.raw.path, input) };
            await sendRaw({ ...scenario, raw }, `${baseUrl}`, apiKey, recordingFetch, timeoutMs, control?.authHeaders(apiKey));
          }
          else {
            // No retries: the contract is about what one request gets.
            const client = contract.createClient({ ...clientOptions, fetch: recordingFetch, retry: { maxRetries: 0 } });
            await contract.invoke(client, scenario.operation, input);
          }
        })(),
      );
      settled = { ok: true };
    } catch (error) {
      settled = { ok: false, error };
    }
    // What the client left unread (a raw probe's body, a body it never opened) is read now, up to the cap, within the same bound.
    await bound.run(Promise.all(recordings.map(finish))).catch((error: unknown) => {
      if (settled.ok) settled = { ok: false, error };
    });
  } finally {
    bound.end();
    recordings.forEach(release);
  }
  const ms = performance.now() - started;

  const problems: string[] = [];
  const exchanges: ObservedResponse[] = recordings.map(observed);
  const exchange = exchanges[0];
  if (settled.ok === false && settled.error instanceof CheckStopped) problems.push(settled.error.message);
  if (exchanges.length !== 1) problems.push(`expected exactly one request, the client sent ${exchanges.length}`);
  // A client check's own error says why its body was cut (BODY_TOO_LARGE, a reset); a raw probe has no client to say it.
  const cut = recordings[0] && cutShort(recordings[0], maxBytes);
  if (scenario.raw && cut && !(settled.ok === false && settled.error instanceof CheckStopped)) problems.push(cut);
  if (exchange && exchange.status !== scenario.status) problems.push(`expected status ${scenario.status}, got ${exchange.status}`);
  const findings = exchange ? validator.check(scenario.operation, exchange) : [];
  problems.push(...findings.filter((f) => f.severity === 'breaking').map((f) => f.message));
  const warnings = findings.filter((f) => f.severity === 'warning').map((f) => f.message);
  if (exchange && exchange.complete !== false && exchange.status < 300 && target.kind === 'stateful') {
    try {
      for (const id of (control ?? contract).startedIds(scenario.operation, JSON.parse(exchange.bodyText))) state.started.add(id);
    } catch {
      // not JSON (a stream): it starts nothing that outlives it
    }
  }

  const stopped = !settled.ok && settled.error instanceof CheckStopped;
  const outcome = stopped ? 'stopped' : scenario.raw ? (settled.ok ? 'raw' : outcomeOf(settled)) : outcomeOf(settled);
  if (!scenario.raw && !stopped && outcome !== scenario.expect) {
    const detail = settled.ok ? '' : `: ${settled.error instanceof Error ? settled.error.message : String(settled.error)}`;
    problems.push(`expected ${scenario.expect}, the client gave ${outcome}${detail}`);
  }
  if (scenario.raw && !settled.ok && !stopped) problems.push(`the raw request failed: ${String(settled.error)}`);
  if (!settled.ok && !stopped) {
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

  // A copy, not a slice: a slice keeps the whole body (up to the cap) alive as long as the result.
  // Redacted before it is cut: a cut could leave part of an echoed key where redaction cannot find it whole.
  const response = exchange && { contentType: exchange.contentType, bodyExcerpt: copyOf(redactText(exchange.bodyText.slice(0, RESPONSE_EXCERPT_CHARS * 4), apiKey).slice(0, RESPONSE_EXCERPT_CHARS)) };
  return { scenario, label, passed: problems.length === 0, status: exchange?.status, request: requests[0], response, outcome, findings, problems, warnings, ms };
}

/** A string of its own: V8 keeps the parent of a slice alive with it. */
function copyOf(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/**
 * A raw probe: sent as is, bypassing the typed client, but through the same
 * guarded fetch (redirects by the Fetch standard's rules, Authorization kept to
 * its origin). Its body is left to the recorder.
 */
export async function sendRaw(
  scenario: Pick<Scenario, 'provider' | 'operation' | 'raw'>,
  baseUrl: string,
  apiKey: string,
  send: (request: Request) => Promise<Response>,
  timeoutMs: number,
  authHeaders: Record<string, string> = { Authorization: `Bearer ${apiKey}` },
): Promise<Response> {
  const { method, path, body, bodyText, contentType } = scenario.raw!;
  const text = bodyText ?? (body === undefined ? undefined : JSON.stringify(body));
  const headers: Record<string, string> = { ...authHeaders };
  if (text !== undefined) headers['content-type'] = contentType ?? 'application/json';
  const guarded = guardedFetch({ provider: scenario.provider, operation: scenario.operation, fetch: send, maxBytes: undefined, emptyStatuses: new Set() });
  return guarded(
    new Request(`${baseUrl}${path}`, { method, headers, ...(text === undefined ? {} : { body: text }), redirect: 'manual', signal: AbortSignal.timeout(timerDelay(timeoutMs)) }),
  );
}

export async function runScenarios(scenarios: readonly Scenario[], target: Target, options: RunOptions = {}): Promise<ScenarioResult[]> {
  // On a mock, a fresh key per run: any place it shows up later is a leak we can find.
  const randomKey = `sp-test-${randomUUID()}`;
  const keyFor = (provider: ProviderName) => target.apiKeys?.[provider] ?? randomKey;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  // One state per spec: a provider's process API, and its control plane apart.
  const states = new Map<SpecName, RunState>();
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of runnableOn(target, scenarios)) {
      const control = scenario.api === 'control' ? controlContracts[scenario.provider] : undefined;
      if (scenario.api === 'control' && !control) throw new Error(`${scenario.provider} has no control-plane contract`);
      const spec: SpecName = control ? `${scenario.provider}-control` : scenario.provider;
      let state = states.get(spec);
      if (!state) {
        const validator = new SpecValidator(scenario.provider, loadSpec(spec));
        state = { target, validator, apiKey: keyFor(scenario.provider), timeoutMs, maxBytes, started: new Set(), ...(control ? { control } : {}) };
        states.set(spec, state);
      }
      const result = scenario.channel
        ? await runChannelScenario(scenario, { target, apiKey: state.apiKey, timeoutMs, maxBytes, spec: state.validator, bounds: checkBounds(timeoutMs) })
        : await runScenario(scenario, state);
      options.onResult?.(result);
      results.push(result);
    }
  } finally {
    // Stop what this run started, and nothing else: a live sandbox may hold the user's own processes.
    for (const state of states.values()) {
      if (state.started.size === 0) continue;
      const provider = (state.control ?? state.validator).provider;
      if (state.control) {
        await state.control.cleanup(target.controlBaseUrls![provider]!, state.apiKey, [...state.started]).catch(() => undefined);
        continue;
      }
      const contract = contracts[provider];
      const client = contract.createClient({ apiKey: state.apiKey, baseUrl: target.baseUrls[provider]!, fetch: (r) => fetch(r), timeoutMs, headers: target.headers ?? {} });
      await contract.cleanup(client, [...state.started]).catch(() => undefined);
    }
  }
  return results;
}

export interface RunningTarget {
  target: Target;
  stop(): Promise<void>;
}

async function startAll<T>(starts: Array<Promise<T>>, stopOne: (started: T) => Promise<void>): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map(stopOne));
    throw failed.reason;
  }
  return started;
}

/** Prism mocks of our own specs, one per provider, started in parallel. */
export async function startPrismTarget(selected: readonly ProviderName[]): Promise<RunningTarget> {
  const servers = await startAll(selected.map((provider) => startPrism(specPath(provider))), (s: PrismServer) => s.stop());
  return {
    target: {
      name: 'prism',
      kind: 'mock',
      baseUrls: Object.fromEntries(selected.map((provider, i) => [provider, servers[i]!.baseUrl])),
      headersFor: (scenario) => ({ Prefer: `code=${scenario.status}` }),
    },
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/**
 * Local emulators of the providers' APIs over real processes, started in
 * parallel, and the control plane of each provider that has a control-plane
 * contract, taking the same key as its process-API emulator.
 */
export async function startEmulatorTarget(selected: readonly ProviderName[]): Promise<RunningTarget> {
  const emulators = await startAll(selected.map((provider) => startEmulator(provider)), (e) => e.stop());
  let controlPlanes: Awaited<ReturnType<typeof startEmulator>>[];
  try {
    const withControl = emulators.filter((e) => controlContracts[e.provider] !== undefined);
    controlPlanes = await startAll(withControl.map((e) => startEmulator(e.provider, { controlPlane: true, token: e.token })), (c) => c.stop());
  } catch (error) {
    await Promise.all(emulators.map((emulator) => emulator.stop()));
    throw error;
  }
  return {
    target: {
      name: 'emulator',
      kind: 'stateful',
      baseUrls: Object.fromEntries(emulators.map((e) => [e.provider, e.baseUrl])),
      controlBaseUrls: Object.fromEntries(controlPlanes.map((c) => [c.provider, c.baseUrl])),
      apiKeys: Object.fromEntries(emulators.map((e) => [e.provider, e.token])),
    },
    stop: async () => {
      await Promise.all([...emulators, ...controlPlanes].map((running) => running.stop()));
    },
  };
}
