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

const cache = new Map<SpecName, OpenApiDocument>();

export function loadSpec(provider: SpecName): OpenApiDocument {
  let doc = cache.get(provider);
  if (!doc) {
    doc = parse(readFileSync(specPath(provider), 'utf8')) as OpenApiDocument;
    cache.set(provider, doc);
  }
  return doc;
}

/** A provider's AsyncAPI document: the message side of its WebSocket channels, whose payloads `$ref` the OpenAPI spec's schemas. */
export function asyncApiPath(provider: ProviderName): string {
  return join(packageRoot, 'specs', `${provider}.asyncapi.yaml`);
}

export type AsyncApiDocument = Record<string, unknown> & { channels?: Record<string, unknown>; operations?: Record<string, unknown> };

const asyncCache = new Map<ProviderName, AsyncApiDocument>();

export function loadAsyncApi(provider: ProviderName): AsyncApiDocument {
  let doc = asyncCache.get(provider);
  if (!doc) {
    doc = parse(readFileSync(asyncApiPath(provider), 'utf8')) as AsyncApiDocument;
    asyncCache.set(provider, doc);
  }
  return doc;
}
