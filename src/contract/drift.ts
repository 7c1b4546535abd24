// The drift check: the contract scenarios that are safe against a live sandbox,
// run through the typed client, every response checked against the spec. It
// changes nothing unless mutations are allowed, and then stops only what it started.
import { AuthenticationError, NetworkError, SandboxProcsError, TimeoutError, ValidationError, type ProviderName } from '../errors.js';
import { isHarmless, type KillFormName, type Scenario } from './scenario.js';
import { createBound } from './record.js';
import { checkBounds, operationMethod, runnableOn, runScenarios, type RequestEvidence, type ScenarioResult, type Target } from './run.js';
import { contracts, scenariosFor } from './scenarios.js';
import { describeAnswer, probeRouter, routeEvidence, type Answer } from './routes.js';
import type { Finding } from './validate.js';
import { loadSpec } from '../specs.js';

export const DRIFT_REPORT_VERSION = 2;

export interface DriftOptions {
  provider: ProviderName;
  baseUrl: string;
  token: string;
  /** Also start, signal and kill processes (of its own; it stops them all at the end). */
  allowMutations?: boolean;
  /** Per request. Default 10 000 ms. */
  timeoutMs?: number;
  /** Headers every request carries: the routing header of a sandbox proxy, when the sandbox is reached through one. */
  headers?: Record<string, string>;
  onCheck?(check: DriftCheck): void;
  /** The tool's version, for the report. */
  toolVersion: string;
}

export type CheckOutcome = 'pass' | 'warning' | 'drift';

export interface DriftCheck {
  id: string;
  operation: string;
  case: string;
  expectedStatus: number | null;
  status: number | null;
  outcome: CheckOutcome;
  findings: Array<Pick<Finding, 'severity' | 'message'> & { kind: string }>;
  durationMs: number;
  /** With findings only: the request that was sent (its key redacted)... */
  request?: RequestEvidence;
  /** ...and what came back: the start of the body, at most 2 048 characters. */
  response?: { status: number; contentType: string | null; bodyExcerpt: string };
}

/**
 * Whether an agent serves one of HopX's kill forms, judged from evidence, never guessed:
 * - `accepted`: it answered with the operation's own declared schema (for an unknown
 *   id: the provider's error body, unlike its router's 404);
 * - `accepted-with-drift`: it works, but its body departs from the spec;
 * - `missing-route`: the answer is the router's (405, HTML or text, or a 404 shaped
 *   like the one for a path no one serves);
 * - `rejected`: the route is there, but its handler refuses this form (e.g. a 400);
 * - `unknown`: the evidence cannot tell (read-only, and the router's 404 looks
 *   like the handler's).
 */
export type KillFormVerdict = 'accepted' | 'accepted-with-drift' | 'missing-route' | 'rejected' | 'unknown';

export interface KillFormFinding {
  verdict: KillFormVerdict;
  /** What the verdict rests on: the requests and their answers. */
  evidence: string;
}

export interface DriftReport {
  version: typeof DRIFT_REPORT_VERSION;
  tool: 'sandbox-procs';
  toolVersion: string;
  provider: ProviderName;
  baseUrl: string;
  mutations: boolean;
  startedAt: string;
  durationMs: number;
  summary: { checks: number; passed: number; drift: number; warnings: number };
  /** Where the provider has several kill forms (HopX: body, query, path): which of them the server accepts, with the evidence. */
  killForms?: Record<KillFormName, KillFormFinding>;
  checks: DriftCheck[];
  /** With `--api-key-env`: the sandbox that was checked, and whether the check deleted it. */
  sandbox?: DriftSandboxUsed;
}

/** The sandbox a check ran against when it was given the provider's API key instead of a sandbox's URL. */
export interface DriftSandboxUsed {
  /** Its ID at the provider. */
  id: string;
  /** The control plane that created or described it. */
  controlPlane: string;
  /** True when the check created it (a throwaway sandbox); false for one named with `--sandbox`. */
  created: boolean;
  /** True once it is deleted; a sandbox named with `--sandbox` is never deleted. */
  deleted: boolean;
}

