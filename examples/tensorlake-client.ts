// examples/tensorlake-client.ts: Tensorlake's process API through the typed client.
// Run: TENSORLAKE_SANDBOX_URL=... TENSORLAKE_API_KEY=... npx -y tsx examples/tensorlake-client.ts
import { createTensorlakeClient } from 'sandbox-procs';

/** A setting from the environment; without it, stop here rather than send anything anywhere. */
function env(name: string): string {
  const value = process.env[name];
  if (value) return value;
  console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider tensorlake\` prints the export lines to paste)`);
  process.exit(2);
}

const tensorlake = createTensorlakeClient({
  baseUrl: env('TENSORLAKE_SANDBOX_URL'), // e.g. https://my-sandbox.sandbox.tensorlake.ai
  apiKey: env('TENSORLAKE_API_KEY'),
});

const proc = await tensorlake.startProcess({ command: 'python3', args: ['-u', '-c', 'print(input().upper())'], stdin_mode: 'pipe' });
await tensorlake.writeStdin(proc.pid, 'go\n');
await tensorlake.closeStdin(proc.pid);

// Captured lines first, then live ones; the loop ends at the eof event.
for await (const event of tensorlake.followOutput(proc.pid)) {
  if (event.type === 'output') console.log(`[${event.stream}] ${event.line}`); // [stdout] GO
}

const finished = await tensorlake.getProcess(proc.pid);
console.log(finished.status, finished.exit_code); // exited 0 ('exited' | 'signaled' | ..., number | null)

// Start and stream in one call; a stream cut before its exit frame throws, it never fakes an exit code.
for await (const event of tensorlake.run({ command: 'sh', args: ['-c', 'echo one; echo two; exit 3'] })) {
  if (event.type === 'output') console.log(event.line);
  if (event.type === 'exit') console.log('exit', event.exit_code ?? `signal ${event.signal}`); // exit 3
}

// Stopping: SIGTERM first, as Tensorlake advises; SIGKILL (killProcess) for what ignores it.
// terminate() (examples/flows.ts) does both, with a grace period in between.
const sleeper = await tensorlake.startProcess({ command: 'sleep', args: ['600'] });
const signalled = await tensorlake.sendSignal(sleeper.pid, 15);
const stubborn = await tensorlake.startProcess({ command: 'sh', args: ['-c', 'trap "" TERM; sleep 600'] });
await tensorlake.killProcess(stubborn.pid);
console.log(signalled.success, (await tensorlake.getProcess(stubborn.pid)).signal); // true 9
