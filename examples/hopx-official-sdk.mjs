// examples/hopx-official-sdk.mjs: HopX's official SDK (@hopx-ai/sdk), unchanged, against the local control plane.
// Run: npx sandbox-procs emulate --provider hopx --control-plane, paste the export lines it prints, then
//      node examples/hopx-official-sdk.mjs
import { Sandbox } from '@hopx-ai/sdk';

// The SDK reads HOPX_API_KEY itself, but would go to HopX's cloud without a baseURL: refuse instead.
for (const name of ['HOPX_API_KEY', 'HOPX_BASE_URL']) {
  if (!process.env[name]) {
    console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider hopx --control-plane\` prints the export lines to paste)`);
    process.exit(2);
  }
}

const sandbox = await Sandbox.create({ template: 'code-interpreter', baseURL: process.env.HOPX_BASE_URL });
try {
  const result = await sandbox.runCode('print(6 * 7)');
  console.log(result.stdout.trim()); // 42

  const started = await sandbox.runCodeBackground('import time\nfor i in range(3):\n    print(i, flush=True)\ntime.sleep(60)', { name: 'ticker' });
  // Its output so far comes with each list entry (`stdout`, which the agent sends beside the SDK's typed fields).
  let entry;
  for (let tries = 0; tries < 100 && !entry?.stdout?.includes('2\n'); tries++) {
    if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    entry = (await sandbox.listProcesses()).find((p) => p.process_id === started.process_id);
  }
  console.log(entry.name, entry.status, JSON.stringify(entry.stdout)); // ticker running "0\n1\n2\n"
  await sandbox.killProcess(started.process_id);

  const command = await sandbox.commands.run('echo hello | tr a-z A-Z');
  console.log(command.stdout.trim()); // HELLO
} finally {
  await sandbox.kill(); // deletes the sandbox and every process in it
}
