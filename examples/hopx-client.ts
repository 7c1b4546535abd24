// examples/hopx-client.ts: HopX's agent API through the typed client, with the SDKs' kill form.
// Run: HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/hopx-client.ts
import { createHopxClient, SandboxProcsError } from 'sandbox-procs';

/** A setting from the environment; without it, stop here rather than send anything anywhere. */
function env(name: string): string {
  const value = process.env[name];
  if (value) return value;
  console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider hopx\` prints the export lines to paste)`);
  process.exit(2);
}

const hopx = createHopxClient({
  baseUrl: env('HOPX_SANDBOX_URL'), // the sandbox's public_host, e.g. https://7777-sandbox_abc123xyz.eu.vms.hopx.dev
  apiKey: env('HOPX_AUTH_TOKEN'),
  killForm: 'path',
});

const result = await hopx.runCode({ code: 'print(6 * 7)', language: 'python', timeout: 30 });
console.log(result.success, result.stdout.trim(), result.exit_code); // true 42 0; a non-zero exit is success: false, not an error

const started = await hopx.runCodeBackground({ code: 'sleep 600', language: 'bash', name: 'sleeper' });
const running = (await hopx.listProcesses()).filter((p) => p.status === 'running');
console.log(running.map((p) => `${p.name} ${p.process_id}`)); // [ 'sleeper proc_...' ]

try {
  const killed = await hopx.killProcess(started.process_id, { form: 'body' });
  console.log(killed.status); // killed
} catch (error) {
  if (error instanceof SandboxProcsError) {
    console.error(error.provider, error.operation, error.status, error.code, error.requestId);
  }
  throw error;
}
