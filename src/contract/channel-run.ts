// A channel scenario on a target: open what the channel needs (the provider's
// adapter), run the exchange (channel-check.ts), end what was opened, and turn it
// all into a ScenarioResult in the report's vocabulary. A mock cannot upgrade a
// connection, so there the scenario is skipped, and says so.
import { redactText } from '../core/redact.js';
import type { ProviderName } from '../errors.js';
import { loadAsyncApi, loadSpec } from '../specs.js';
import { ChannelValidator, readChannel } from './channel-spec.js';
import { exchange, type ChannelOutcome } from './channel-check.js';
import { createBound } from './record.js';
import type { RequestEvidence, ScenarioResult, Target } from './run.js';
import { scenarioLabel, type ChannelContext, type Scenario } from './scenario.js';
import { contracts } from './scenarios.js';
import { breaking, createAjv, describeError, type Finding, type SpecValidator } from './validate.js';

export const MOCK_CANNOT_UPGRADE = 'skipped: a mock (Prism) cannot upgrade a connection to a WebSocket; this channel is checked against the emulators and a live API';

export interface ChannelRunContext {
  target: Target;
  apiKey: string;
  timeoutMs: number;
  maxBytes: number;
  /** The provider's OpenAPI spec: the upgrade's declared answers. */
  spec: SpecValidator;
  bounds: { requestMs: number; fixtureMs: number };
}

const validators = new Map<string, ChannelValidator>();

