// examples/sandbox.ts: a fresh sandbox of each provider from its API key alone, a process run in it,
// and the sandbox deleted when the block ends (`await using`).
// Run: npx sandbox-procs emulate --provider hopx --control-plane (and --provider tensorlake --control-plane),
//      paste the export lines they print, then: npx -y tsx examples/sandbox.ts
import { createSandbox, waitForExit, type SandboxTarget } from 'sandbox-procs';

/** Settings from the environment; without any of them, name each missing one and stop here rather than reach a provider's cloud. */
function env<Name extends string>(...names: Name[]): Record<Name, string> {
  const missing = names.filter((name) => !process.env[name]);
  for (const name of missing) console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider ${name.startsWith('HOPX_') ? 'hopx' : 'tensorlake'} --control-plane\` prints it)`);
  if (missing.length > 0) process.exit(2);
  return Object.fromEntries(names.map((name) => [name, process.env[name]!])) as Record<Name, string>;
}

const settings = env('HOPX_API_KEY', 'HOPX_BASE_URL', 'TENSORLAKE_API_KEY', 'TENSORLAKE_API_URL', 'TENSORLAKE_SANDBOX_PROXY_URL');
const targets: SandboxTarget[] = [
  { provider: 'hopx', apiKey: settings.HOPX_API_KEY, controlPlaneUrl: settings.HOPX_BASE_URL },
  { provider: 'tensorlake', apiKey: settings.TENSORLAKE_API_KEY, controlPlaneUrl: settings.TENSORLAKE_API_URL, proxyUrl: settings.TENSORLAKE_SANDBOX_PROXY_URL },
];
for (const target of targets) {
  // A backstop: the provider deletes it after 10 minutes even if this program is killed before the block ends.
  await using sandbox = await createSandbox(target, { timeoutSeconds: 600 });
  const started = await sandbox.processes.start({ command: 'sh', args: ['-c', 'exit 3'] });
  const ended = await waitForExit(sandbox.processes, started.id, { timeoutMs: 10_000 });
  console.log(sandbox.provider, ended?.status, ended?.exitCode); // hopx failed 3, then tensorlake exited 3
}
