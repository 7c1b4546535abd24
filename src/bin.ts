#!/usr/bin/env node
// The `sandbox-procs` executable. Kept apart from cli.ts so that importing main()
// never runs it, and so that it runs whatever path (symlink, npx) started it.
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
