// Bad input is refused with a typed ValidationError before anything is sent: a
// real server counts the requests that arrive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHopxClient, createTensorlakeClient, HOPX_KILL_FORMS, ValidationError } from '../src/index.js';
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
    expect((error as Error).message).toMatch(/^tensorlake sandbox_process_kill: pid (must|matches none)/);
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
    expect(server.received.length).toBe(before + 3);
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
