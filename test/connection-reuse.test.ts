// The default transport on Node reuses its connections: a real local server counts
// the TCP connections it accepts while a client makes 200 sequential calls of every
// kill form and of list/get. Node's fetch resets the socket after a DELETE that
// carries a body (HopX's documented kill), so this is what the pool is for. Also:
// the pool's limits (maxSockets, idleSocketTimeoutMs), close() and asyncDispose,
// and a given `fetch` taking the place of the pool. Counts only, no timings.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHopxClient, createTensorlakeClient, type HopxClient, type TensorlakeClient } from '../src/index.js';
import { testKey } from './support/secrets.js';

const apiKey = testKey('reuse');
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const PROCESS = { pid: 42, status: 'running', command: 'sleep', args: ['60'], started_at: 1_700_000_000 };

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = new URL(req.url!, 'http://x');
  const json = (value: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  if (req.method === 'DELETE' && url.pathname === '/api/v1/processes/42') return void res.writeHead(204).end();
  if (req.method === 'GET' && url.pathname === '/api/v1/processes') return json({ processes: [PROCESS] });
  if (req.method === 'GET' && url.pathname === '/api/v1/processes/42') return json(PROCESS);
  if (req.method === 'DELETE' && url.pathname === '/execute/kill') {
    const id = url.searchParams.get('process_id') ?? (JSON.parse(body) as { process_id: string }).process_id;
    return json({ process_id: id, status: 'killed' });
  }
  if (req.method === 'POST' && url.pathname === '/execute/kill/proc_1') return json({ process_id: 'proc_1', status: 'killed' });
  if (req.method === 'GET' && url.pathname === '/execute/processes') return json({ processes: [] });
  void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no route"}');
}

async function countingServer(options: { delayMs?: number } = {}) {
  const sockets = new Set<Socket>();
  let connections = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = () => answer(req, res, Buffer.concat(chunks).toString('utf8'));
      if (options.delayMs) setTimeout(reply, options.delayMs);
      else reply();
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    open: () => sockets.size,
    maxInFlight: () => maxInFlight,
  };
}

const until = async (condition: () => boolean, boundMs = 2_000) => {
  const started = Date.now();
  while (!condition() && Date.now() - started < boundMs) await new Promise((resolve) => setTimeout(resolve, 5));
  return condition();
};

type Clients = { tensorlake: TensorlakeClient; hopx: HopxClient };
const CALLS: Array<[string, (c: Clients) => Promise<unknown>]> = [
  ['tensorlake kill (DELETE, no body)', (c) => c.tensorlake.killProcess(42)],
  ['tensorlake list', (c) => c.tensorlake.listProcesses()],
  ['tensorlake get', (c) => c.tensorlake.getProcess(42)],
  ['hopx kill, docs form (DELETE with a JSON body)', (c) => c.hopx.killProcess('proc_1', { form: 'body' })],
  ['hopx kill, agent-spec form (DELETE ?process_id=)', (c) => c.hopx.killProcess('proc_1', { form: 'query' })],
  ['hopx kill, SDK form (POST /execute/kill/{id})', (c) => c.hopx.killProcess('proc_1', { form: 'path' })],
  ['hopx list', (c) => c.hopx.listProcesses()],
];

