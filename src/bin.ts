#!/usr/bin/env node
// The `sandbox-procs` executable. Kept apart from cli.ts so that importing main()
// never runs it, and so that a missing optional peer dependency (the CLI's, not
// the client's) gets a clear message instead of a stack trace.
const PEERS = ['@stoplight/prism-cli', 'ajv', 'yaml'];

try {
  const { main } = await import('./cli.js');
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && PEERS.find((peer) => (error as Error).message.includes(`'${peer}`));
  if (!missing) throw error;
  process.stderr.write(
    `error: the sandbox-procs CLI needs ${missing}, an optional peer dependency the client does not install.\n` +
      `Install the CLI's dependencies with: npm install --save-dev @stoplight/prism-cli@~5.14.2 ajv yaml\n`,
  );
  process.exitCode = 2;
}
