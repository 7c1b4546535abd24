// A HopX 408 is the agent's own time limit running out on the code it ran: a
// TimeoutError with the status, never retried (another try would run it again).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { SandboxProcsError, TimeoutError, createHopxClient, errorClassForStatus } from '../src/index.js';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator('hopx');
});
afterAll(async () => {
  await emulator?.stop();
});

describe('HopX execution timeout (408)', () => {
  it('is a TimeoutError carrying the 408 and the agent code, not retried even when retries of runs are on', async () => {
    const hopx = createHopxClient({ apiKey: emulator.token, baseUrl: emulator.baseUrl, retry: { nonIdempotent: true, maxRetries: 2, baseDelayMs: 1 } });
    const error = await hopx.runCode({ code: 'sleep 5', language: 'bash', timeout: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ status: 408, code: 'EXECUTION_TIMEOUT', retries: 0, operation: 'execute_code' });
    await hopx.close();
  });

  it('maps 408 to TimeoutError, still a SandboxProcsError', () => {
    expect(errorClassForStatus(408)).toBe(TimeoutError);
    expect(new (errorClassForStatus(408))('x', { provider: 'hopx', operation: 'o' })).toBeInstanceOf(SandboxProcsError);
  });
});
