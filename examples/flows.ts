// examples/flows.ts: terminate, waitForExit, runWithTimeout and killAll, the same on both providers.
// Run: TENSORLAKE_SANDBOX_URL=... TENSORLAKE_API_KEY=... HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/flows.ts
import { createHopxClient, createTensorlakeClient, killAll, runWithTimeout, terminate, waitForExit, type SandboxProcesses } from 'sandbox-procs';

/** Settings from the environment; without any of them, name each missing one and stop here rather than send anything anywhere. */
function env<Name extends string>(...names: Name[]): Record<Name, string> {
  const missing = names.filter((name) => !process.env[name]);
  for (const name of missing) {
    const provider = name.startsWith('HOPX_') ? 'hopx' : 'tensorlake';
    console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider ${provider}\` prints the export lines to paste)`);
  }
  if (missing.length > 0) process.exit(2);
  return Object.fromEntries(names.map((name) => [name, process.env[name]!])) as Record<Name, string>;
}

const settings = env('TENSORLAKE_SANDBOX_URL', 'TENSORLAKE_API_KEY', 'HOPX_SANDBOX_URL', 'HOPX_AUTH_TOKEN');
const sandboxes: SandboxProcesses[] = [
  createTensorlakeClient({ baseUrl: settings.TENSORLAKE_SANDBOX_URL, apiKey: settings.TENSORLAKE_API_KEY }).processes,
  createHopxClient({ baseUrl: settings.HOPX_SANDBOX_URL, apiKey: settings.HOPX_AUTH_TOKEN }).processes,
];
for (const processes of sandboxes) {
  const worker = await processes.start({ command: 'sleep', args: ['600'] });
  // Tensorlake: SIGTERM, up to 5 s to exit, then SIGKILL. HopX has no signals: kill.
  const { outcome } = await terminate(processes, worker.id, { graceMs: 5_000 }); // 'exited' | 'killed' | 'gone'

  const job = await processes.start({ command: 'sh', args: ['-c', 'sleep 0.2; exit 3'] });
  const finished = await waitForExit(processes, job.id, { timeoutMs: 60_000, signal: AbortSignal.timeout(120_000) });
  console.log(processes.provider, outcome, finished?.exitCode); // tensorlake exited 3, then hopx killed 3

  const { timedOut } = await runWithTimeout(processes, { command: 'sleep', args: ['600'] }, { timeoutMs: 1_000 });
  await Promise.all([processes.start({ command: 'sleep', args: ['600'] }), processes.start({ command: 'tail', args: ['-f', '/dev/null'] })]);
  const killed = await killAll(processes, (p) => p.command === 'sleep'); // the tail keeps running
  console.log(timedOut, killed.length); // true 1
  await killAll(processes);
}
