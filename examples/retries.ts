// examples/retries.ts: a time limit per attempt, more retries, a bounded Retry-After, and a deadline for the call.
// Run: HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/retries.ts
import { createHopxClient, RateLimitError } from 'sandbox-procs';

/** A setting from the environment; without it, stop here rather than send anything anywhere. */
function env(name: string): string {
  const value = process.env[name];
  if (value) return value;
  console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider hopx\` prints the export lines to paste)`);
  process.exit(2);
}

const hopx = createHopxClient({
  baseUrl: env('HOPX_SANDBOX_URL'),
  apiKey: env('HOPX_AUTH_TOKEN'),
  timeoutMs: 5_000,
  retry: { maxRetries: 4, maxRetryAfterMs: 10_000 },
});
try {
  const processes = await hopx.listProcesses({ signal: AbortSignal.timeout(20_000) });
  console.log(processes.length); // 0 on a fresh sandbox
} catch (error) {
  if (error instanceof RateLimitError) console.log(`gave up after ${error.retries} retries; retry in ${error.retryAfterMs} ms`);
  else throw error;
}
