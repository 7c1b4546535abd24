// The clients' half of `npm run bench`: every request shape through the node:http
// keep-alive floor (the least a Node program can do to send it), raw fetch, the
// sandbox-procs clients on their default transport and on fetch, and the
// official @hopx-ai/sdk, interleaved in one run over HTTP or HTTPS, with the TCP
// connections each one opens counted by the server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HTTPClient, Sandbox } from '@hopx-ai/sdk';
import { createHopxClient, createTensorlakeClient } from '../dist/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const token = 'bench-token';
const auth = { Authorization: `Bearer ${token}` };

/** One request shape of each operation: method, path, body. */
const SHAPES = {
  'tensorlake kill': ['DELETE', '/api/v1/processes/42', undefined, 204],
  'tensorlake list': ['GET', '/api/v1/processes', undefined, 200],
  'tensorlake get': ['GET', '/api/v1/processes/42', undefined, 200],
  'hopx kill (docs form)': ['DELETE', '/execute/kill', '{"process_id":"proc_abc123"}', 200],
  'hopx kill (SDK form)': ['POST', '/execute/kill/proc_abc123', undefined, 200],
  'hopx list': ['GET', '/execute/processes', undefined, 200],
};

/** The official SDK's kill is its path form; both of ours are measured against it. */
const SDK_PEER = { 'hopx kill (docs form)': 'hopx kill (SDK form)', 'hopx kill (SDK form)': 'hopx kill (SDK form)', 'hopx list': 'hopx list' };

export async function benchClients({ scheme, tls, calls, batch, warmup, concurrency, connectionCalls, log }) {
  const server = spawn(process.execPath, [join(here, 'server.mjs'), ...(tls ? [tls.cert, tls.key] : [])], { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
  try {
    const [portLine] = await once(server.stdout, 'data');
    const base = `${scheme}://127.0.0.1:${String(portLine).trim()}`;
    const connections = async () => {
      server.send('count');
      const [message] = await once(server, 'message');
      return message.connections;
    };

    // The floor: node:http(s) with a keep-alive agent, the response read and parsed as the clients do.
    const agent = scheme === 'https' ? new HttpsAgent({ keepAlive: true, rejectUnauthorized: false }) : new HttpAgent({ keepAlive: true });
    const send = scheme === 'https' ? httpsRequest : httpRequest;
    const floor = (method, path, body, status) =>
      new Promise((resolve, reject) => {
        const headers = { ...auth, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) };
        const req = send(`${base}${path}`, { method, headers, agent }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== status) return reject(new Error(`unexpected ${res.statusCode}`));
            resolve(status === 204 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8')));
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    const expectOk = async (response, status) => {
      if (response.status !== status) throw new Error(`unexpected ${response.status}`);
      return status === 204 ? undefined : response.json();
    };
    const rawFetch = (method, path, body, status) =>
      fetch(`${base}${path}`, { method, headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) }).then((r) => expectOk(r, status));

    const clients = (options) => ({ tensorlake: createTensorlakeClient({ apiKey: token, baseUrl: base, ...options }), hopx: createHopxClient({ apiKey: token, baseUrl: base, ...options }) });
    const byDefault = clients({});
    const onFetch = clients({ fetch: (request) => globalThis.fetch(request) });
    const ours = (c) => ({
      'tensorlake kill': () => c.tensorlake.killProcess(42),
      'tensorlake list': () => c.tensorlake.listProcesses(),
      'tensorlake get': () => c.tensorlake.getProcess(42),
      'hopx kill (docs form)': () => c.hopx.killProcess('proc_abc123', { form: 'body' }),
      'hopx kill (SDK form)': () => c.hopx.killProcess('proc_abc123', { form: 'path' }),
      'hopx list': () => c.hopx.listProcesses(),
    });
    // The SDK's own agent client and code path; only its control-plane lookup (which a
    // real run does once, then caches) is skipped, since there is no control plane here.
    const sdk = new Sandbox('sandbox_bench', 'bench-api-key', base);
    sdk.agentClient = new HTTPClient({ baseURL: base, timeout: 60_000, maxRetries: 3, jwtToken: token });
    sdk.ensureAgentClient = async () => {};
    const sdkCalls = { 'hopx kill (SDK form)': () => sdk.killProcess('proc_abc123'), 'hopx list': () => sdk.listProcesses() };

    const contenders = Object.entries(SHAPES).flatMap(([operation, shape]) => [
      [operation, 'node:http floor', () => floor(...shape)],
      [operation, 'raw fetch', () => rawFetch(...shape)],
      [operation, 'sandbox-procs', ours(byDefault)[operation]],
      [operation, 'sandbox-procs on fetch', ours(onFetch)[operation]],
      ...(sdkCalls[operation] ? [[operation, '@hopx-ai/sdk', sdkCalls[operation]]] : []),
    ]).map(([operation, client, call]) => ({ operation, client, call, seq: { latencies: [], ms: 0 }, conc: { latencies: [], ms: 0 }, newConnections: 0 }));

    log(`${scheme}: server at ${base}; warming up (${warmup} calls each)...`);
    for (const c of contenders) for (let i = 0; i < warmup; i++) await c.call();

    log(`${scheme}: connections opened per ${connectionCalls} sequential calls, after warm-up...`);
    for (const c of contenders) {
      const before = await connections();
      for (let i = 0; i < connectionCalls; i++) await c.call();
      c.newConnections = (await connections()) - before;
    }

    const rounds = Math.ceil(calls / batch);
    for (const mode of ['sequential', 'concurrent']) {
      log(`${scheme} ${mode}: ${calls} calls per contender in ${rounds} interleaved rounds${mode === 'concurrent' ? `, ${concurrency} in flight` : ''}...`);
      for (let r = 0; r < rounds; r++) {
        const count = Math.min(batch, calls - r * batch);
        // Rotate who goes first, so that no contender always follows the same one.
        const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
        for (const c of order) await (mode === 'sequential' ? sequential(c, count) : concurrent(c, count, concurrency));
      }
    }

    const results = contenders.map((c) => ({
      operation: c.operation,
      client: c.client,
      sequential: summary(c.seq),
      concurrent: summary(c.conc),
      newConnectionsPer: { calls: connectionCalls, connections: c.newConnections },
    }));
    const find = (operation, client) => results.find((r) => r.operation === operation && r.client === client);
    const ratios = Object.keys(SHAPES).map((operation) => {
      const floorResult = find(operation, 'node:http floor');
      const raw = find(operation, 'raw fetch');
      const facade = find(operation, 'sandbox-procs');
      const onFetchResult = find(operation, 'sandbox-procs on fetch');
      const theirs = SDK_PEER[operation] && find(SDK_PEER[operation], '@hopx-ai/sdk');
      return {
        operation,
        facadeOverFloorMedianSequential: round(facade.sequential.medianMs / floorResult.sequential.medianMs),
        fetchTransportOverFloorMedianSequential: round(onFetchResult.sequential.medianMs / floorResult.sequential.medianMs),
        facadeOverRawFetchMedianSequential: round(facade.sequential.medianMs / raw.sequential.medianMs),
        ...(theirs
          ? {
              facadeOverSdkCallsPerSecondSequential: round(facade.sequential.callsPerSecond / theirs.sequential.callsPerSecond),
              facadeOverSdkCallsPerSecondConcurrent: round(facade.concurrent.callsPerSecond / theirs.concurrent.callsPerSecond),
            }
          : {}),
      };
    });
    agent.destroy();
    for (const c of [byDefault, onFetch]) for (const client of Object.values(c)) await client.close?.();
    return { scheme, results, ratios };
  } finally {
    server.kill();
  }
}

export async function sequential(contender, count) {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await contender.call();
    contender.seq.latencies.push(performance.now() - t);
  }
  contender.seq.ms += performance.now() - started;
}

export async function concurrent(contender, count, inFlight) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next++ < count) {
      const t = performance.now();
      await contender.call();
      contender.conc.latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  contender.conc.ms += performance.now() - started;
}

export function summary({ latencies, ms }) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { calls: sorted.length, medianMs: round(at(0.5), 4), p99Ms: round(at(0.99), 4), callsPerSecond: round((sorted.length / ms) * 1000, 1) };
}

