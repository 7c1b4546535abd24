#!/usr/bin/env node
// The `sandbox-procs` executable. Kept apart from cli.ts so that importing main()
// never runs it. Each command checks the optional peers it needs (cli-peers.ts).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
