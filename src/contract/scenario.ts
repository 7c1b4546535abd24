// The shape of a contract scenario: one request through the facade and what the
// contract says must come back. Scenarios are data; each provider's adapter turns
// (operation, input) into the facade call.
import type * as errors from '../errors.js';
import type { ProviderName } from '../errors.js';
import type { SandboxProcesses } from '../processes.js';

export type ErrorClassName = {
  [K in keyof typeof errors]: (typeof errors)[K] extends abstract new (...args: never[]) => errors.SandboxProcsError ? K : never;
}[keyof typeof errors];

export type Expectation = 'result' | ErrorClassName;

export interface Scenario {
  provider: ProviderName;
  /** The operationId in the provider's spec. */
  operation: string;
  /** What the provider adapter needs to make the call (ids, bodies, kill form, ...). */
  input: Readonly<Record<string, unknown>>;
  /**
   * What sets this case apart from the operation's other cases of the same status,
   * when its fixture, credentials or kill form do not say it (e.g. `no code`, `managed,
   * named`): reports show it in their CASE column.
   */
  name?: string;
  /**
   * `missing`: the request goes out without an Authorization header. `wrong`: a
   * channel's own token (Tensorlake's PTY session token) is replaced by a random one.
   */
  credentials?: 'valid' | 'missing' | 'wrong';
  /** The status the contract expects. Against Prism it is also the one asked for. */
  status: number;
  /** A typed result, or the error class the facade must throw. */
  expect: Expectation;
  /**
   * On a stateful target (emulator, live provider), the state this scenario needs,
   * made before it runs; its fields replace those of `input`. Mocks use `input` as is.
   */
  fixture?: FixtureName;
  /**
   * `mock`: only a mock can be asked for this status (e.g. a 500, or a 400 the facade refuses to send).
   * `local`: runs on our own targets (mocks, emulators) but never against a live sandbox, even with
   * mutations allowed: it changes state the check did not make (e.g. the sandbox's environment).
   */
  only?: 'mock' | 'local';
  /**
   * Sent as is, bypassing the typed client, which would refuse it: a malformed
   * request that must get the declared 400. `expect` is not checked for these.
   */
  raw?: RawRequest;
  /**
   * `control`: a request to the provider's sandbox lifecycle API
   * (specs/<provider>-control.yaml), sent raw and checked against that spec; it
   * runs only on a target that serves one (see ControlPlaneContract).
   */
  api?: 'control';
  /**
   * A WebSocket channel (its key in specs/<provider>.asyncapi.yaml): the scenario opens
   * it, runs `steps` and checks every message; `operation` is the channel's key and
   * `status` the upgrade's answer (101, or the refusal the contract declares).
   */
  channel?: ChannelScenario;
}

/**
 * One step of a channel exchange: send a client message (as its schema describes it),
 * or wait until the output shows a line that is exactly `line` once terminal control
 * sequences are left out (a terminal echoes what is typed: "echo hi" is not the line
 * "hi"), or (`line: ''`) until it shows anything at all: a shell's prompt, before typing,
 * as a person would (typed ahead, the echo comes before the prompt, and the prompt then
 * shares the output's line: "# hi").
 */
export type ChannelStep = { send: unknown } | { until: { line: string } };


export interface ChannelScenario {
  key: string;
  steps: readonly ChannelStep[];
  /** How this exchange must end, beyond the endings the channel allows (e.g. exit 0): a final message and its fields, or a close frame. */
  ending?: { message?: string; fields?: Readonly<Record<string, unknown>>; close?: { code: number; reason?: string } };
}

/** Where a channel's session is, once what it needs exists (Tensorlake: a PTY session made over REST). */
export interface ChannelSession {
  /** The address with its placeholders filled, and its query (a session token), if any. */
  path: string;
  headers: Record<string, string>;
  /** Secrets besides the API key that the session carries (a session token): redacted from every report. */
  secrets: string[];
  /** What went wrong on the way (a REST answer outside the contract): breaking problems of the check. */
  problems: string[];
  /** Ends what `open` made; answers a problem, if any. */
  close(): Promise<string | undefined>;
}

