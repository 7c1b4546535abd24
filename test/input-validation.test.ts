// Bad input is refused with a typed ValidationError before anything is sent: a
// real server counts the requests that arrive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHopxClient, createTensorlakeClient, HOPX_KILL_FORMS, ValidationError } from '../src/index.js';
import { operations as hopxControlOperations } from '../generated/hopx-control.operations.js';
import { operations as hopxOperations } from '../generated/hopx.operations.js';
import { operations as tensorlakeControlOperations } from '../generated/tensorlake-control.operations.js';
import { operations as tensorlakeOperations } from '../generated/tensorlake.operations.js';
import { describeAlternatives } from '../src/core/describe-schema.js';
import type { OperationTable, SchemaConstraints } from '../src/core/operation.js';
import { findViolation } from '../src/core/validate-input.js';
import { json, startServer, type TestServer } from './support/servers.js';
import { testKey } from './support/secrets.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer((req, res) => {
    if (req.method === 'DELETE' && req.url.startsWith('/api/v1/processes/')) {
      res.writeHead(204).end();
    } else {
      json(res, 200, { process_id: 'proc_1', status: 'killed', message: 'ok' });
    }
  });
});
afterAll(() => server.close());

const apiKey = testKey('validation');

describe('Tensorlake kill refuses a pid that is neither a positive int32 nor a managed name', () => {
  // A name is never empty, never all digits (those are PIDs) and never holds "/".
  const badPids: unknown[] = [0, -1, 2 ** 31, 1.5, '', '123', 'a/b', Number.NaN, Number.POSITIVE_INFINITY, null];

  it.each(badPids.map((pid) => [String(pid), pid]))('pid %s', async (_name, pid) => {
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    const error = await client.killProcess(pid as number).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ provider: 'tensorlake', operation: 'sandbox_process_kill', status: undefined });
    expect((error as Error).message).toMatch(/^tensorlake sandbox_process_kill: pid must /);
    expect(server.received.length).toBe(before);
  });

  it('sends a valid pid (so the counter above can move)', async () => {
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    await client.killProcess(2 ** 31 - 1);
    expect(server.received.length).toBe(before + 1);
    expect(server.received.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/v1/processes/2147483647' });
  });

  it('sends a managed name percent-encoded, as the SDKs do', async () => {
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    await client.killProcess('web server #1');
    expect(server.received.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/v1/processes/web%20server%20%231' });
  });
});

describe('HopX kill refuses an empty or path-escaping process_id in every form', () => {
  const cases = HOPX_KILL_FORMS.flatMap((form) => [
    [form, ''],
    [form, 5],
    ...(form === 'path' ? [[form, '.'], [form, '..']] : []),
  ]) as Array<[(typeof HOPX_KILL_FORMS)[number], unknown]>;

  it.each(cases)('form %s, process_id %j', async (form, processId) => {
    const client = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    const error = await client.killProcess(processId as string, { form }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ provider: 'hopx' });
    expect(server.received.length).toBe(before);
  });

  it('refuses an unknown kill form', async () => {
    const client = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    await expect(client.killProcess('proc_1', { form: 'header' as 'body' })).rejects.toBeInstanceOf(ValidationError);
    expect(() => createHopxClient({ apiKey, baseUrl: server.baseUrl, killForm: 'x' as 'body' })).toThrow(ValidationError);
    expect(server.received.length).toBe(before);
  });

  it('sends a valid process_id in each form', async () => {
    const client = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    for (const form of HOPX_KILL_FORMS) await client.killProcess('proc_1', { form });
    expect(server.received.length).toBe(before + HOPX_KILL_FORMS.length);
  });
});

describe('client options are checked when the client is created', () => {
  it.each([
    ['an empty apiKey', { apiKey: '', baseUrl: 'https://example.test' }],
    ['no baseUrl or sandbox', { apiKey }],
    ['a sandbox that is not a host label', { apiKey, sandbox: 'a/b' }],
    ['a relative baseUrl', { apiKey, baseUrl: '/api' }],
    ['plain http to a remote host', { apiKey, baseUrl: 'http://sandbox.example.com' }],
    ['a non-positive timeout', { apiKey, baseUrl: 'https://example.test', timeoutMs: 0 }],
  ])('refuses %s', (_name, options) => {
    expect(() => createTensorlakeClient(options as never)).toThrow(ValidationError);
    expect(() => createHopxClient(options as never)).toThrow(ValidationError);
  });
});

