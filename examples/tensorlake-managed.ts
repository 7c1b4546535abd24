// examples/tensorlake-managed.ts: a managed process, addressed by its name and restarted by its policy.
// Run: TENSORLAKE_SANDBOX_URL=... TENSORLAKE_API_KEY=... npx -y tsx examples/tensorlake-managed.ts
import { createTensorlakeClient } from 'sandbox-procs';

/** A setting from the environment; without it, stop here rather than send anything anywhere. */
function env(name: string): string {
  const value = process.env[name];
  if (value) return value;
  console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider tensorlake\` prints the export lines to paste)`);
  process.exit(2);
}

const sandbox = createTensorlakeClient({ baseUrl: env('TENSORLAKE_SANDBOX_URL'), apiKey: env('TENSORLAKE_API_KEY') });
const first = await sandbox.startProcess({
  command: 'sh',
  args: ['-c', 'while true; do date; sleep 5; done'],
  name: 'clock',
  restart: { policy: 'on_failure', max_restarts: 5 },
});
const clock = await sandbox.restartProcess('clock'); // a new PID, the same name
console.log(clock.pid !== first.pid, clock.managed?.name, clock.managed?.restart_count); // true clock 1
await sandbox.killProcess('clock'); // stops it for good: no restart follows
