// Where the package is installed, whether running from src/ or dist/src/. Apart
// from specs.ts, which needs yaml: `sandbox-procs --version` reads the manifest
// from here and must run without the CLI's optional peers.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'sandbox-procs') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the sandbox-procs package root (and its specs/)');
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();
