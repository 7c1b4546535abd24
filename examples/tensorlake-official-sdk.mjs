// examples/tensorlake-official-sdk.mjs: Tensorlake's official SDK (npm `tensorlake`), unchanged,
// against the local control plane.
// Run: with Node 22 or later (the SDK needs it) and `npm install tensorlake` done,
//      npx sandbox-procs emulate --provider tensorlake --control-plane, paste the export lines it prints, then
//      node examples/tensorlake-official-sdk.mjs

// Without these the SDK would go to Tensorlake's cloud: refuse instead, before loading it (it may not be installed).
for (const name of ['TENSORLAKE_API_URL', 'TENSORLAKE_SANDBOX_PROXY_URL', 'TENSORLAKE_API_KEY']) {
  if (!process.env[name]) {
    console.error(`error: ${name} is not set (\`npx sandbox-procs emulate --provider tensorlake --control-plane\` prints the export lines to paste)`);
    process.exit(2);
  }
}
const { Sandbox } = await import('tensorlake');

const sandbox = await Sandbox.create();
try {
  const talker = await sandbox.startProcess('sh', { args: ['-c', 'echo hello; echo world; exec sleep 60'] });
  const abort = new AbortController();
  const lines = [];
  for await (const event of sandbox.followStdout(talker.pid, { signal: abort.signal })) {
    lines.push(event.line);
    if (lines.length === 2) break;
  }
  abort.abort();
  console.log(lines.join(' ')); // hello world
  await sandbox.killProcess(talker.pid);

  const result = await sandbox.run('sh', { args: ['-c', 'echo ran'] });
  console.log(result.exitCode, result.stdout.trim()); // 0 ran
} finally {
  await sandbox.terminate(); // deletes the sandbox and every process in it
}
