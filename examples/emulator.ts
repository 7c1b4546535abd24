// examples/emulator.ts: a local Tensorlake emulator started from code; needs no sandbox and no settings.
// Run: npx -y tsx examples/emulator.ts
import { startEmulator } from 'sandbox-procs/emulator';
import { createTensorlakeClient } from 'sandbox-procs';

const emulator = await startEmulator('tensorlake', { limits: { maxRunning: 8 } });
try {
  const client = createTensorlakeClient({ baseUrl: emulator.baseUrl, apiKey: emulator.token });
  const { pid } = await client.startProcess({ command: 'echo', args: ['hello'] });
  for await (const event of client.followStdout(pid)) if (event.type === 'output') console.log(event.line); // hello
} finally {
  await emulator.stop(); // stops every process it started
}
