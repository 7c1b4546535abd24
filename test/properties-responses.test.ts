// Property-based tests (fast-check), random statuses, content types and bodies from a real server never produce anything but a result or a typed error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SandboxProcsError, createHopxClient, createTensorlakeClient, type HopxClient, type TensorlakeClient } from '../src/index.js';
import { apiKey, drain, server, TRANSPORTS, useAnsweringServer } from './support/property-harness.js';
import { runs as scaled } from './support/profile.js';
import { leakedKeys } from './support/secrets.js';

useAnsweringServer();

describe.each(TRANSPORTS)('random responses ($name transport)', ({ options: transport, runs }) => {
  const calls: Array<(t: TensorlakeClient, h: HopxClient) => Promise<unknown>> = [
    (t) => t.listProcesses(),
    (t) => t.killProcess(42),
    (t) => t.getProcess(42),
    (t) => drain(t.followOutput(42)),
    (t) => drain(t.run({ command: 'echo' })),
    (_t, h) => h.killProcess('proc_1'),
    (_t, h) => h.runCode({ code: 'print(1)' }),
    (_t, h) => h.listProcesses(),
    (t) => t.processes.list(),
    (t) => t.processes.start({ command: 'sleep' }),
    (t) => t.processes.get(42),
    (t) => t.processes.kill(42),
    (_t, h) => h.processes.start({ command: 'sleep' }),
    (_t, h) => h.processes.get('proc_1'),
    (_t, h) => h.processes.kill('proc_1'),
    (_t, h) => h.listSystemProcesses(),
  ];

  it('never produce anything but a result or a typed SandboxProcsError', async () => {
    const tensorlake = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl, retry: { maxRetries: 0 }, streamIdleTimeoutMs: 1_000, ...transport });
    const hopx = createHopxClient({ apiKey, baseUrl: server.baseUrl, retry: { maxRetries: 0 }, ...transport });
    const body = fc.oneof(
      fc.json(),
      fc.string(),
      fc.constant(''),
      fc.constantFrom('{"error":"x"}', '{"error":"x","code":"Y"}', 'event: output\ndata: {"line":"a","timestamp":0}\n\n', 'data: {"exit_code":0}\n\n', '<html>502</html>'),
    );
    const contentType = fc.option(fc.constantFrom('application/json', 'text/plain', 'text/html', 'text/event-stream', 'application/json; charset=utf-8'), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 200, max: 599 }), contentType, body, fc.nat({ max: calls.length - 1 }), async (status, type, text, which) => {
        server.scripted = { status, body: text, ...(type ? { contentType: type } : {}) };
        const outcome = await calls[which]!(tensorlake, hopx).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (outcome !== undefined) {
          expect(outcome).toBeInstanceOf(SandboxProcsError);
          expect(leakedKeys(outcome)).toEqual([]);
        }
      }),
      { numRuns: Math.ceil((Number(process.env.RESPONSE_RUNS ?? scaled(3_000)) * runs) / TRANSPORTS[0]!.runs) },
    );
    server.scripted = undefined;
  }, 120_000);
});
