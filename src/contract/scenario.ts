// The shape of a contract scenario: one request through the facade and what the
// contract says must come back. Scenarios are data; each provider's adapter turns
// (operation, input) into the facade call.
import type * as errors from '../errors.js';
import type { ProviderName } from '../errors.js';

export type ErrorClassName = {
  [K in keyof typeof errors]: (typeof errors)[K] extends abstract new (...args: never[]) => errors.SandboxProcsError ? K : never;
}[keyof typeof errors];

export interface Scenario {
  provider: ProviderName;
  /** The operationId in the provider's spec. */
  operation: string;
  /** What the provider adapter needs to make the call (ids, kill form, ...). */
  input: Readonly<Record<string, unknown>>;
  /** `missing`: the request goes out without an Authorization header. */
  credentials?: 'valid' | 'missing';
  /** The status the contract expects. Against Prism it is also the one asked for. */
  status: number;
  /** A typed result, or the error class the facade must throw. */
  expect: 'result' | ErrorClassName;
}

/** How the contract engine calls one provider's facade. */
export interface ProviderContract<Client = unknown> {
  provider: ProviderName;
  createClient(options: { apiKey: string; baseUrl: string; fetch: (request: Request) => Promise<Response>; timeoutMs: number }): Client;
  invoke(client: Client, operation: string, input: Readonly<Record<string, unknown>>): Promise<unknown>;
  scenarios: readonly Scenario[];
}

export function scenarioLabel(scenario: Scenario): string {
  const parts = Object.entries(scenario.input)
    .filter(([key]) => key === 'form')
    .map(([key, value]) => `${key}=${String(value)}`);
  if (scenario.credentials === 'missing') parts.push('no credentials');
  return parts.join(', ');
}
