// Where the package's own specs are, and their parsed contents (read once per process).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from './package-root.js';
import type { ProviderName } from './errors.js';

/** A provider's process-API spec, or (`<provider>-control`) its sandbox lifecycle API's. */
export type SpecName = ProviderName | `${ProviderName}-control`;

export function specPath(provider: SpecName): string {
  return join(packageRoot, 'specs', `${provider}.yaml`);
}

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

/** Every document read once, by path: the specs are read-only for the life of the process. */
const documents = new Map<string, unknown>();

function loadDocument<T>(path: string): T {
  if (!documents.has(path)) documents.set(path, parse(readFileSync(path, 'utf8')));
  return documents.get(path) as T;
}

export function loadSpec(provider: SpecName): OpenApiDocument {
  return loadDocument<OpenApiDocument>(specPath(provider));
}

/** A provider's AsyncAPI document: the message side of its WebSocket channels, whose payloads `$ref` the OpenAPI spec's schemas. */
export function asyncApiPath(provider: ProviderName): string {
  return join(packageRoot, 'specs', `${provider}.asyncapi.yaml`);
}

export type AsyncApiDocument = Record<string, unknown> & { channels?: Record<string, unknown>; operations?: Record<string, unknown> };

export function loadAsyncApi(provider: ProviderName): AsyncApiDocument {
  return loadDocument<AsyncApiDocument>(asyncApiPath(provider));
}