describe('a body field the operation does not know is refused, not silently dropped by the server', () => {
  it('Tensorlake start with `cwd` (the field is `working_dir`): ValidationError naming the known fields, nothing sent', async () => {
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    // What plain JavaScript can pass; TypeScript refuses it at compile time.
    const error = await client.startProcess({ command: 'ls', cwd: '/tmp' } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/^tensorlake sandbox_process_start: body\.cwd is not a field of this request \(known: .*\bworking_dir\b.*\)$/);
    expect(server.received.length).toBe(before);
  });

  it('HopX background command with `cmd`: ValidationError, nothing sent; a field set to undefined is no field', async () => {
    const client = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    const error = await client.runCommandBackground({ command: 'ls', cmd: 'ls' } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/body\.cmd is not a field of this request/);
    expect(server.received.length).toBe(before);
    await client.runCommandBackground({ command: 'ls', timeout: undefined }).catch(() => undefined);
    expect(server.received.length).toBe(before + 1);
  });
});

describe('a value that fits none of the allowed forms: the error names each form', () => {
  it('a pid of -1: "a positive PID or a managed process name"', async () => {
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    const error = await client.killProcess(-1).catch((e: unknown) => e);
    expect((error as Error).message).toBe('tensorlake sandbox_process_kill: pid must be a positive PID or a managed process name (not all digits, no "/"), got -1');
  });

  it('a user of the wrong shape: the four forms the spec allows', async () => {
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    const before = server.received.length;
    const error = await client.startProcess({ command: 'ls', user: -3 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe(
      'tensorlake sandbox_process_start: body.user must be a user name, a uid (0 or more), an object with name (and gid) or an object with uid (and gid), got -3',
    );
    expect(server.received.length).toBe(before);
  });

  it('without titles, from the types and constraints', () => {
    const schema: SchemaConstraints = {
      anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', minLength: 1, pattern: '^[a-z]+$' }, { type: 'integer', minimum: -5, maximum: -1 }, { type: 'object', required: ['id'] }, { type: ['string', 'null'] }, { enum: ['a', 'b'] }],
    };
    expect(findViolation(schema, 0, 'x')).toBe('x must be a positive integer, a non-empty string matching ^[a-z]+$, an integer >= -5 and <= -1, an object with id, a string or null or one of "a", "b", got 0');
    expect(findViolation({ oneOf: [{ type: 'boolean' }, { type: 'array' }] }, 'yes', 'flag')).toBe('flag must be a boolean or an array, got "yes"');
  });

  it('every anyOf/oneOf in a request the specs describe has a title on each alternative (so no error falls back to a constraint dump)', () => {
    const untitled: string[] = [];
    const walk = (schema: SchemaConstraints | boolean | undefined, at: string) => {
      if (schema === undefined || typeof schema === 'boolean') return;
      for (const alternatives of [schema.anyOf, schema.oneOf]) {
        alternatives?.forEach((sub, i) => {
          if (!sub.title) untitled.push(`${at} alternative ${i + 1} (${describeAlternatives([sub])})`);
        });
      }
      for (const sub of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) walk(sub, at);
      for (const [name, sub] of Object.entries(schema.properties ?? {})) walk(sub, `${at}.${name}`);
      walk(schema.items, `${at}[]`);
      walk(schema.additionalProperties, `${at}.*`);
    };
    const tables = { hopx: hopxOperations, 'hopx-control': hopxControlOperations, tensorlake: tensorlakeOperations, 'tensorlake-control': tensorlakeControlOperations };
    let checked = 0;
    for (const [spec, table] of Object.entries(tables)) {
      for (const [operation, meta] of Object.entries(table as OperationTable)) {
        for (const param of meta.parameters) walk(param.schema, `${spec} ${operation} ${param.name}`);
        if (meta.requestBody) walk(meta.requestBody.schema, `${spec} ${operation} body`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(untitled).toEqual([]);
  });
});
