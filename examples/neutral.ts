// examples/neutral.ts: the provider-neutral interface, the same code on both providers.
// Run: TENSORLAKE_SANDBOX_URL=... TENSORLAKE_API_KEY=... HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/neutral.ts
import { createHopxClient, createTensorlakeClient, type SandboxProcesses } from 'sandbox-procs';

/** A setting from the environment; without it, stop here rather than send anything anywhere. */
function env(name: string): string {
  const value = process.env[name];
  if (value) return value;
  console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider tensorlake\`, or \`--provider hopx\`, prints the export lines to paste)`);
  process.exit(2);
}

async function stopAll(processes: SandboxProcesses): Promise<number> {
  let stopped = 0;
  for (const proc of await processes.list()) {
    if (!proc.running) continue;
    // SIGTERM first where there are signals; terminate() (examples/flows.ts) also waits a grace period.
    if (processes.capabilities.signals) await processes.signal(proc.id, 15);
    await processes.kill(proc.id); // false when the SIGTERM already ended it
    stopped++;
  }
  return stopped;
}

const sandboxes: SandboxProcesses[] = [
  createTensorlakeClient({ baseUrl: env('TENSORLAKE_SANDBOX_URL'), apiKey: env('TENSORLAKE_API_KEY') }).processes,
  createHopxClient({ baseUrl: env('HOPX_SANDBOX_URL'), apiKey: env('HOPX_AUTH_TOKEN') }).processes,
];
for (const processes of sandboxes) {
  const started = await processes.start({ command: 'sleep', args: ['60'], cwd: '/tmp' });
  // e.g. tensorlake 4242 sleep [ '60' ] running 2026-11-24T09:30:00.000Z
  console.log(processes.provider, started.id, started.command, started.args, started.status, started.startedAt?.toISOString());
  console.log(await stopAll(processes)); // 1
}
