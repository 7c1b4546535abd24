// specs/hopx.yaml says where each fact comes from: every operation and every
// schema names its source (repository or site, and path) in `x-source`, or says
// it is inferred; the facts the issue pinned down are stated as the sources say.
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../src/specs.js';

const spec = loadSpec('hopx') as any;
// "<repository or site>: <path>", e.g. "hopx-ai/hopx: openapi_agent.json:2050".
const SOURCE = /^(hopx-ai\/hopx|@hopx-ai\/sdk \d+\.\d+\.\d+|docs\.hopx\.ai|seed 003): \S/;
const sourcesOf = (node: any): string[] => [node?.['x-source'] ?? []].flat();

describe('specs/hopx.yaml: sources', () => {
  const operations = Object.entries<any>(spec.paths).flatMap(([path, item]) =>
    Object.entries<any>(item)
      .filter(([method]) => method !== 'parameters')
      .map(([method, op]) => [`${method} ${path}`, op] as const),
  );

  it.each(operations)('%s names its sources by repository and path', (_name, op) => {
    expect(sourcesOf(op).length).toBeGreaterThan(0);
    for (const source of sourcesOf(op)) expect(source).toMatch(SOURCE);
  });

  it('every schema names a source or says what is inferred, and every x-source anywhere has a repository and path', () => {
    const bare = Object.entries<any>(spec.components.schemas)
      // What only the emulator sends (x-emulator-only) is no fact of HopX's: it has no HopX source to name.
      .filter(([, schema]) => sourcesOf(schema).length === 0 && !schema['x-inferred'] && !schema['x-emulator-only'])
      .map(([name]) => name);
    // Env is a shape (a map of strings), not a fact of one source.
    expect(bare).toEqual(['Env']);
    const values: string[] = [];
    const walk = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'x-source') values.push(...[value].flat());
        walk(value);
      }
    };
    walk(spec);
    expect(values.length).toBeGreaterThan(40);
    expect(values.filter((v) => !SOURCE.test(v))).toEqual([]);
  });

  it('states the facts the sources give', () => {
    const { schemas } = spec.components;
    // Python model's Language (models.py:81-91).
    expect(schemas.Language.enum).toEqual(['python', 'python3', 'node', 'nodejs', 'javascript', 'js', 'bash', 'sh', 'shell', 'go']);
    // The agent requires no field of ExecuteRequest.
    expect(schemas.ExecuteRequest.required).toBeUndefined();
    // Error bodies: code optional, timestamp and request_id declared (seed 003's {error, code} stays valid).
    expect(schemas.ErrorResponse.required).toEqual(['error']);
    expect(Object.keys(schemas.ErrorResponse.properties)).toEqual(expect.arrayContaining(['code', 'request_id', 'timestamp']));
    // /processes: its 500, no invented `user`.
    expect(Object.keys(spec.paths['/processes'].get.responses)).toContain('500');
    expect(schemas.SystemProcess.properties).not.toHaveProperty('user');
    expect(schemas.SystemProcess.required).toEqual(['pid']);
    // What the official SDK relies on.
    expect(schemas.ExecuteResponse.required).toContain('execution_time');
    expect(schemas.RunCommandResponse.required).toEqual(expect.arrayContaining(['success', 'execution_time']));
    expect(Object.keys(schemas.RunCommandResponse.properties)).toEqual(expect.arrayContaining(['pid', 'timestamp']));
    expect(schemas.BackgroundExecuteResponse.required).toContain('execution_id');
    expect(schemas.BackgroundProcess.required).toContain('started_at');
    expect(schemas.HealthResponse.required).toEqual(expect.arrayContaining(['version', 'uptime_seconds']));
    expect(schemas.InfoResponse.required).toEqual(expect.arrayContaining(['version', 'uptime_seconds']));
    // The operations only the SDKs call are marked inferred.
    for (const path of ['/execute/async', '/execute/ipython']) expect(spec.paths[path].post['x-inferred']).toBeTruthy();
    // The WebSocket routes of the agent spec are operations answering 101; the two the SDKs
    // use name their channel in hopx.asyncapi.yaml, the others say no source describes their messages.
    expect(spec['x-websocket']).toBeUndefined();
    const upgrades = Object.entries<any>(spec.paths).filter(([, item]) => item.get?.responses?.['101']);
    expect(upgrades.map(([path]) => path).sort()).toEqual(['/commands/stream', '/execute/stream', '/stream', '/stream/ipython', '/terminal']);
    expect(spec.paths['/execute/stream'].get['x-channel']).toBe('executeStream');
    expect(spec.paths['/terminal'].get['x-channel']).toBe('terminal');
    for (const path of ['/commands/stream', '/stream', '/stream/ipython']) expect(spec.paths[path].get['x-inferred'].messages).toBeTruthy();
    // Both SDKs stop at `complete`; the result's timestamp is optional (the Python SDK's docstring has none).
    expect(schemas.StreamCompleteMessage.required).toEqual(['type', 'success']);
    expect(schemas.StreamResultMessage.required).not.toContain('timestamp');
  });
});

