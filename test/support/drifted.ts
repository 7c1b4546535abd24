// A "drifted provider": a real HTTP server in front of an emulator that passes
// requests through and rewrites the responses a rule names, the way a provider
// that changed its API (or a proxy in front of it) would answer.
import type { ProviderName } from '../../src/index.js';
import { startStandIn } from './stand-ins.js';

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
  return startStandIn(provider, {
    after(request, upstream) {
      const received: Upstream = { status: upstream.status, contentType: upstream.contentType || null, body: upstream.body };
      const rule = rules.find((r) => r.method === request.method && r.path.test(request.path) && (r.statuses ?? [200]).includes(received.status));
      return rule ? rule.rewrite(received) : upstream;
    },
  });
}