/** The channel's contract, read once per process. */
function channelValidator(provider: ProviderName, key: string): ChannelValidator {
  const id = `${provider} ${key}`;
  let validator = validators.get(id);
  if (!validator) {
    const openApi = loadSpec(provider);
    validators.set(id, (validator = new ChannelValidator(readChannel(provider, key, loadAsyncApi(provider), openApi), openApi)));
  }
  return validator;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function componentChecker(provider: ProviderName): ChannelContext['checkComponent'] {
  const openApi = loadSpec(provider);
  const ajv = createAjv(openApi);
  return (schema, value, what) => {
    const schemas = (openApi.components as { schemas?: Record<string, unknown> } | undefined)?.schemas ?? {};
    if (!(schema in schemas)) return [];
    const validate = ajv.getSchema(`spec#/components/schemas/${schema}`) ?? ajv.compile({ $ref: `spec#/components/schemas/${schema}` });
    return validate(value) ? [] : (validate.errors ?? []).map((e) => describeError(e, what).message);
  };
}

export async function runChannelScenario(scenario: Scenario, context: ChannelRunContext): Promise<ScenarioResult> {
  const { target, apiKey } = context;
  const channel = scenario.channel!;
  const label = scenarioLabel(scenario);
  const base = { scenario, label, status: undefined, request: undefined, response: undefined, findings: [], warnings: [], ms: 0 };
  if (target.kind === 'mock') return { ...base, passed: true, outcome: 'skipped', problems: [], skipped: MOCK_CANNOT_UPGRADE };
  const failed = (problem: string): ScenarioResult => ({ ...base, passed: false, outcome: 'not run', problems: [redactText(problem, apiKey)] });

  const baseUrl = target.baseUrls[scenario.provider];
  if (!baseUrl) throw new Error(`target ${target.name} has no base URL for ${scenario.provider}`);
  let validator: ChannelValidator;
  try {
    validator = channelValidator(scenario.provider, channel.key);
  } catch (error) {
    return failed(`the channel's contract cannot be read: ${message(error)}`);
  }
  const adapter = contracts[scenario.provider].channels?.[channel.key];
  if (!adapter) return failed(`${scenario.provider} has no adapter for the channel ${channel.key}`);

  const started = performance.now();
  const routing = target.headers ?? {};
  const openBound = createBound(context.bounds.fixtureMs, `what the channel needs was not made within ${context.bounds.fixtureMs} ms`);
  let session;
  try {
    session = await openBound.run(
      adapter.open({
        baseUrl,
        apiKey,
        headers: routing,
        credentials: scenario.credentials ?? 'valid',
        address: validator.contract.address,
        signal: openBound.signal,
        checkComponent: componentChecker(scenario.provider),
      }),
    );
  } catch (error) {
    return failed(`could not make what the channel needs: ${message(error)}`);
  } finally {
    openBound.end();
  }
  const secrets = [apiKey, ...session.secrets];
  const redact = (text: string) => secrets.reduce((out, secret) => redactText(out, secret), text);

  const url = `${baseUrl.replace(/\/+$/, '')}${session.path}`.replace(/^http/i, 'ws');
  const headers = { ...routing, ...session.headers };
  let outcome: ChannelOutcome;
  try {
    outcome = await exchange({
      url,
      headers,
      codec: adapter.codec,
      steps: channel.steps,
      ...(channel.ending && { ending: channel.ending }),
      validator,
      deadlineMs: context.bounds.requestMs,
      maxBytes: context.maxBytes,
      openOnly: scenario.status !== 101,
      redact,
    });
  } catch (error) {
    await session.close().catch(() => undefined);
    return failed(redact(`the channel check could not run: ${message(error)}`));
  }
  const closeProblem = await session.close().catch((error: unknown) => message(error));
  const ms = performance.now() - started;

  const findings: Finding[] = [...outcome.findings];
  const problems: string[] = [...outcome.problems, ...session.problems];
  if (closeProblem) problems.push(closeProblem);
  const { status } = outcome;
  const refusal = outcome.refusal;
  if (status !== undefined && status !== 101 && scenario.status === 101) {
    findings.unshift(breaking('upgrade-refused', `the channel refused the upgrade: ${status}${codeOf(refusal?.body)}`));
  } else if (status === 101 && scenario.status !== 101) {
    problems.push(`expected the upgrade to be refused with ${scenario.status}, the channel opened (101)`);
  } else if (status !== undefined && status !== scenario.status) {
    problems.push(`expected status ${scenario.status}, got ${status}${codeOf(refusal?.body)}`);
  }
  // A refusal, checked against what the OpenAPI spec declares for the upgrade's path (its status and body), once it declares the path.
  if (refusal && status !== undefined) {
    findings.push(...(context.spec.checkUpgrade(validator.contract.address, { status, contentType: refusal.contentType, bodyText: refusal.body, complete: refusal.body.length < 2_048 }) ?? []));
  }
  problems.push(...findings.filter((f) => f.severity === 'breaking').map((f) => f.message));

  const request: RequestEvidence = { method: 'GET', url: redact(url), headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), redact(value)])) };
  const close = outcome.close ? `; closed ${outcome.close.code}${outcome.close.reason ? ` "${outcome.close.reason}"` : ''}` : '';
  const response =
    status === undefined
      ? undefined
      : refusal
        ? { contentType: refusal.contentType, bodyExcerpt: refusal.body }
        : { contentType: null, bodyExcerpt: `${outcome.messages} server messages, ${outcome.bytes} bytes${close}` };
  const clean = (list: readonly string[]) => list.map(redact);
  return {
    scenario,
    label,
    passed: problems.length === 0,
    status,
    request,
    response,
    outcome: status === 101 ? 'opened' : status === undefined ? 'not opened' : 'refused',
    findings: findings.map((f) => ({ ...f, message: redact(f.message) })),
    problems: clean(problems),
    warnings: clean(findings.filter((f) => f.severity === 'warning').map((f) => f.message)),
    ms,
    channel: { messages: outcome.messages, bytes: outcome.bytes, keptBytes: outcome.keptBytes },
  };
}

/** The provider's error code in a refusal's body (`code`, else `error`), as " CODE". */
function codeOf(body: string | undefined): string {
  try {
    const parsed = JSON.parse(body ?? '') as { code?: unknown; error?: unknown };
    const code = typeof parsed.code === 'string' ? parsed.code : typeof parsed.error === 'string' ? parsed.error : undefined;
    return code ? ` ${JSON.stringify(code.slice(0, 80))}` : '';
  } catch {
    return '';
  }
}
