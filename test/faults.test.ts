// Fault injection with real local servers (node:http and node:net) that
// misbehave in every way the client must survive: each case ends in a typed
// SandboxProcsError within its (configurable, small) bound, with no raw
// TypeError or SyntaxError escaping, and no key in it.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  NetworkError,
  RateLimitError,
  SandboxProcsError,
  TimeoutError,
  UnexpectedResponseError,
  createHopxClient,
  createTensorlakeClient,
  type ClientOptions,
} from '../src/index.js';
import { freePort } from '../src/prism.js';
import { leakedKeys, testKey } from './support/secrets.js';

const apiKey = testKey('faults');
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

interface Hit {
  method: string;
  url: string;
  authorization: string | undefined;
}

async function http(handler: (req: IncomingMessage, res: ServerResponse, hit: number) => void) {
  const hits: Hit[] = [];
  const server = createHttpServer((req, res) => {
    hits.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => handler(req, res, hits.length));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

async function raw(onSocket: (socket: Socket) => void) {
  const server = createNetServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Fast bounds: small timeouts, retries that wait a few milliseconds. */
const fast: Partial<ClientOptions> = { timeoutMs: 200, retry: { baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 50 } };

async function typedFailure(promise: Promise<unknown>, boundMs = 3_000): Promise<SandboxProcsError> {
  const started = Date.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(Date.now() - started).toBeLessThan(boundMs);
  expect(error).toBeInstanceOf(SandboxProcsError);
  expect(error).not.toBeInstanceOf(TypeError);
  expect(leakedKeys(error)).toEqual([]);
  const typed = error as SandboxProcsError;
  expect(typed.provider).toMatch(/^(tensorlake|hopx)$/);
  expect(typed.operation).not.toBe('');
  return typed;
}

// Every case runs on both transports: the default (on Node, a keep-alive pool over
// node:http) and the global fetch given as the `fetch` option.
const transports: Array<{ name: string; options: Partial<ClientOptions> }> = [
  { name: 'node:http pool (default)', options: {} },
  { name: 'fetch', options: { fetch: (request: Request) => globalThis.fetch(request) } },
];

describe.each(transports)('$name transport', ({ options: transport }) => {
describe('connection faults', () => {
  it('connection refused: NetworkError after the retries', async () => {
    const client = createTensorlakeClient({ apiKey, ...transport, baseUrl: `http://127.0.0.1:${await freePort()}`, ...fast });
    const error = await typedFailure(client.getProcess(1));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ operation: 'sandbox_process_get', status: undefined, retries: 2 });
    expect(error.cause).toBeDefined();
  });

  it('reset in the middle of a body: NetworkError', async () => {
    const baseUrl = await raw((socket) =>
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"processes": [');
        setTimeout(() => socket.resetAndDestroy(), 20);
      }),
    );
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast }).listProcesses());
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.retries).toBe(2);
  });

  it('no answer: TimeoutError after timeoutMs, per attempt, bounded overall', async () => {
    const { baseUrl, hits } = await http(() => undefined);
    const error = await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast, timeoutMs: 100 }).listProcesses(), 2_000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(hits).toHaveLength(3);
  });

  it('a stream that goes silent: TimeoutError after streamIdleTimeoutMs', async () => {
    const { baseUrl } = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
    });
    const client = createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast, streamIdleTimeoutMs: 100 });
    const error = await typedFailure((async () => {
      for await (const event of client.followStdout(1)) void event;
    })());
    expect(error).toBeInstanceOf(TimeoutError);
  });
});

