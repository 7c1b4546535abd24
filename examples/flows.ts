// examples/flows.ts: terminate, waitForExit, runWithTimeout and killAll, the same on both providers.
// Run: TENSORLAKE_SANDBOX_URL=... TENSORLAKE_API_KEY=... HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/flows.ts
import { createHopxClient, createTensorlakeClient, killAll, runWithTimeout, terminate, waitForExit, type SandboxProcesses } from 'sandbox-procs';

/** A setting from the environment; without it, stop here rather than send anything anywhere. */
function env(name: string): string {
  const value = process.env[name];
  if (value) return value;
  console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider tensorlake\`, or \`--provider hopx\`, prints the export lines to paste)`);
  process.exit(2);
}

const sandboxes: SandboxProcesses[] = [
  createTensorlakeClient({ baseUrl: env('TENSORLAKE_SANDBOX_URL'), apiKey: env('TENSORLAKE_API_KEY') }).processes,
  createHopxClient({ baseUrl: env('HOPX_SANDBOX_URL'), apiKey: env('HOPX_AUTH_TOKEN') }).processes,
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
