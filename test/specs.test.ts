// Our specs are valid OpenAPI 3.1 (Redocly lint, ruleset in redocly.yaml) and state
// the seed documents' facts exactly. The seeds are kept in test/fixtures/seeds/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lint, loadConfig } from '@redocly/openapi-core';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SpecValidator } from '../src/contract/validate.js';
import { loadSpec, specPath } from '../src/specs.js';

const root = join(import.meta.dirname, '..');
const seed = (name: string) => readFileSync(join(root, 'test/fixtures/seeds', name), 'utf8');

describe.each(['tensorlake', 'hopx', 'hopx-control', 'tensorlake-control'] as const)('specs/%s.yaml', (provider) => {
  it('lints clean as OpenAPI 3.1 with our ruleset', async () => {
    const config = await loadConfig({ configPath: join(root, 'redocly.yaml') });
    // Exceptions live in .redocly.lint-ignore.yaml, each with its reason.
    const problems = (await lint({ ref: specPath(provider), config })).filter((p) => !p.ignored);
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
    expect(loadSpec(provider).openapi).toBe('3.1.0');
  });

  it('references every component it defines (x-sse-events included), since the linter cannot see those refs', () => {
    const doc = loadSpec(provider) as unknown as { components: Record<string, Record<string, unknown>> };
    const refs = new Set(JSON.stringify(doc).match(/#\/components\/[^"]+/g));
    const unused = Object.entries(doc.components)
      .filter(([kind]) => kind !== 'securitySchemes')
      .flatMap(([kind, entries]) => Object.keys(entries).map((name) => `#/components/${kind}/${name}`))
      .filter((ref) => !refs.has(ref));
    expect(unused).toEqual([]);
  });
});

describe('the lint ruleset catches real problems', () => {
  it('reports a missing operationId, an undeclared tag and an example that breaks its schema', async () => {
    const config = await loadConfig({ configPath: join(root, 'redocly.yaml') });
    const broken = structuredClone(loadSpec('hopx')) as any;
    delete broken.paths['/execute/kill'].delete.operationId;
    broken.paths['/execute/kill'].delete.tags = ['undeclared'];
    broken.components.responses.ProcessNotFound.content['application/json'].example = { error: 1 };
    const { lintDocument, BaseResolver, makeDocumentFromString } = await import('@redocly/openapi-core');
    const document = makeDocumentFromString(JSON.stringify(broken), 'broken.json');
    const problems = await lintDocument({ document, config: config.styleguide, externalRefResolver: new BaseResolver() });
    const rules = new Set(problems.map((p) => p.ruleId));
    expect(rules).toContain('operation-operationId');
    expect(rules).toContain('operation-tag-defined');
    expect(rules).toContain('no-invalid-media-type-examples');
  });
});

describe('Tensorlake spec states seed 000 (Kill Process) exactly', () => {
  const text = seed('tensorlake-kill-process.md');
  const excerpt = parse(text.slice(text.indexOf('openapi: 3.1.0'), text.lastIndexOf('````'))) as any;
  const ours = loadSpec('tensorlake') as any;
  const path = '/api/v1/processes/{pid}';

  it('has the same path, method, operationId, tag, servers and security', () => {
    expect(Object.keys(excerpt.paths)).toEqual([path]);
    expect(ours.paths[path].servers).toEqual(excerpt.paths[path].servers);
    expect(ours.paths[path].delete.operationId).toBe('sandbox_process_kill');
    expect(ours.paths[path].delete.tags).toEqual(excerpt.paths[path].delete.tags);
    expect(ours.security).toEqual(excerpt.security);
    expect(ours.servers).toEqual(excerpt.servers);
    expect(ours.components.securitySchemes).toEqual(excerpt.components.securitySchemes);
  });

  // The SDKs also address a process by its managed name; the seed's integer PID stays one of the accepted forms.
  it('has the pid parameter with the same name and place, and still accepts the seed\'s int32 PID', () => {
    const [seedPid] = excerpt.paths[path].parameters;
    const resolve = (node: any): any => (node.$ref ? resolve(node.$ref.slice(2).split('/').reduce((n: any, k: string) => n[k], ours)) : node);
    const ourPid = resolve(ours.paths[path].parameters[0]);
    expect({ name: ourPid.name, in: ourPid.in, required: ourPid.required }).toEqual({ name: seedPid.name, in: seedPid.in, required: seedPid.required });
    const forms = resolve(ourPid.schema).anyOf.map(resolve);
    expect(forms).toContainEqual(expect.objectContaining(seedPid.schema));
    expect(JSON.stringify(ours.paths[path].delete['x-disagreements'])).toMatch(/docs-kill.*int32/);
  });

  it('declares every seed status with the same body, plus an inferred 401 and the daemon\'s 400', () => {
    const seedResponses = excerpt.paths[path].delete.responses;
    const ourResponses = ours.paths[path].delete.responses;
    for (const [status, response] of Object.entries<any>(seedResponses)) {
      expect(ourResponses[status].description).toBe(response.description);
      expect(ourResponses[status].content?.['application/json']?.schema).toEqual(response.content?.['application/json']?.schema);
    }
    const extra = Object.keys(ourResponses).filter((s) => !(s in seedResponses));
    expect(extra.sort()).toEqual(['400', '401']);
    expect(ourResponses['401']['x-inferred']).toBeTruthy();
    expect(ours.components.responses.BadProcessRef['x-source']).toMatch(/^tensorlakeai\/indexify: /);
  });

  it('has the seed error schema', () => {
    const { required, properties } = ours.components.schemas.SandboxProxyError;
    expect(required).toEqual(excerpt.components.schemas.SandboxProxyError.required);
    expect(Object.fromEntries(Object.entries<any>(properties).map(([k, v]) => [k, { type: v.type }]))).toEqual(
      excerpt.components.schemas.SandboxProxyError.properties,
    );
  });
});

describe('HopX spec states seed 003 (Kill Background Process) exactly', () => {
  const text = seed('hopx-kill-background-process.md');
  const ours = loadSpec('hopx') as any;
  const validator = new SpecValidator('hopx');
  const jsonBlockAfter = (marker: string) => {
    const from = text.indexOf('```json', text.indexOf(marker));
    return text.slice(text.indexOf('\n', from) + 1, text.indexOf('```', from + 7)).trim();
  };

  it('has DELETE /execute/kill on the documented host', () => {
    expect(text).toContain('DELETE /execute/kill\n');
    expect(ours.paths['/execute/kill'].delete.operationId).toBe('kill_process');
    expect(text).toContain('https://sandbox_abc123xyz.hopx.dev/execute/kill');
    expect(ours.servers[0].url).toBe('https://{sandbox_id}.hopx.dev');
    expect(ours.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('takes process_id (string, required) in a JSON body', () => {
    expect(text).toMatch(/\| `process_id` \| string \| Yes +\|/);
    const body = ours.components.schemas.KillProcessRequest;
    expect(body.required).toEqual(['process_id']);
    expect(ours.components.schemas.ProcessId.type).toBe('string');
    expect(Object.keys(ours.paths['/execute/kill'].delete.requestBody.content)).toEqual(['application/json']);
  });

  it('declares exactly the documented status codes', () => {
    const table = text.slice(text.indexOf('## Status Codes'), text.indexOf('## Errors'));
    const documented = [...table.matchAll(/^\| (\d{3}) /gm)].map((m) => m[1]);
    expect(documented).toEqual(['200', '400', '401', '404']);
    expect(Object.keys(ours.paths['/execute/kill'].delete.responses)).toEqual(documented);
  });

  it('accepts the documented 200 and 404 bodies, and requires the documented success fields', () => {
    const success = jsonBlockAfter('### Success (200 OK)');
    const notFound = jsonBlockAfter('### Process Not Found (404)');
    expect(validator.check('kill_process', { status: 200, contentType: 'application/json', bodyText: success })).toEqual([]);
    expect(validator.check('kill_process', { status: 404, contentType: 'application/json', bodyText: notFound })).toEqual([]);
    const fields = [...text.slice(text.indexOf('### Response Fields'), text.indexOf('## Status Codes')).matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]);
    expect(ours.components.schemas.KillProcessResponse.required).toEqual(fields);
    expect(ours.components.schemas.KillProcessResponse.properties.status.enum).toEqual(['killed']);
  });

  it('declares the other two kill forms, each marked with its source', () => {
    const op = ours.paths['/execute/kill'].delete;
    expect(op.parameters).toEqual([expect.objectContaining({ name: 'process_id', in: 'query', 'x-source': 'hopx-ai/hopx: openapi_agent.json:2050' })]);
    expect(Object.keys(op['x-forms'])).toEqual(['body', 'query']);
    const sdkForm = ours.paths['/execute/kill/{process_id}'].post;
    expect(sdkForm).toMatchObject({ operationId: 'kill_process_by_path' });
    expect(sdkForm['x-source']).toEqual(expect.arrayContaining(['hopx-ai/hopx: javascript/src/sandbox.ts:947', 'hopx-ai/hopx: python/hopx_ai/sandbox.py:1663']));
  });
});