describe('bad responses', () => {
  const respond = (status: number, contentType: string | undefined, body: string, headers: Record<string, string> = {}) =>
    http((_req, res) => {
      res.writeHead(status, { ...(contentType ? { 'content-type': contentType } : {}), ...headers });
      res.end(body);
    });

  it('a non-JSON body on a declared 5xx: UnexpectedResponseError INVALID_JSON', async () => {
    const { baseUrl } = await respond(500, 'text/plain', 'internal explosion');
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast }).killProcess(1));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ status: 500, code: 'INVALID_JSON', retries: 0 });
  });

  it('an HTML 502 from a proxy: retried, then UnexpectedResponseError with the last status', async () => {
    const { baseUrl, hits } = await respond(502, 'text/html', '<html><body>Bad Gateway</body></html>');
    const error = await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast }).listProcesses());
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ status: 502, code: 'UNDECLARED_STATUS', retries: 2 });
    expect(hits).toHaveLength(3);
  });

  it.each([
    ['seconds', '1'],
    ['an HTTP date', new Date(Date.now() + 10_000).toUTCString()],
  ])('429 with Retry-After in %s: honoured up to the cap, then RateLimitError with retryAfterMs', async (_form, retryAfter) => {
    const { baseUrl, hits } = await respond(429, 'application/json', '{"error":"slow down","code":"RATE_LIMIT_EXCEEDED"}', { 'retry-after': retryAfter });
    // A generous per-request time limit: a loaded CI machine must not turn this into a TimeoutError; the retries' waits stay capped at 50 ms.
    const error = await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast, timeoutMs: 5_000 }).listProcesses(), 5_000);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'RATE_LIMIT_EXCEEDED', retries: 2 });
    expect(error.retryAfterMs).toBeGreaterThan(500);
    expect(hits).toHaveLength(3);
  });

  it('429 then success: the retry succeeds', async () => {
    const { baseUrl, hits } = await http((_req, res, hit) => {
      if (hit === 1) {
        res.writeHead(429, { 'retry-after': '0' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"processes":[]}');
      }
    });
    await expect(createHopxClient({ apiKey, ...transport, baseUrl, ...fast }).listProcesses()).resolves.toEqual([]);
    expect(hits).toHaveLength(2);
  });

  it('a status the spec does not declare: UnexpectedResponseError, not retried', async () => {
    const { baseUrl, hits } = await respond(418, 'application/json', '{"error":"teapot"}');
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast }).getProcess(1));
    expect(error).toMatchObject({ status: 418, code: 'UNDECLARED_STATUS', retries: 0 });
    expect(hits).toHaveLength(1);
  });

  it('malformed JSON: UnexpectedResponseError INVALID_JSON, no SyntaxError', async () => {
    const { baseUrl } = await respond(200, 'application/json', '{"processes": [1, 2,');
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast }).listProcesses());
    expect(error).toMatchObject({ status: 200, code: 'INVALID_JSON' });
    expect(error.cause).toBeUndefined();
  });

  it.each(['null', '{"processes": null}', '{"processes": [null]}', '[]'])('a list body of the wrong shape (%s): UnexpectedResponseError INVALID_BODY, no TypeError', async (body) => {
    const { baseUrl } = await respond(200, 'application/json', body);
    const error = await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast }).processes.list());
    expect(error).toMatchObject({ status: 200, code: 'INVALID_BODY' });
  });

  it('a 204 that carries a body: UnexpectedResponseError UNEXPECTED_BODY', async () => {
    const baseUrl = await raw((socket) =>
      socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello')),
    );
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast, retry: { maxRetries: 0 } }).killProcess(1));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ status: 204, code: 'UNEXPECTED_BODY' });
  });

  it.each([
    ['with a content-length', true],
    ['chunked, with no length', false],
  ])('an oversized body (%s): UnexpectedResponseError BODY_TOO_LARGE', async (_name, withLength) => {
    const body = JSON.stringify({ processes: [], padding: 'x'.repeat(10_000) });
    const { baseUrl } = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...(withLength ? { 'content-length': String(body.length) } : {}) });
      if (withLength) res.end(body);
      else {
        for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000));
        res.end();
      }
    });
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast, maxResponseBytes: 4_096 }).listProcesses());
    expect(error).toMatchObject({ status: 200, code: 'BODY_TOO_LARGE' });
  });
});

