// Redirects by the Fetch standard's rules (HTTP-redirect fetch), in the client's
// guarded fetch and in the drift check's raw probes alike: 301/302 turn only a
// POST into a GET, 303 turns everything but GET/HEAD into a GET, 307/308 keep
// the method; Authorization never goes to another origin. Real local servers.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { redirectedRequest } from '../src/core/guarded-fetch.js';
import { runScenarios, type Target } from '../src/contract/run.js';
import type { Scenario } from '../src/contract/scenario.js';
import { createHopxClient, createTensorlakeClient } from '../src/index.js';

const apiKey = 'sp-redirect-test-key';
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

interface Hit {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** A server that records every request, answers the first with `status` to `location`, and the rest with `final`. */
async function server(answer: (req: IncomingMessage, res: ServerResponse, hits: Hit[]) => void) {
  const hits: Hit[] = [];
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      answer(req, res, hits);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    http.closeAllConnections();
    http.close();
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, hits };
}

/** Redirects the first request to /moved (or `elsewhere`), answers the next one with 204, or with `json`. */
const redirecting = (status: number, options: { elsewhere?: string; json?: string } = {}) =>
  server((req, res) => {
    if (!req.url!.startsWith('/moved')) {
      res.writeHead(status, { location: `${options.elsewhere ?? ''}/moved${req.url}` }).end();
    } else if (options.json) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(options.json);
    } else res.writeHead(204).end();
  });

describe('the rules, as a table', () => {
  const request = (method: string) => ({ method, url: 'http://a.test/x', headers: new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' }) });
  it.each([
    [301, 'POST', 'GET', false],
    [302, 'POST', 'GET', false],
    [301, 'DELETE', 'DELETE', true],
    [302, 'DELETE', 'DELETE', true],
    [302, 'PUT', 'PUT', true],
    [301, 'GET', 'GET', false],
    [303, 'POST', 'GET', false],
    [303, 'DELETE', 'GET', false],
    [303, 'HEAD', 'HEAD', false],
    [303, 'GET', 'GET', false],
    [307, 'POST', 'POST', true],
    [307, 'DELETE', 'DELETE', true],
    [308, 'POST', 'POST', true],
    [308, 'PUT', 'PUT', true],
  ])('%i after %s: %s (body resent: %s)', (status, method, expected, resend) => {
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const next = redirectedRequest(request(method), status, '/y', hasBody);
    expect(next.method).toBe(expected);
    expect(next.resend).toBe(resend);
    expect(next.headers.get('authorization')).toBe('Bearer k');
    // A request turned into a GET loses the headers that described its body.
    expect(next.headers.get('content-type')).toBe(expected === method ? 'application/json' : null);
  });

  it('drops Authorization on another origin (scheme, host or port), keeps it on the same one', () => {
    for (const location of ['http://b.test/y', 'https://a.test/y', 'http://a.test:8080/y']) {
      expect(redirectedRequest(request('GET'), 302, location, false).headers.get('authorization')).toBeNull();
    }
    expect(redirectedRequest(request('GET'), 302, 'http://a.test/z', false).headers.get('authorization')).toBe('Bearer k');
  });
});

describe('the client follows them', () => {
  it.each([301, 302])('DELETE %i stays a DELETE', async (status) => {
    const { url, hits } = await redirecting(status);
    await expect(createTensorlakeClient({ apiKey, baseUrl: url, retry: { maxRetries: 0 } }).killProcess(7)).resolves.toBeUndefined();
    expect(hits.map((h) => [h.method, h.url])).toEqual([
      ['DELETE', '/api/v1/processes/7'],
      ['DELETE', '/moved/api/v1/processes/7'],
    ]);
  });

  it.each([301, 302, 303])('POST %i becomes a GET, without the body or its content type', async (status) => {
    const { url, hits } = await redirecting(status, { json: '{"pid":1}' });
    await createTensorlakeClient({ apiKey, baseUrl: url, retry: { maxRetries: 0 } })
      .startProcess({ command: 'sleep', args: ['1'] })
      .catch(() => undefined);
    expect(hits.map((h) => h.method)).toEqual(['POST', 'GET']);
    expect(hits[0]!.body).toContain('sleep');
    expect(hits[1]).toMatchObject({ body: '', contentType: undefined, authorization: `Bearer ${apiKey}` });
  });

  it('DELETE 303 becomes a GET', async () => {
    const { url, hits } = await redirecting(303);
    await createTensorlakeClient({ apiKey, baseUrl: url, retry: { maxRetries: 0 } })
      .killProcess(7)
      .catch(() => undefined);
    expect(hits.map((h) => h.method)).toEqual(['DELETE', 'GET']);
  });

  it.each([307, 308])('%i keeps the method: DELETE stays DELETE, a bodiless POST stays POST', async (status) => {
    const del = await redirecting(status);
    await createTensorlakeClient({ apiKey, baseUrl: del.url, retry: { maxRetries: 0 } }).killProcess(7);
    expect(del.hits.map((h) => h.method)).toEqual(['DELETE', 'DELETE']);
    const post = await redirecting(status, { json: '{"success":true}' });
    await createHopxClient({ apiKey, baseUrl: post.url, retry: { maxRetries: 0 } })
      .killProcess('proc_1', { form: 'path' })
      .catch(() => undefined);
    expect(post.hits.map((h) => [h.method, h.url])).toEqual([
      ['POST', '/execute/kill/proc_1'],
      ['POST', '/moved/execute/kill/proc_1'],
    ]);
  });

  it.each([307, 308])('%i with a body: not followed, a typed REDIRECT_WITH_BODY (the body is not kept to resend)', async (status) => {
    const { url, hits } = await redirecting(status);
    const error = await createTensorlakeClient({ apiKey, baseUrl: url, retry: { maxRetries: 0 } })
      .startProcess({ command: 'sleep', args: ['1'] })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status, code: 'REDIRECT_WITH_BODY' });
    expect(hits).toHaveLength(1);
  });

  it.each([301, 307, 308])('%i to another origin: followed without Authorization', async (status) => {
    const elsewhere = await redirecting(204);
    const origin = await redirecting(status, { elsewhere: elsewhere.url });
    await createTensorlakeClient({ apiKey, baseUrl: origin.url, retry: { maxRetries: 0 } }).killProcess(7);
    expect(origin.hits.map((h) => h.authorization)).toEqual([`Bearer ${apiKey}`]);
    expect(elsewhere.hits.map((h) => [h.method, h.authorization])).toEqual([['DELETE', undefined]]);
  });
});

