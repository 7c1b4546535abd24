// WebSocket messages checked against the spec's own schemas (an upgrade operation's
// `x-messages`, in generated/<provider>.operations.ts): what the client is about to
// send (ValidationError, nothing sent) and what the server sent (UnexpectedResponseError
// UNEXPECTED_MESSAGE: a message outside the contract ends the session).
import { UnexpectedResponseError, ValidationError, type ProviderName } from '../errors.js';
import type { OperationMeta, SchemaConstraints } from './operation.js';
import { findViolation } from './validate-input.js';

export interface MessageRules {
  provider: ProviderName;
  operation: string;
  client: SchemaConstraints;
  server: SchemaConstraints;
}

export function messageRules(provider: ProviderName, operation: string, meta: OperationMeta): MessageRules {
  if (!meta.messages) throw new Error(`${provider} ${operation}: the spec declares no x-messages`);
  return { provider, operation, ...meta.messages };
}

/**
 * The first way `value` breaks `schema`. A oneOf whose alternatives are told apart by a
 * constant field (`type` for HopX, `op` for Tensorlake's frames) is read by that field,
 * so that the problem names the message it was meant to be.
 */
export function messageViolation(schema: SchemaConstraints, value: unknown): string | undefined {
  const alternatives = schema.oneOf;
  if (!alternatives || value === null || typeof value !== 'object') return findViolation(schema, value, 'message');
  const tag = ['type', 'op'].find((name) => alternatives.every((alternative) => alternative.properties?.[name]?.const !== undefined));
  if (!tag) return findViolation(schema, value, 'message');
  const given = (value as Record<string, unknown>)[tag];
  const match = alternatives.find((alternative) => alternative.properties![tag]!.const === given);
  if (!match) {
    const known = alternatives.map((alternative) => JSON.stringify(alternative.properties![tag]!.const)).join(', ');
    return `message.${tag} must be one of ${known}, got ${JSON.stringify(given)?.slice(0, 40) ?? 'nothing'}`;
  }
  return findViolation(match, value, `message (${tag} ${JSON.stringify(given)})`);
}

/** Throws ValidationError when `message` is not one the client may send. */
export function checkOutgoing(rules: MessageRules, message: unknown): void {
  const problem = messageViolation(rules.client, message);
  if (problem) throw new ValidationError(problem, { provider: rules.provider, operation: rules.operation });
}

/** The error for a received message outside the contract; `what` says how (never the message itself, which may be large). */
export function outsideContract(rules: Pick<MessageRules, 'provider' | 'operation'>, what: string): UnexpectedResponseError {
  return new UnexpectedResponseError(`the server sent a message outside the contract: ${what}`, {
    provider: rules.provider,
    operation: rules.operation,
    status: 101,
    code: 'UNEXPECTED_MESSAGE',
  });
}

/** `message` as the server's JSON text message, checked; throws outsideContract otherwise. */
export function checkIncomingJson<T>(rules: MessageRules, text: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw outsideContract(rules, 'a text message that is not JSON');
  }
  const problem = messageViolation(rules.server, value);
  if (problem) throw outsideContract(rules, problem);
  return value as T;
}