describe('specs/hopx-control.yaml: sources', () => {
  const control = loadSpec('hopx-control') as any;
  const operations = Object.entries<any>(control.paths).flatMap(([path, item]) =>
    Object.entries<any>(item)
      .filter(([method]) => method !== 'parameters')
      .map(([method, op]) => [`${method} ${path}`, op] as const),
  );

  it('describes the lifecycle operations the SDKs call, each one openapi_public.json declares; its templates are declared as not emulated', () => {
    expect(operations.filter(([name, op]) => op['x-emulated'] === false && !name.includes('/v1/templates')).map(([name]) => name)).toEqual([]);
    expect(operations.filter(([, op]) => op['x-emulated'] === false).length).toBeGreaterThanOrEqual(7);
    expect(operations.filter(([, op]) => op['x-emulated'] !== false).map(([name]) => name).sort()).toEqual(
      [
        'get /health',
        'post /v1/sandboxes',
        'get /v1/sandboxes',
        'get /v1/sandboxes/{sandbox_id}',
        'delete /v1/sandboxes/{sandbox_id}',
        'post /v1/sandboxes/{sandbox_id}/pause',
        'post /v1/sandboxes/{sandbox_id}/resume',
        'post /v1/sandboxes/{sandbox_id}/start',
        'post /v1/sandboxes/{sandbox_id}/stop',
        'put /v1/sandboxes/{sandbox_id}/timeout',
        'post /v1/sandboxes/{sandbox_id}/token/refresh',
      ].sort(),
    );
  });

  it.each(operations)('%s cites openapi_public.json, HopX\'s own document of its public API', (_name, op) => {
    expect(sourcesOf(op).some((source) => source.startsWith('hopx-ai/hopx: openapi_public.json:'))).toBe(true);
  });

  it('answers a deleted sandbox with 200 and a JSON object, as openapi_public.json says and the Python SDK needs', () => {
    const responses = control.paths['/v1/sandboxes/{sandbox_id}'].delete.responses;
    expect(Object.keys(responses)).not.toContain('204');
    expect(responses['200'].content['application/json']).toBeDefined();
    expect(control.paths['/health'].get.security).toEqual([]);
  });

  it.each(operations)('%s names its sources by package or repository and path', (_name, op) => {
    expect(sourcesOf(op).length).toBeGreaterThan(0);
    for (const source of sourcesOf(op)) expect(source).toMatch(SOURCE);
  });

  it('every schema names a source, every x-source has a repository and path, and the auth is the SDK\'s X-API-Key', () => {
    expect(Object.entries<any>(control.components.schemas).filter(([, schema]) => sourcesOf(schema).length === 0).map(([name]) => name)).toEqual([]);
    const values: string[] = [];
    const walk = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'x-source') values.push(...[value].flat());
        walk(value);
      }
    };
    walk(control);
    expect(values.filter((v) => !SOURCE.test(v))).toEqual([]);
    expect(control.components.securitySchemes.apiKeyAuth).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    // What the SDK reads off a sandbox to reach its agent.
    expect(control.components.schemas.SandboxInfo.required).toEqual(expect.arrayContaining(['public_host', 'status']));
    expect(control.components.schemas.AgentToken.required).toEqual(['auth_token', 'token_expires_at']);
    // Statuses no source states are marked inferred.
    // The statuses openapi_public.json states are no longer inferred; what the emulator answers beyond them is a disagreement.
    expect(control.paths['/v1/sandboxes'].post['x-inferred']).toBeUndefined();
    expect(control.paths['/v1/sandboxes'].post['x-disagreements']).toBeTruthy();
    expect(control.paths['/v1/sandboxes/{sandbox_id}'].delete['x-inferred']).toBeTruthy();
    expect(control.components.schemas.ErrorResponse['x-inferred']).toBeTruthy();
  });
});