describe('retry policy', () => {
  const unavailable = () =>
    http((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"busy","code":"SERVICE_UNAVAILABLE"}');
    });

  it('never retries a start unless the caller opts in', async () => {
    const { baseUrl, hits } = await unavailable();
    const client = createHopxClient({ apiKey, ...transport, baseUrl, ...fast });
    const error = await typedFailure(client.runCodeBackground({ code: 'sleep 1', language: 'bash' }));
    expect(error).toMatchObject({ status: 503, retries: 0 });
    expect(hits).toHaveLength(1);
    const optedIn = await typedFailure(client.runCodeBackground({ code: 'sleep 1', language: 'bash' }, { retryNonIdempotent: true }));
    expect(optedIn.retries).toBe(2);
    expect(hits).toHaveLength(4);
  });

  it('retries a start after a 429, which says nothing was started', async () => {
    const { baseUrl, hits } = await http((_req, res, hit) => {
      if (hit < 3) return void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":"full","code":"RATE_LIMIT_EXCEEDED"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"process_id":"proc_1","execution_id":"exec_1","status":"running"}');
    });
    const client = createHopxClient({ apiKey, ...transport, baseUrl, ...fast });
    expect(await client.runCodeBackground({ code: 'sleep 1', language: 'bash' })).toMatchObject({ process_id: 'proc_1' });
    expect(hits).toHaveLength(3);
  });

  it('retries HopX\'s POST kill, which is idempotent', async () => {
    const { baseUrl, hits } = await unavailable();
    const error = await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast }).killProcess('proc_1', { form: 'path' }));
    expect(error.retries).toBe(2);
    expect(hits.map((h) => h.method)).toEqual(['POST', 'POST', 'POST']);
  });

  it('maxRetries 0 turns retries off', async () => {
    const { baseUrl, hits } = await unavailable();
    await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast, retry: { maxRetries: 0 } }).listProcesses());
    expect(hits).toHaveLength(1);
  });
});

describe('cancellation', () => {
  it('an AbortSignal cancels a call in flight: AbortedError, at once', async () => {
    const { baseUrl } = await http(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, timeoutMs: 10_000 }).listProcesses({ signal: controller.signal }), 1_000);
    expect(error).toBeInstanceOf(AbortedError);
  });

  it('an AbortSignal cancels the wait between retries', async () => {
    const { baseUrl, hits } = await http((_req, res) => {
      res.writeHead(503, { 'retry-after': '60' });
      res.end();
    });
    const client = createTensorlakeClient({ apiKey, ...transport, baseUrl, retry: { maxRetryAfterMs: 60_000 } });
    const error = await typedFailure(client.listProcesses({ signal: AbortSignal.timeout(100) }), 1_000);
    expect(error).toBeInstanceOf(AbortedError);
    expect(hits).toHaveLength(1);
  });

  it('an already aborted signal sends nothing', async () => {
    const { baseUrl, hits } = await http((_req, res) => res.end());
    await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl }).listProcesses({ signal: AbortSignal.abort() }));
    expect(hits).toHaveLength(0);
  });
});

describe('redirects', () => {
  it('never forwards the Authorization header to another origin, and keeps it on the same origin', async () => {
    const elsewhere = await http((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"processes":[]}');
    });
    const origin = await http((req, res) => {
      if (req.url === '/api/v1/processes') {
        res.writeHead(307, { location: '/moved/api/v1/processes' });
      } else {
        res.writeHead(302, { location: `${elsewhere.baseUrl}/api/v1/processes` });
      }
      res.end();
    });
    await expect(createTensorlakeClient({ apiKey, ...transport, baseUrl: origin.baseUrl }).listProcesses()).resolves.toEqual([]);
    expect(origin.hits.map((h) => [h.url, h.authorization])).toEqual([
      ['/api/v1/processes', `Bearer ${apiKey}`],
      ['/moved/api/v1/processes', `Bearer ${apiKey}`],
    ]);
    expect(elsewhere.hits.map((h) => h.authorization)).toEqual([undefined]);
  });

  it('does not resend a request body on a 307/308: a typed error instead', async () => {
    const { baseUrl, hits } = await http((_req, res) => {
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    });
    const error = await typedFailure(createHopxClient({ apiKey, ...transport, baseUrl, ...fast }).killProcess('proc_1', { form: 'body' }));
    expect(error).toMatchObject({ status: 307, code: 'REDIRECT_WITH_BODY' });
    expect(hits).toHaveLength(1);
  });

  it('gives up after too many redirects', async () => {
    const { baseUrl } = await http((req, res) => {
      res.writeHead(302, { location: `${req.url}x` });
      res.end();
    });
    const error = await typedFailure(createTensorlakeClient({ apiKey, ...transport, baseUrl, ...fast }).listProcesses());
    expect(error).toMatchObject({ code: 'TOO_MANY_REDIRECTS' });
  });
});
});