describe('the raw probes follow the same rules', () => {
  const probe = (method: string, body?: unknown): Scenario => ({
    provider: 'tensorlake',
    operation: 'sandbox_process_start',
    input: {},
    status: 400,
    expect: 'InvalidRequestError',
    raw: { method, path: '/api/v1/processes', ...(body === undefined ? {} : { body }) },
  });
  const target = (url: string): Target => ({ name: 'redirecting', kind: 'mock', baseUrls: { tensorlake: url }, apiKeys: { tensorlake: apiKey } });

  it.each([
    [301, 'DELETE', undefined, ['DELETE', 'DELETE']],
    [302, 'DELETE', undefined, ['DELETE', 'DELETE']],
    [301, 'POST', { command: 7 }, ['POST', 'GET']],
    [302, 'POST', { command: 7 }, ['POST', 'GET']],
    [303, 'POST', { command: 7 }, ['POST', 'GET']],
    [303, 'DELETE', undefined, ['DELETE', 'GET']],
    [307, 'DELETE', undefined, ['DELETE', 'DELETE']],
    [308, 'DELETE', undefined, ['DELETE', 'DELETE']],
    [307, 'POST', { command: 7 }, ['POST']],
    [308, 'POST', { command: 7 }, ['POST']],
  ] as const)('%i after a raw %s', async (status, method, body, methods) => {
    const { url, hits } = await redirecting(status);
    const [result] = await runScenarios([probe(method, body)], target(url), { timeoutMs: 2_000 });
    expect(hits.map((h) => h.method)).toEqual(methods);
    if (methods.length === 1) expect(result!.problems.join('\n')).toMatch(/REDIRECT_WITH_BODY/);
    if (methods[1] === 'GET') expect(hits[1]).toMatchObject({ body: '', contentType: undefined });
  });

  it('to another origin: Authorization is dropped', async () => {
    const elsewhere = await redirecting(204);
    const origin = await redirecting(308, { elsewhere: elsewhere.url });
    await runScenarios([probe('DELETE')], target(origin.url), { timeoutMs: 2_000 });
    expect(origin.hits.map((h) => h.authorization)).toEqual([`Bearer ${apiKey}`]);
    expect(elsewhere.hits.map((h) => [h.method, h.authorization])).toEqual([['DELETE', undefined]]);
  });
});