/** The check could not run at all (bad input, unreachable host, TLS, refused token): exit 2. */
export class DriftCannotRunError extends Error {}

function answerOf(result: ScenarioResult): Answer | undefined {
  return result.status === undefined || !result.response ? undefined : { status: result.status, contentType: result.response.contentType, body: result.response.bodyExcerpt };
}

const isProviderError = (body: unknown) => typeof (body as { error?: unknown }).error === 'string';

/**
 * One finding per root cause: a missing route, a 401 of another shape, or a status
 * other than the expected one is said once, not as the symptoms that follow from it
 * (a content type, the client's error class).
 */
function rootCause(result: ScenarioResult, router: Answer | undefined): DriftCheck['findings'] | undefined {
  const answer = answerOf(result);
  if (!answer || result.passed) return undefined;
  const expected = result.scenario.status;
  if (routeEvidence(answer, router, isProviderError) === 'router') {
    return [{ severity: 'breaking', kind: 'missing-route', message: `no route serves this operation: the server's router answered ${describeAnswer(answer)}` }];
  }
  if (answer.status === 401 && expected === 401) {
    // The credentials were refused, as they must be; what drifts is only how (a provider whose own spec declares no 401).
    return [{ severity: 'breaking', kind: 'unauthorized-body', message: `the 401 is not the declared error body: ${describeAnswer(answer)}` }];
  }
  if (answer.status !== expected) {
    // What the body breaks under its own status still counts; the client's outcome only follows from the status.
    const findings: DriftCheck['findings'] = result.findings.map(({ severity, kind, message }) => ({ severity, kind, message }));
    if (!findings.some((f) => f.kind === 'undeclared-status' || f.kind === 'upgrade-refused')) {
      findings.unshift({ severity: 'breaking', kind: 'unexpected-status', message: `expected status ${expected}, got ${describeAnswer(answer)}` });
    }
    return findings;
  }
  return undefined;
}

/** Operations the provider has proposed but not deployed (the spec's `x-status: proposed ...`), e.g. a new kill form. */
function proposedOperations(provider: ProviderName): ReadonlySet<string> {
  const paths = loadSpec(provider).paths as Record<string, Record<string, { operationId?: string; 'x-status'?: string }>>;
  return new Set(
    Object.values(paths).flatMap((item) => Object.values(item).flatMap((op) => (typeof op?.['x-status'] === 'string' && op['x-status'].startsWith('proposed') && op.operationId ? [op.operationId] : []))),
  );
}

function toCheck(result: ScenarioResult, router?: Answer, proposed: ReadonlySet<string> = new Set()): DriftCheck {
  const { scenario } = result;
  let collapsed = rootCause(result, router);
  // A proposed operation that is not deployed yet is news, not drift: the day it is routed, its checks pass or drift as any other's.
  const notYetDeployed = collapsed?.[0]?.kind === 'missing-route' && proposed.has(scenario.operation);
  if (notYetDeployed) collapsed = collapsed!.map((f) => ({ ...f, severity: 'warning' as const, message: `${f.message} (a proposed operation, not deployed yet)` }));
  const findings: DriftCheck['findings'] = collapsed ?? result.findings.map(({ severity, kind, message }) => ({ severity, kind, message }));
  // Problems the spec validator does not see (a wrong status, the client's outcome) are drift too.
  const seen = new Set(findings.map((f) => f.message));
  if (!collapsed) for (const problem of result.problems) if (!seen.has(problem)) findings.push({ severity: 'breaking', kind: 'contract', message: problem });
  const outcome: CheckOutcome = notYetDeployed ? 'warning' : !result.passed ? 'drift' : result.warnings.length > 0 ? 'warning' : 'pass';
  const label = result.label || 'default';
  // The evidence goes with a finding, so that a report shows what was asked and answered; a pass needs none.
  const evidence = findings.length === 0 ? {} : { ...(result.request && { request: result.request }), ...(result.status !== undefined && result.response && { response: { status: result.status, ...result.response } }) };
  return {
    id: `${scenario.provider}.${scenario.operation}.${scenario.status}.${label.replace(/\s+/g, '-')}`,
    operation: scenario.operation,
    case: label,
    expectedStatus: scenario.status,
    status: result.status ?? null,
    outcome,
    findings,
    durationMs: Math.round(result.ms * 10) / 10,
    ...evidence,
  };
}

