// Where the package's own specs are, whether running from src/ or dist/src/, and
// their parsed contents (read once per process).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { ProviderName } from './errors.js';

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

export function specPath(provider: ProviderName): string {
  return join(packageRoot, 'specs', `${provider}.yaml`);
}

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

const cache = new Map<ProviderName, OpenApiDocument>();

export function loadSpec(provider: ProviderName): OpenApiDocument {
  let doc = cache.get(provider);
  if (!doc) {
    doc = parse(readFileSync(specPath(provider), 'utf8')) as OpenApiDocument;
    cache.set(provider, doc);
  }
  return doc;
}
