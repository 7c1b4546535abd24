// Where the package's own specs are, and their parsed contents (read once per process).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from './package-root.js';
import type { ProviderName } from './errors.js';

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