function verdictsForKillForms(results: readonly ScenarioResult[], router: Answer | undefined, forms: readonly KillFormName[]): DriftReport['killForms'] {
  const routerSays = router ? `; a path no one serves gets ${describeAnswer(router)}` : '; the router probe got no answer';
  const judge = (form: string): KillFormFinding => {
    // 401s say nothing about the form: the agent refuses before routing.
    const relevant = results.filter((r) => r.scenario.input.form === form && !r.scenario.raw && r.scenario.status !== 401 && answerOf(r));
    // A live process killed says the most; an unknown id is all a read-only run has.
    const decisive = relevant.find((r) => r.scenario.fixture === 'running') ?? relevant.find((r) => r.scenario.status === 404);
    if (!decisive) return { verdict: 'unknown', evidence: 'no request of this form got an answer' };
    const answer = answerOf(decisive)!;
    const what = `${decisive.scenario.fixture === 'running' ? 'killing a running process' : 'killing an unknown id'}: ${describeAnswer(answer)}`;
    const evidence = `${what}${routerSays}`;
    const route = routeEvidence(answer, router, isProviderError);
    if (route === 'router') return { verdict: 'missing-route', evidence };
    if (route === 'ambiguous') {
      // A process that runs cannot be "not found": there, the router's shape means the route is missing.
      if (decisive.scenario.fixture === 'running') return { verdict: 'missing-route', evidence: `${evidence} (a running process cannot be missing)` };
      return { verdict: 'unknown', evidence: `${evidence} (the same shape: a read-only run cannot tell a missing route from a missing process)` };
    }
    const works = answer.status === decisive.scenario.status;
    if (!works) return { verdict: answer.status >= 400 && answer.status < 500 ? 'rejected' : 'accepted-with-drift', evidence };
    return { verdict: decisive.passed ? 'accepted' : 'accepted-with-drift', evidence };
  };
  return Object.fromEntries(forms.map((form) => [form, judge(form)])) as DriftReport['killForms'];
}

function cannotRun(error: unknown, baseUrl: string): DriftCannotRunError {
  if (error instanceof ValidationError) return new DriftCannotRunError(error.message);
  if (error instanceof TimeoutError) return new DriftCannotRunError(`${baseUrl} did not answer in time (${error.message})`);
  // With a status, the server answered and then the connection broke: it was reached.
  if (error instanceof NetworkError && error.status !== undefined) {
    return new DriftCannotRunError(`${baseUrl} answered (status ${error.status}) but the connection was reset before the body ended (${error.message})`);
  }
  if (error instanceof NetworkError) return new DriftCannotRunError(`cannot reach ${baseUrl}: ${error.message}`);
  if (error instanceof AuthenticationError) return new DriftCannotRunError(`${baseUrl} refused the token (${error.status}): check the token's variable and its expiry`);
  return new DriftCannotRunError(String(error));
}

/** The lifecycle's steps, each a check (its case) of the operation `lifecycle`. */
export const LIFECYCLE_STEPS = ['start', 'listed', 'signal', 'kill', 'gone'] as const;