describe('the default transport on Node reuses its connections', () => {
  it.each(CALLS)('%s: 200 sequential calls open at most 2 new connections after warm-up', async (_name, call) => {
    const server = await countingServer();
    const clients = { tensorlake: createTensorlakeClient({ apiKey, baseUrl: server.baseUrl }), hopx: createHopxClient({ apiKey, baseUrl: server.baseUrl }) };
    closers.push(() => clients.tensorlake.close(), () => clients.hopx.close());
    for (let i = 0; i < 5; i++) await call(clients);
    const warm = server.connections();
    for (let i = 0; i < 200; i++) await call(clients);
    expect(server.connections() - warm).toBeLessThanOrEqual(2);
  });

  it('the docs-form kill (DELETE with a body) keeps its connection open for the next call', async () => {
    const server = await countingServer();
    const hopx = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    closers.push(() => hopx.close());
    for (let i = 0; i < 50; i++) expect(await hopx.killProcess(`proc_${i}`, { form: 'body' })).toEqual({ process_id: `proc_${i}`, status: 'killed' });
    expect(server.connections()).toBe(1);
    expect(server.open()).toBe(1);
  });

  it('a mix of every form on one client shares one connection', async () => {
    const server = await countingServer();
    const clients = { tensorlake: createTensorlakeClient({ apiKey, baseUrl: server.baseUrl }), hopx: createHopxClient({ apiKey, baseUrl: server.baseUrl }) };
    closers.push(() => clients.tensorlake.close(), () => clients.hopx.close());
    for (let i = 0; i < 20; i++) for (const [, call] of CALLS) await call(clients);
    // One pool per client: one connection each.
    expect(server.connections()).toBe(2);
  });
});

describe('the pool', () => {
  it('maxSockets bounds the connections: 20 concurrent calls over 2 sockets', async () => {
    const server = await countingServer({ delayMs: 10 });
    const hopx = createHopxClient({ apiKey, baseUrl: server.baseUrl, maxSockets: 2 });
    closers.push(() => hopx.close());
    const results = await Promise.all(Array.from({ length: 20 }, () => hopx.killProcess('proc_1', { form: 'body' })));
    expect(results).toHaveLength(20);
    expect(server.connections()).toBe(2);
    expect(server.maxInFlight()).toBeLessThanOrEqual(2);
  });

  it('idleSocketTimeoutMs closes an idle connection', async () => {
    const server = await countingServer();
    const tensorlake = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl, idleSocketTimeoutMs: 50 });
    closers.push(() => tensorlake.close());
    await tensorlake.listProcesses();
    expect(server.open()).toBe(1);
    expect(await until(() => server.open() === 0)).toBe(true);
    // And the next call simply opens a new one.
    await tensorlake.listProcesses();
    expect(server.connections()).toBe(2);
  });

  it('close() closes the pooled connections', async () => {
    const server = await countingServer();
    const hopx = createHopxClient({ apiKey, baseUrl: server.baseUrl });
    await hopx.listProcesses();
    expect(server.open()).toBe(1);
    await hopx.close();
    expect(await until(() => server.open() === 0)).toBe(true);
  });

  it('Symbol.asyncDispose closes them too (await using)', async () => {
    const server = await countingServer();
    const tensorlake = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
    await tensorlake.getProcess(42);
    expect(server.open()).toBe(1);
    await tensorlake[Symbol.asyncDispose]();
    expect(await until(() => server.open() === 0)).toBe(true);
  });

  it('refuses pool limits that make no sense', () => {
    for (const maxSockets of [0, -1, 1.5, Number.NaN]) expect(() => createHopxClient({ apiKey, baseUrl: 'http://127.0.0.1:1', maxSockets })).toThrow(/maxSockets/);
    for (const idleSocketTimeoutMs of [0, -5, Number.NaN]) expect(() => createHopxClient({ apiKey, baseUrl: 'http://127.0.0.1:1', idleSocketTimeoutMs })).toThrow(/idleSocketTimeoutMs/);
  });
});

describe('a given fetch', () => {
  it('is used instead of the pool, for every call', async () => {
    const server = await countingServer();
    const seen: string[] = [];
    const fetch = (request: Request) => {
      expect(request).toBeInstanceOf(Request);
      seen.push(`${request.method} ${new URL(request.url).pathname}`);
      return globalThis.fetch(request);
    };
    const hopx = createHopxClient({ apiKey, baseUrl: server.baseUrl, fetch });
    await hopx.killProcess('proc_1', { form: 'body' });
    await hopx.listProcesses();
    expect(seen).toEqual(['DELETE /execute/kill', 'GET /execute/processes']);
    await hopx.close(); // nothing of its own to close
  });
});
