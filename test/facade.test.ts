// What the facade sends and how it turns each kind of response into a typed
// result or a typed error, against real local servers.
import { createServer as createNetServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  NetworkError,
  NotFoundError,
  SandboxProcsError,
  ServerError,
  TimeoutError,
  UnexpectedResponseError,
  createHopxClient,
  createTensorlakeClient,
  hopxSandboxHost,
  tensorlakeSandboxHost,
} from '../src/index.js';
import { freePort } from '../src/prism.js';
import { json, startServer, type Handler, type TestServer } from './support/servers.js';
import { testKey } from './support/secrets.js';

const apiKey = testKey('facade');
const open: TestServer[] = [];
async function serve(handler: Handler): Promise<TestServer> {
  const server = await startServer(handler);
  open.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function failure(promise: Promise<unknown>): Promise<SandboxProcsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SandboxProcsError);
  return error as SandboxProcsError;
}

describe('requests', () => {
  it('Tensorlake kill sends DELETE /api/v1/processes/{pid} with the bearer token', async () => {
    const server = await serve((_req, res) => res.writeHead(204).end());
    const client = createTensorlakeClient({ apiKey, baseUrl: `${server.baseUrl}/` });
    await expect(client.killProcess(42)).resolves.toBeUndefined();
    expect(server.received).toHaveLength(1);
    expect(server.received[0]).toMatchObject({ method: 'DELETE', url: '/api/v1/processes/42', body: '' });
    expect(server.received[0]!.headers.authorization).toBe(`Bearer ${apiKey}`);
  });

  it('HopX kill sends each of the three forms as its source documents it', async () => {
    const server = await serve((_req, res) => json(res, 200, { process_id: 'proc_a b', status: 'killed', message: 'done' }));
    const client = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    const result = await client.killProcess('proc_a b');
    expect(result).toEqual({ process_id: 'proc_a b', status: 'killed', message: 'done' });
    await client.killProcess('proc_a b', { form: 'query' });
    await client.killProcess('proc_a/b', { form: 'path' });
    const [body, query, path] = server.received;
    expect(body).toMatchObject({ method: 'DELETE', url: '/execute/kill', body: '{"process_id":"proc_a b"}' });
    expect(body!.headers['content-type']).toBe('application/json');
    expect(query).toMatchObject({ method: 'DELETE', url: '/execute/kill?process_id=proc_a%20b', body: '' });
    expect(path).toMatchObject({ method: 'POST', url: '/execute/kill/proc_a%2Fb', body: '' });
  });

  it('uses the kill form chosen for the client', async () => {
    const server = await serve((_req, res) => json(res, 200, { process_id: 'p', status: 'killed', message: 'm' }));
    await createHopxClient({ apiKey, baseUrl: server.baseUrl, killForm: 'path' }).killProcess('p');
    expect(server.received[0]).toMatchObject({ method: 'POST', url: '/execute/kill/p' });
  });

  it('derives the documented hosts from a sandbox id', () => {
    expect(tensorlakeSandboxHost('sbx-1')).toBe('https://sbx-1.sandbox.tensorlake.ai');
    expect(hopxSandboxHost('sandbox_abc123xyz')).toBe('https://sandbox_abc123xyz.hopx.dev');
  });
});

describe('declared error responses become typed errors', () => {
  it('404 is a NotFoundError with the provider code and the request id', async () => {
    const server = await serve((_req, res) =>
      json(res, 404, { error: 'Process not found', code: 'RESOURCE_NOT_FOUND' }, { 'x-request-id': 'req_123' }),
    );
    const error = await failure(createHopxClient({ apiKey, baseUrl: server.baseUrl }).killProcess('proc_x'));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ provider: 'hopx', operation: 'kill_process', status: 404, code: 'RESOURCE_NOT_FOUND', requestId: 'req_123' });
    expect(error.message).toBe('hopx kill_process 404 RESOURCE_NOT_FOUND: Process not found (request req_123)');
  });

  it('401 is an AuthenticationError and 500 a ServerError', async () => {
    let status = 401;
    const server = await serve((_req, res) => json(res, status, { error: 'nope' }));
    const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    expect(await failure(client.killProcess(1))).toBeInstanceOf(AuthenticationError);
    status = 500;
    const error = await failure(client.killProcess(1));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 500, code: undefined, operation: 'sandbox_process_kill' });
  });
});

describe('responses that break the contract become UnexpectedResponseError', () => {
  it.each([
    ['an undeclared status', 418, 'application/json', '{"error":"teapot"}', 'UNDECLARED_STATUS'],
    ['a success body of an undeclared content type', 200, 'text/plain', 'killed', 'UNDECLARED_CONTENT_TYPE'],
    ['a malformed JSON success body', 200, 'application/json', '{"process_id": ', 'INVALID_JSON'],
    ['an empty success body where JSON is declared', 200, 'application/json', '', 'EMPTY_BODY'],
    ['an HTML 404 from a proxy', 404, 'text/html', '<h1>Not Found</h1>', 'INVALID_JSON'],
  ])('%s', async (_name, status, contentType, body, code) => {
    const server = await serve((_req, res) => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(body);
    });
    const error = await failure(createHopxClient({ apiKey, baseUrl: server.baseUrl }).killProcess('proc_1'));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ provider: 'hopx', operation: 'kill_process', status, code });
  });
});

describe('transport failures are typed and bounded', () => {
  it('a server that never answers gives a TimeoutError after timeoutMs', async () => {
    const server = await serve(() => {
      // never respond
    });
    const started = Date.now();
    const error = await failure(createTensorlakeClient({ apiKey, baseUrl: server.baseUrl, timeoutMs: 100 }).killProcess(7));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ provider: 'tensorlake', operation: 'sandbox_process_kill', status: undefined });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a refused connection gives a NetworkError', async () => {
    const port = await freePort();
    const error = await failure(createTensorlakeClient({ apiKey, baseUrl: `http://127.0.0.1:${port}` }).killProcess(7));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.cause).toBeDefined();
  });

  it('a connection reset before the response gives a NetworkError', async () => {
    const server: Server = createNetServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const error = await failure(createHopxClient({ apiKey, baseUrl: `http://127.0.0.1:${port}` }).killProcess('p'));
      expect(error).toBeInstanceOf(NetworkError);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
