// examples/neutral.ts: the provider-neutral interface, the same code on both providers.
// Run: TENSORLAKE_SANDBOX_URL=... TENSORLAKE_API_KEY=... HOPX_SANDBOX_URL=... HOPX_AUTH_TOKEN=... npx -y tsx examples/neutral.ts
import { createHopxClient, createTensorlakeClient, type SandboxProcesses } from 'sandbox-procs';

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

const settings = env('TENSORLAKE_SANDBOX_URL', 'TENSORLAKE_API_KEY', 'HOPX_SANDBOX_URL', 'HOPX_AUTH_TOKEN');
const sandboxes: SandboxProcesses[] = [
  createTensorlakeClient({ baseUrl: settings.TENSORLAKE_SANDBOX_URL, apiKey: settings.TENSORLAKE_API_KEY }).processes,
  createHopxClient({ baseUrl: settings.HOPX_SANDBOX_URL, apiKey: settings.HOPX_AUTH_TOKEN }).processes,
];
for (const processes of sandboxes) {
  const started = await processes.start({ command: 'sleep', args: ['60'], cwd: '/tmp' });
  // e.g. tensorlake 4242 sleep [ '60' ] running 2026-11-24T09:30:00.000Z
  console.log(processes.provider, started.id, started.command, started.args, started.status, started.startedAt?.toISOString());
  console.log(await stopAll(processes)); // 1
}