export interface ChannelContext {
  baseUrl: string;
  apiKey: string;
  /** Routing headers every request carries (a sandbox proxy's). */
  headers: Record<string, string>;
  credentials: 'valid' | 'missing' | 'wrong';
  /** The channel's address (from the AsyncAPI document), e.g. `/api/v1/pty/{session_id}/ws`. */
  address: string;
  signal: AbortSignal;
  /** Checks a REST body against a component schema of the provider's OpenAPI spec; findings as problems (empty when it fits, or when the spec has no such schema). */
  checkComponent(schema: string, value: unknown, what: string): string[];
}

/**
 * A channel's wire form: how a message, as its schema describes it, goes over the
 * socket and comes back. Text JSON is `jsonCodec`; a provider with binary frames
 * brings its own (Tensorlake: pty-frames.ts, `data` in base64 in the schemas).
 */
export interface ChannelCodec {
  encode(message: unknown): string | Buffer;
  /** The message as its schema describes it, or why the frame is not one (said in words). */
  decode(data: Buffer, isBinary: boolean): { value: unknown } | { problem: string; excerpt: string };
  /** The text a message adds to the session's output (a stream's, a terminal's), if any. */
  outputOf(value: unknown): string;
}

/** How a provider's channel is reached: its wire form, and what must exist before it opens. */
export interface ChannelAdapter {
  codec: ChannelCodec;
  open(context: ChannelContext): Promise<ChannelSession>;
}

export interface RawRequest {
  method: string;
  /** `{name}` is filled with the scenario's input `name` (e.g. a fixture's sandbox_id). */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, instead of `body`, with `contentType` (a malformed body). */
  bodyText?: string;
  /** Default application/json when a body is sent. */
  contentType?: string;
}

/**
 * True when a scenario changes nothing on a real server even if the server is
 * broken: reads, requests that name a process that cannot exist, and malformed
 * requests, none of them needing a process made first. Everything else runs
 * against a live provider only when allowed.
 */
export function isHarmless(scenario: Scenario, method: string): boolean {
  // A channel runs a program; only its refusal of a request without credentials starts nothing.
  if (scenario.channel) return scenario.credentials === 'missing' && scenario.fixture === undefined;
  if (scenario.fixture !== undefined && scenario.fixture !== 'unknown') return false;
  return method.toLowerCase() === 'get' || scenario.fixture === 'unknown' || scenario.raw !== undefined;
}

/** States a stateful target can be put in before a scenario (`namedSandbox`: one whose name a duplicate create asks for). */
export type FixtureName = 'running' | 'exited' | 'stdin' | 'unknown' | 'managed' | 'closedStdin' | 'pty' | 'sandbox' | 'namedSandbox' | 'pausedSandbox' | 'stoppedSandbox' | 'uniquelyNamedSandbox' | 'sandboxBesideNamed';

export type Fixtures<Client> = Partial<Record<FixtureName, (client: Client) => Promise<Record<string, unknown>>>>;

