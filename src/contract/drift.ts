// The drift check: the contract scenarios that are safe against a live sandbox,
// run through the typed client, every response checked against the spec. It
// changes nothing unless mutations are allowed, and then stops only what it started.
import { AuthenticationError, NetworkError, SandboxProcsError, TimeoutError, ValidationError, type ProviderName } from '../errors.js';
import { isHarmless, type Scenario } from './scenario.js';
import { operationMethod, runnableOn, runScenarios, type ScenarioResult, type Target } from './run.js';
import { contracts, scenariosFor } from './scenarios.js';
import type { Finding } from './validate.js';

export const DRIFT_REPORT_VERSION = 1;

export interface DriftOptions {
  provider: ProviderName;
  baseUrl: string;
  token: string;
  /** Also start, signal and kill processes (of its own; it stops them all at the end). */
  allowMutations?: boolean;
  /** Per request. Default 10 000 ms. */
  timeoutMs?: number;
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
}

export type KillFormVerdict = 'accepted' | 'rejected' | 'untested';

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
  /** HopX only: which of the three kill forms the agent accepts. */
  killForms?: Record<'body' | 'query' | 'path', KillFormVerdict>;
  checks: DriftCheck[];
}

/** The check could not run at all (bad input, unreachable host, TLS, refused token): exit 2. */
export class DriftCannotRunError extends Error {}

function toCheck(result: ScenarioResult): DriftCheck {
  const { scenario } = result;
  const findings: DriftCheck['findings'] = result.findings.map(({ severity, kind, message }) => ({ severity, kind, message }));
  // Problems the spec validator does not see (a wrong status, the client's outcome) are drift too.
  const seen = new Set(findings.map((f) => f.message));
  for (const problem of result.problems) if (!seen.has(problem)) findings.push({ severity: 'breaking', kind: 'contract', message: problem });
  const outcome: CheckOutcome = !result.passed ? 'drift' : result.warnings.length > 0 ? 'warning' : 'pass';
  const label = result.label || 'default';
  return {
    id: `${scenario.provider}.${scenario.operation}.${scenario.status}.${label.replace(/\s+/g, '-')}`,
    operation: scenario.operation,
    case: label,
    expectedStatus: scenario.status,
    status: result.status ?? null,
    outcome,
    findings,
    durationMs: Math.round(result.ms * 10) / 10,
  };
}

function verdictsForKillForms(results: readonly ScenarioResult[]): DriftReport['killForms'] {
  const verdict = (form: string): KillFormVerdict => {
    // 401s say nothing about the form: the agent refuses before routing.
    const relevant = results.filter((r) => r.scenario.input.form === form && !r.scenario.raw && r.scenario.status !== 401);
    if (relevant.length === 0) return 'untested';
    return relevant.every((r) => r.passed) ? 'accepted' : 'rejected';
  };
  return { body: verdict('body'), query: verdict('query'), path: verdict('path') };
}

function cannotRun(error: unknown, baseUrl: string): DriftCannotRunError {
  if (error instanceof ValidationError) return new DriftCannotRunError(error.message);
  if (error instanceof TimeoutError) return new DriftCannotRunError(`${baseUrl} did not answer in time (${error.message})`);
  if (error instanceof NetworkError) return new DriftCannotRunError(`cannot reach ${baseUrl}: ${error.message}`);
  if (error instanceof AuthenticationError) return new DriftCannotRunError(`${baseUrl} refused the token (${error.status}): check the token's variable and its expiry`);
  return new DriftCannotRunError(String(error));
}

/** The lifecycle run with --allow-mutations: start sleep, list, signal, kill, confirm gone. */
async function lifecycle(options: DriftOptions, timeoutMs: number): Promise<DriftCheck[]> {
  const contract = contracts[options.provider];
  const processes = contract.neutral(contract.createClient({ apiKey: options.token, baseUrl: options.baseUrl, fetch: (r) => fetch(r), timeoutMs }));
  const checks: DriftCheck[] = [];
  const step = async (name: string, run: () => Promise<string | undefined>) => {
    const started = performance.now();
    let problem: string | undefined;
    try {
      problem = await run();
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
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
    client = contract.createClient({ apiKey: token, baseUrl, fetch: (r) => fetch(r), timeoutMs });
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
    // Real servers ignore this preference; a Prism mock honours it, so the same check runs against one.
    headersFor: (scenario: Scenario) => ({ Prefer: `code=${scenario.status}` }),
  };
  const scenarios = runnableOn(target, scenariosFor([provider])).filter(
    (scenario) => options.allowMutations || isHarmless(scenario, operationMethod(provider, scenario.operation)),
  );
  const results = await runScenarios(scenarios, target, { timeoutMs, onResult: (r) => options.onCheck?.(toCheck(r)) });
  const checks = results.map(toCheck);
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
    ...(provider === 'hopx' ? { killForms: verdictsForKillForms(results) } : {}),
    checks,
  };
}
