// A confined sandbox's one way out when it has internet access: an HTTP proxy on
// the host (CONNECT tunnels, and plain-HTTP requests in absolute form), listening
// on a unix socket that only that sandbox has bound (bwrap.ts). The sandbox's
// own network namespace stays empty but for `lo`; its spawner relays
// 127.0.0.1:<EGRESS_PORT> inside to this socket.
//
// The proxy resolves each destination itself, checks every address it would
// connect to against the sandbox's policy (egress-policy.ts), and connects to that
// very address: no library proxy here, because those connect by name and resolve
// it again, so the address checked would not be the address reached.
import { lookup } from 'node:dns/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { rm } from 'node:fs/promises';
import { egressPolicy, normalizeHost, type EgressRules } from './egress-policy.js';

/** Connections from one sandbox at once (each holds two sockets and their buffers): more wait in the listen queue. */
export const MAX_EGRESS_CONNECTIONS = 64;
/** A destination that has not answered by then is given up on. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Request headers must arrive within this (a client that trickles them holds a slot for nothing). */
const HEADERS_TIMEOUT_MS = 30_000;
/** Headers a proxy consumes or that describe one hop only (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface EgressProxy {
  /** The unix socket it listens on (on the host). */
  readonly socketPath: string;
  /** Removes the socket's name on the host: a sandbox that has bound it keeps reaching the proxy. */
  unlinkSocket(): Promise<void>;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

type Resolved = { address: string } | { status: number; reason: string };

export async function startEgressProxy(socketPath: string, rules: EgressRules): Promise<EgressProxy> {
  const policy = egressPolicy(rules);
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  /** The first address of `host` the policy allows, or why there is none. */
  const resolve = async (host: string): Promise<Resolved> => {
    const name = normalizeHost(host);
    const refused = policy.refusesName(name);
    if (refused && !refused.allowed) return { status: 403, reason: refused.reason };
    let addresses: string[];
    if (isIP(name)) addresses = [name];
    else {
      try {
        addresses = (await lookup(name, { all: true, verbatim: true })).map((entry) => entry.address);
      } catch (error) {
        return { status: 502, reason: `cannot resolve ${name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
      }
    }
    let refusal = '';
    for (const address of addresses) {
      const verdict = policy.decide(name, address);
      if (verdict.allowed) return { address };
      refusal ||= verdict.reason;
    }
    return { status: 403, reason: refusal || `${name} has no address` };
  };

  const server = createServer();
  server.maxConnections = MAX_EGRESS_CONNECTIONS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  // A download or upload through the proxy may take as long as it takes.
  server.requestTimeout = 0;
  server.on('connection', track);

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on('error', () => client.destroy());
    const target = authority(req.url ?? '');
    if (!target) return refuseRaw(client, 400, `CONNECT needs host:port, not ${JSON.stringify(req.url ?? '')}`);
    void resolve(target.host).then((resolved) => {
      if ('status' in resolved) return refuseRaw(client, resolved.status, resolved.reason);
      const upstream = connect({ host: resolved.address, port: target.port, timeout: CONNECT_TIMEOUT_MS, allowHalfOpen: true });
      track(upstream);
      let established = false;
      upstream.once('connect', () => {
        established = true;
        upstream.setTimeout(0);
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.once('timeout', () => upstream.destroy(new Error(`${target.host}:${target.port} did not answer`)));
      upstream.once('error', (error) => {
        if (!established) refuseRaw(client, 502, `cannot reach ${target.host}:${target.port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
        else client.destroy();
      });
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
    });
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return refuse(req, res, 400, 'this is a proxy: send absolute-form http:// requests, or CONNECT for https');
    }
    if (url.protocol !== 'http:') return refuse(req, res, 400, `only http:// requests are forwarded as such; ${url.protocol} goes through CONNECT`);
    void resolve(url.hostname).then((resolved) => {
      if ('status' in resolved) return refuse(req, res, resolved.status, resolved.reason);
      const upstream = httpRequest({
        host: resolved.address,
        port: url.port === '' ? 80 : Number(url.port),
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...endToEnd(req.headers), host: url.host },
        agent: false,
        setHost: false,
        timeout: CONNECT_TIMEOUT_MS,
      });
      upstream.once('socket', (socket) => track(socket));
      upstream.once('timeout', () => upstream.destroy(new Error(`${url.host} did not answer`)));
      upstream.once('response', (answer) => {
        upstream.setTimeout(0);
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      });
      upstream.once('error', (error) => {
        if (res.headersSent) res.destroy();
        else refuse(req, res, 502, `cannot reach ${url.host}: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
      });
      res.once('close', () => upstream.destroy());
      req.pipe(upstream);
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    socketPath,
    unlinkSocket: () => rm(socketPath, { force: true }),
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((done) => server.close(() => done()));
        for (const socket of sockets) socket.destroy();
        await closed;
        await rm(socketPath, { force: true });
      })();
      return closing;
    },
  };
}

/** `host:port` of a CONNECT request (`[v6]:port` for IPv6). */
function authority(target: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:/\s]+):(\d{1,5})$/.exec(target);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535) return undefined;
  return { host: match[1]!, port };
}

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  // Connection may name more hop-by-hop headers.
  const named = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((name) => name.trim()));
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) kept[name] = value;
  }
  return kept;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 502: 'Bad Gateway' };

/** A refusal said by the proxy itself, so that a program (curl: "CONNECT tunnel failed, response 403") and its user see why. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, reason: string): void {
  req.resume();
  const body = `sandbox-procs egress proxy: ${reason}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-sandbox-procs-egress': 'refused',
    connection: 'close',
  });
  res.end(body);
}

function refuseRaw(client: Duplex, status: number, reason: string): void {
  const body = `sandbox-procs egress proxy: ${reason}\n`;
  client.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\nx-sandbox-procs-egress: refused\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