/** How the contract engine calls one provider's facade. */
export interface ProviderContract<Client = unknown> {
  provider: ProviderName;
  createClient(options: {
    apiKey: string;
    baseUrl: string;
    fetch: (request: Request) => Promise<Response>;
    timeoutMs: number;
    retry?: { maxRetries: number };
    streamIdleTimeoutMs?: number;
    maxResponseBytes?: number;
    /** Sent with every request (a sandbox proxy's routing header). */
    headers?: Record<string, string>;
  }): Client;
  invoke(client: Client, operation: string, input: Readonly<Record<string, unknown>>): Promise<unknown>;
  scenarios: readonly Scenario[];
  /** How to make each fixture on a stateful target, through the facade. */
  fixtures: Fixtures<Client>;
  /** The ids of the processes a successful response says were started (to clean up). */
  startedIds(operation: string, body: unknown): string[];
  /** The id a fixture's input names. */
  idOf(input: Readonly<Record<string, unknown>>): string | undefined;
  /** Stops the processes with these ids, and nothing else. */
  cleanup(client: Client, ids: readonly string[]): Promise<void>;
  /** A cheap authenticated read: can the target be reached, and does it take the token? */
  preflight(client: Client): Promise<unknown>;
  /** The provider-neutral interface over a client (for the drift check's lifecycle). */
  neutral(client: Client): SandboxProcesses;
  /**
   * Where the provider takes a kill in several forms (a scenario's input `form`),
   * the forms that drift judges one by one, to tell which ones a server honours.
   */
  killForms?: readonly KillFormName[];
  /** How each WebSocket channel a scenario names (its AsyncAPI key) is opened. */
  channels?: Readonly<Record<string, ChannelAdapter>>;
}

/** The forms a kill request can take: a JSON body, a query parameter, the id in the path, or a POST with a JSON body. */
export type KillFormName = 'body' | 'query' | 'path' | 'post';

/**
 * How the contract engine reaches one provider's control plane: raw requests
 * only (our typed client has no control-plane API), each checked against
 * specs/<provider>-control.yaml.
 */
export interface ControlPlaneContract {
  provider: ProviderName;
  /** The request headers that carry the API key (HopX: X-API-Key; Tensorlake: Authorization Bearer). */
  authHeaders(apiKey: string): Record<string, string>;
  scenarios: readonly Scenario[];
  /** How to make each fixture (`sandbox`: a new sandbox) on a control plane; its fields fill the raw path. */
  fixtures: Partial<Record<FixtureName, (baseUrl: string, apiKey: string) => Promise<Record<string, string>>>>;
  /** The ids of the sandboxes a successful response (or a fixture's input) says were made, to delete at the end. */
  startedIds(operation: string, body: unknown): string[];
  /** Deletes the sandboxes with these ids, and nothing else. */
  cleanup(baseUrl: string, apiKey: string, ids: readonly string[]): Promise<void>;
}

/** One operation's facade call and the input its scenarios send. */
export interface OperationCall<Client> {
  input: Readonly<Record<string, unknown>>;
  invoke(client: Client, input: Readonly<Record<string, unknown>>): Promise<unknown>;
}

/** What each declared status must turn into at the facade: written out, not derived from the facade's own mapping. */
export const EXPECTED_BY_STATUS: Readonly<Record<number, Expectation>> = {
  200: 'result',
  201: 'result',
  204: 'result',
  400: 'InvalidRequestError',
  401: 'AuthenticationError',
  404: 'NotFoundError',
  408: 'TimeoutError',
  413: 'InvalidRequestError',
  415: 'InvalidRequestError',
  422: 'InvalidRequestError',
  429: 'RateLimitError',
  500: 'ServerError',
};

export type StatusCase = number | [number, Pick<Scenario, 'fixture' | 'only' | 'name'> & { input?: Readonly<Record<string, unknown>> }];

export const MOCK_ONLY = { only: 'mock' } as const;
/** Never against a live sandbox (see Scenario.only). */
export const LOCAL_ONLY = { only: 'local' } as const;

/**
 * The scenarios of one operation, one per status; a 401 is provoked by leaving
 * the credentials out. A status may carry its fixture, its own input, or `only`.
 */
export function statusScenarios(provider: ProviderName, operation: string, input: Readonly<Record<string, unknown>>, cases: StatusCase[]): Scenario[] {
  return cases.map((entry) => {
    const [status, extra] = typeof entry === 'number' ? [entry, {}] : entry;
    const expect = EXPECTED_BY_STATUS[status];
    if (!expect) throw new Error(`${provider} ${operation}: no expectation for status ${status}`);
    return {
      provider,
      operation,
      status,
      expect,
      ...(status === 401 ? { credentials: 'missing' as const } : {}),
      ...extra,
      input: { ...input, ...extra.input },
    };
  });
}

