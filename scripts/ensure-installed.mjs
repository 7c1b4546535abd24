#!/usr/bin/env node
// First step of `npm run check` and `npm test`: on a fresh clone (no node_modules
// yet) it runs `npm ci` once, so that each of the README's two commands does all
// set-up by itself and running both never installs twice. With dependencies
// present it does nothing and prints nothing (stdout stays the command's own:
// `npm run -s check -- --json` prints only JSON). Needs nothing but Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// npm writes this after every install: its absence means nothing was ever installed here.
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  process.stderr.write('sandbox-procs: no node_modules yet; installing the locked dependencies once (npm ci)\n');
  // Under `npm run`, npm_execpath is the npm that runs us; its output goes to stderr with everything else we say.
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const result = spawnSync(npm[0], [...npm.slice(1), 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) {
    process.stderr.write(`sandbox-procs: npm ci failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`}); run it yourself to see why\n`);
    process.exit(1);
  }
}
