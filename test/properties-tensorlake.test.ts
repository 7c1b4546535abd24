// Property-based tests (fast-check), tensorlake: for every operation, 10 000 random inputs either pass validation and produce one well-formed request (checked against the spec's request schema by ajv), or raise ValidationError with nothing sent.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createTensorlakeClient } from '../src/index.js';
import { apiKey, checkProperty, tensorlakeCases, RUNS, server, useAnsweringServer } from './support/property-harness.js';

useAnsweringServer();

describe('tensorlake: random inputs are refused before sending, or sent well-formed', () => {
  let client: ReturnType<typeof createTensorlakeClient> | undefined;
  const lazyClient = () => (client ??= createTensorlakeClient({ apiKey, baseUrl: server.baseUrl, retry: { maxRetries: 0 } }));
  it.each(tensorlakeCases.map((c) => [c[0], c] as const))(`%s (${RUNS} runs)`, async (_name, testCase) => {
    server.scripted = undefined;
    await fc.assert(checkProperty('tensorlake', lazyClient, testCase), { numRuns: RUNS });
  }, 120_000);
});
