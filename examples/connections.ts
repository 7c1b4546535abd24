// examples/connections.ts: the client's keep-alive pool, bounded, and closed at the end.
// Run: HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/connections.ts
import { createHopxClient } from 'sandbox-procs';

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
  maxSockets: 8,
  idleSocketTimeoutMs: 10_000,
});
try {
  const { process_id } = await hopx.runCodeBackground({ code: 'sleep 600', language: 'bash' });
  const killed = await hopx.killProcess(process_id); // the docs form, on the connection the start opened
  console.log(killed.status); // killed
} finally {
  await hopx.close();
}
