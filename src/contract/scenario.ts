// The shape of a contract scenario: one request through the facade and what the
// contract says must come back. Scenarios are data; each provider's adapter turns
// (operation, input) into the facade call.
import type * as errors from '../errors.js';
import type { ProviderName } from '../errors.js';

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
  /** `missing`: the request goes out without an Authorization header. */
  credentials?: 'valid' | 'missing';
  /** The status the contract expects. Against Prism it is also the one asked for. */
  status: number;
  /** A typed result, or the error class the facade must throw. */
  expect: Expectation;
}

/** How the contract engine calls one provider's facade. */
export interface ProviderContract<Client = unknown> {
  provider: ProviderName;
  createClient(options: { apiKey: string; baseUrl: string; fetch: (request: Request) => Promise<Response>; timeoutMs: number }): Client;
  invoke(client: Client, operation: string, input: Readonly<Record<string, unknown>>): Promise<unknown>;
  scenarios: readonly Scenario[];
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
  408: 'SandboxProcsError',
  429: 'RateLimitError',
  500: 'ServerError',
};

/** The scenarios of one operation, one per status; a 401 is provoked by leaving the credentials out. */
export function statusScenarios(provider: ProviderName, operation: string, input: Readonly<Record<string, unknown>>, statuses: number[]): Scenario[] {
  return statuses.map((status) => {
    const expect = EXPECTED_BY_STATUS[status];
    if (!expect) throw new Error(`${provider} ${operation}: no expectation for status ${status}`);
    return { provider, operation, input, status, expect, ...(status === 401 ? { credentials: 'missing' as const } : {}) };
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

/** Drains an async iterable, so a stream counts as a result only once it ended well. */
export async function drain(events: AsyncIterable<unknown>): Promise<unknown[]> {
  const all: unknown[] = [];
  for await (const event of events) all.push(event);
  return all;
}

export function scenarioLabel(scenario: Scenario): string {
  const parts = Object.entries(scenario.input)
    .filter(([key]) => key === 'form')
    .map(([key, value]) => `${key}=${String(value)}`);
  if (scenario.credentials === 'missing') parts.push('no credentials');
  return parts.join(', ');
}
