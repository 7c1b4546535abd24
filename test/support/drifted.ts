// A "drifted provider": a real HTTP server in front of an emulator that passes
// requests through and rewrites the responses a rule names, the way a provider
// that changed its API (or a proxy in front of it) would answer.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import type { ProviderName } from '../../src/index.js';

export interface Upstream {
  status: number;
  contentType: string | null;
  body: string;
}

export interface Rewrite {
  status: number;
  contentType: string;
  body: string;
}

export interface Rule {
  method: string;
  path: RegExp;
  /** The upstream statuses it rewrites. Default: 200 only (a 401 stays a 401). */
  statuses?: number[];
  rewrite(upstream: Upstream): Rewrite;
}

export interface DriftedProvider {
  baseUrl: string;
  token: string;
  stop(): Promise<void>;
}

export const json = (status: number, body: unknown): Rewrite => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

export async function startDrifted(provider: ProviderName, rules: Rule[]): Promise<DriftedProvider> {
  const emulator: RunningEmulator = await startEmulator(provider);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host') headers.set(name, value);
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const upstream = await fetch(`${emulator.baseUrl}${req.url}`, { method: req.method!, headers, ...(body ? { body } : {}) });
      const received: Upstream = { status: upstream.status, contentType: upstream.headers.get('content-type'), body: await upstream.text() };
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const rule = rules.find((r) => r.method === req.method && r.path.test(path) && (r.statuses ?? [200]).includes(received.status));
      const out = rule ? rule.rewrite(received) : { status: received.status, contentType: received.contentType ?? '', body: received.body };
      res.writeHead(out.status, out.contentType ? { 'content-type': out.contentType } : {});
      res.end(out.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: emulator.token,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await emulator.stop();
    },
  };
}