/** The lifecycle run with --allow-mutations: start sleep, list, signal, kill, confirm gone. */
async function lifecycle(options: DriftOptions, timeoutMs: number): Promise<DriftCheck[]> {
  const contract = contracts[options.provider];
  const processes = contract.neutral(contract.createClient({ apiKey: options.token, baseUrl: options.baseUrl, fetch: (r) => fetch(r), timeoutMs, headers: options.headers ?? {} }));
  const checks: DriftCheck[] = [];
  const step = async (name: (typeof LIFECYCLE_STEPS)[number], run: () => Promise<string | undefined>) => {
    const started = performance.now();
    let problem: string | undefined;
    // Every check has a wall-clock bound: a step's calls have their own time limits and retries, this caps them all.
    const bound = createBound(checkBounds(timeoutMs).fixtureMs, `${name} did not finish within ${checkBounds(timeoutMs).fixtureMs} ms`);
    try {
      problem = await bound.run(run());
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    } finally {
      bound.end();
    }
    checks.push({
      id: `${options.provider}.lifecycle.${name}`,
      operation: 'lifecycle',
      case: name,
      expectedStatus: null,
      status: null,
      outcome: problem ? 'drift' : 'pass',
      findings: problem ? [{ severity: 'breaking', kind: 'lifecycle', message: problem }] : [],
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
    return problem === undefined;
  };
  let id: string | undefined;
  try {
    if (!(await step('start', async () => ((id = (await processes.start({ command: 'sleep', args: ['300'] })).id) ? undefined : 'no id')))) return checks;
    await step('listed', async () => ((await processes.list()).some((p) => p.id === id && p.running) ? undefined : `process ${id} is not listed as running`));
    // SIGCONT: a real, valid signal that leaves a running sleep as it is.
    if (processes.capabilities.signals) await step('signal', async () => (await processes.signal(id!, 18), undefined));
    await step('kill', async () => ((await processes.kill(id!)) ? undefined : 'kill said the process was already gone'));
    await step('gone', async () => {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const record = await processes.get(id!);
        if (!record?.running) return undefined;
        if (Date.now() > deadline) return `process ${id} still running 5 s after kill`;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  } finally {
    if (id !== undefined) await processes.kill(id).catch(() => undefined);
  }
  return checks;
}

export async function runDrift(options: DriftOptions): Promise<DriftReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { provider, baseUrl, token } = options;
  const contract = contracts[provider];

  let client: unknown;
  try {
    client = contract.createClient({ apiKey: token, baseUrl, fetch: (r) => fetch(r), timeoutMs, headers: options.headers ?? {} });
    await contract.preflight(client);
  } catch (error) {
    // Anything but "cannot reach" or "refused" is a finding for the checks below, not a reason to stop.
    if (!(error instanceof SandboxProcsError) || error instanceof ValidationError || error instanceof NetworkError || error instanceof TimeoutError || error instanceof AuthenticationError) {
      throw cannotRun(error, baseUrl);
    }
  }

  const target: Target = {
    name: 'live',
    kind: 'stateful',
    baseUrls: { [provider]: baseUrl },
    apiKeys: { [provider]: token },
    ...(options.headers && { headers: options.headers }),
    // Real servers ignore this preference; a Prism mock honours it, so the same check runs against one.
    headersFor: (scenario: Scenario) => ({ Prefer: `code=${scenario.status}` }),
  };
  const scenarios = runnableOn(target, scenariosFor([provider])).filter(
    (scenario) => scenario.only !== 'local' && (options.allowMutations || isHarmless(scenario, scenario.channel ? 'get' : operationMethod(provider, scenario.operation))),
  );
  // The router's answer to a path no one serves: what a missing route looks like on this server.
  const router = await probeRouter(baseUrl, token, timeoutMs, options.headers);
  const proposed = proposedOperations(provider);
  const results = await runScenarios(scenarios, target, { timeoutMs, onResult: (r) => options.onCheck?.(toCheck(r, router, proposed)) });
  const checks = results.map((r) => toCheck(r, router, proposed));
  if (options.allowMutations) {
    for (const check of await lifecycle(options, timeoutMs)) {
      options.onCheck?.(check);
      checks.push(check);
    }
  }

  const count = (outcome: CheckOutcome) => checks.filter((c) => c.outcome === outcome).length;
  return {
    version: DRIFT_REPORT_VERSION,
    tool: 'sandbox-procs',
    toolVersion: options.toolVersion,
    provider,
    baseUrl,
    mutations: Boolean(options.allowMutations),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    summary: { checks: checks.length, passed: count('pass'), drift: count('drift'), warnings: count('warning') },
    ...(contract.killForms ? { killForms: verdictsForKillForms(results, router, contract.killForms) } : {}),
    checks,
  };
}