/** Runs an operation's call from a table of them; an unknown operation is a bug in the scenarios. */
export function invokeFrom<Client>(table: Readonly<Record<string, OperationCall<Client>>>, provider: ProviderName) {
  return (client: Client, operation: string, input: Readonly<Record<string, unknown>>): Promise<unknown> => {
    const call = table[operation];
    if (!call) throw new Error(`${provider}: no contract call for ${operation}`);
    return call.invoke(client, input);
  };
}

/** The raw probes of one operation: malformed requests that must get its declared rejection (400 unless said). */
export function rawScenarios(provider: ProviderName, operation: string, requests: Array<RawRequest & { status?: number }>): Scenario[] {
  return requests.map(({ status = 400, ...raw }) => ({ provider, operation, input: {}, status, expect: 'InvalidRequestError', raw }));
}

/**
 * Drains an async iterable, so a stream counts as a result only once it ended
 * well. It keeps no event (a long stream must not fill the memory): it counts them.
 */
export async function drain(events: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  for await (const event of events) {
    void event;
    count++;
  }
  return count;
}

/**
 * The case's name in a report: never empty, and with the provider, operation and
 * status it tells every scenario apart (a test holds every provider's list to it).
 */
export function scenarioLabel(scenario: Scenario): string {
  const parts: string[] = [];
  if (scenario.raw) {
    const { method, path, body, bodyText, contentType } = scenario.raw;
    const shown = bodyText !== undefined ? ` ${JSON.stringify(bodyText)}` : body === undefined ? '' : ` ${JSON.stringify(body)}`;
    parts.push(`raw ${method} ${path}${shown}${contentType ? ` as ${contentType}` : ''}`);
  }
  if (typeof scenario.input.form === 'string') parts.push(`form=${scenario.input.form}`);
  if (scenario.name) parts.push(scenario.name);
  if (scenario.credentials === 'missing') parts.push('no credentials');
  if (scenario.credentials === 'wrong') parts.push('wrong token');
  if (scenario.fixture) parts.push(`${scenario.fixture} process`);
  if (parts.length > 0) return parts.join(', ');
  // Nothing sets it apart: the operation's usual request, which only a mock can be asked to refuse.
  return scenario.only === 'mock' ? 'mock only' : 'valid request';
}

/**
 * A control-plane scenario (specs/<provider>-control.yaml): sent raw, with the
 * provider's own auth unless `credentials: 'missing'` (every 401), and checked
 * against that spec.
 */
export function controlScenario(provider: ProviderName, operation: string, status: number, raw: RawRequest, extra: Partial<Scenario> = {}): Scenario {
  return {
    provider,
    api: 'control',
    operation,
    status,
    // Raw requests bypass the typed client, so this is not compared; it names what a client would make of the status.
    expect: status < 300 ? 'result' : status === 401 ? 'AuthenticationError' : status === 404 ? 'NotFoundError' : 'InvalidRequestError',
    input: {},
    ...(status === 401 ? { credentials: 'missing' as const } : {}),
    raw,
    ...extra,
  };
}

/**
 * A channel scenario: `operation` is the channel's key (specs/<provider>.asyncapi.yaml),
 * `status` the upgrade's answer (101, or the refusal the contract declares; a 401 goes
 * without credentials).
 */
export function channelScenario(provider: ProviderName, key: string, status: number, channel: Omit<ChannelScenario, 'key'>, extra: Partial<Scenario> = {}): Scenario {
  return {
    provider,
    operation: key,
    status,
    // Not compared (no typed client call): what a client would make of the answer.
    expect: status === 101 ? 'result' : status === 401 || status === 403 ? 'AuthenticationError' : (EXPECTED_BY_STATUS[status] ?? 'UnexpectedResponseError'),
    input: {},
    ...(status === 401 ? { credentials: 'missing' as const } : {}),
    channel: { key, ...channel },
    ...extra,
  };
}