const pad = (s, n) => String(s).padEnd(n);

export function clientLines({ scheme, results, ratios }) {
  return [
    `${scheme.toUpperCase()}`,
    `${pad('operation', 22)}${pad('client', 24)}${pad('seq median', 12)}${pad('seq p99', 10)}${pad('seq calls/s', 13)}${pad('conc median', 13)}${pad('conc calls/s', 14)}new conns`,
    ...results.map(
      (r) =>
        `${pad(r.operation, 22)}${pad(r.client, 24)}${pad(`${r.sequential.medianMs.toFixed(3)} ms`, 12)}${pad(`${r.sequential.p99Ms.toFixed(2)} ms`, 10)}${pad(r.sequential.callsPerSecond.toFixed(1), 13)}${pad(`${r.concurrent.medianMs.toFixed(2)} ms`, 13)}${pad(r.concurrent.callsPerSecond.toFixed(1), 14)}${r.newConnectionsPer.connections}/${r.newConnectionsPer.calls}`,
    ),
    '',
    `${pad('operation', 22)}${pad('facade/floor (seq)', 20)}${pad('on fetch/floor (seq)', 22)}${pad('facade/raw fetch (seq)', 24)}facade/SDK calls/s (seq, conc)`,
    ...ratios.map(
      (r) =>
        `${pad(r.operation, 22)}${pad(r.facadeOverFloorMedianSequential, 20)}${pad(r.fetchTransportOverFloorMedianSequential, 22)}${pad(r.facadeOverRawFetchMedianSequential, 24)}${r.facadeOverSdkCallsPerSecondSequential === undefined ? '-' : `${r.facadeOverSdkCallsPerSecondSequential}x, ${r.facadeOverSdkCallsPerSecondConcurrent}x`}`,
    ),
  ];
}
