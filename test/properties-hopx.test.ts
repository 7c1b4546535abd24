// Property-based tests (fast-check), hopx: for every operation, 10 000 random inputs either pass validation and produce one well-formed request (checked against the spec's request schema by ajv), or raise ValidationError with nothing sent.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createHopxClient } from '../src/index.js';
import { apiKey, checkProperty, hopxCases, RUNS, server, useAnsweringServer } from './support/property-harness.js';

useAnsweringServer();

describe('hopx: random inputs are refused before sending, or sent well-formed', () => {
  let client: ReturnType<typeof createHopxClient> | undefined;
  const lazyClient = () => (client ??= createHopxClient({ apiKey, baseUrl: server.baseUrl, retry: { maxRetries: 0 } }));
  it.each(hopxCases.map((c) => [c[0], c] as const))(`%s (${RUNS} runs)`, async (_name, testCase) => {
    server.scripted = undefined;
    await fc.assert(checkProperty('hopx', lazyClient, testCase), { numRuns: RUNS });
  }, 120_000);
});
