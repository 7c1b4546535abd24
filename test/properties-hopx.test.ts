// Property-based tests (fast-check), hopx: for every operation, random inputs (10 000 runs on the default node:http transport, 1 000 on fetch) either pass validation and produce one well-formed request (checked against the spec's request schema by ajv), or raise ValidationError with nothing sent.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { createHopxClient } from '../src/index.js';
import { apiKey, checkProperty, hopxCases, server, TRANSPORTS, useAnsweringServer } from './support/property-harness.js';

useAnsweringServer();

describe.each(TRANSPORTS)('hopx ($name transport): random inputs are refused before sending, or sent well-formed', ({ options: transport, runs }) => {
  let client: ReturnType<typeof createHopxClient> | undefined;
  const lazyClient = () => (client ??= createHopxClient({ apiKey, baseUrl: server.baseUrl, retry: { maxRetries: 0 }, ...transport }));
  it.each(hopxCases.map((c) => [c[0], c] as const))(`%s (${runs} runs)`, async (_name, testCase) => {
    server.scripted = undefined;
    await fc.assert(checkProperty('hopx', lazyClient, testCase), { numRuns: runs });
  }, 120_000);
});
