// Test API keys share one prefix, so that any of them can be found wherever it
// leaks: in an error however it is rendered, a log line, a CLI output, a report.
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';

export const TEST_KEY_PREFIX = 'sk-test-';
/** The prefix of the random key the contract engine uses against mocks. */
export const ENGINE_KEY_PREFIX = 'sp-test-';

export function testKey(label: string): string {
  return `${TEST_KEY_PREFIX}${label}-${randomBytes(8).toString('hex')}`;
}

/** Every way an error can end up as text: message, toString, stack, inspect, JSON, its cause. */
export function renderings(value: unknown): string[] {
  if (!(value instanceof Error)) return [typeof value === 'string' ? value : inspect(value, { depth: 10 })];
  return [String(value), value.message, value.stack ?? '', inspect(value, { depth: 10, showHidden: true }), JSON.stringify(value) ?? '', inspect(value.cause, { depth: 10 })];
}

/** The renderings of `value` that hold a test key; empty when none does. */
export function leakedKeys(value: unknown): string[] {
  return renderings(value).filter((text) => text.includes(TEST_KEY_PREFIX));
}
