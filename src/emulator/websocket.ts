// WebSocket sessions on an emulator's HTTP server: the upgrade request is routed
// (a route table per provider), authorized and judged by its route BEFORE the
// upgrade, so that a refusal is an ordinary HTTP answer in the provider's error
// shape; only then does `ws` (loaded on the first upgrade, in noServer mode) take
// the socket. Bounded: a maximum message size per route, a cap on the sessions
// open at once, and every session ends when the server closes.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { loadWs } from './optional-peers.js';

/** What a route is given of the upgrade request. */
export interface UpgradeRequest {
  /** Path parameters by name. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  requestId: string;
}

/** An answer instead of the upgrade: a status, and the provider's error body for `message` and `code`. */
export interface UpgradeRefusal {
  status: number;
  message: string;
  code?: string;
  headers?: Record<string, string>;
  /** The message as a plain-text body instead of the provider's JSON error (a router's or framework's own answer). */
  text?: boolean;
}

/** Accepted: `accept` gets the open socket; `abandon` is called instead when the upgrade does not happen after all (the client left). */
export type UpgradeDecision = { refuse: UpgradeRefusal } | { accept(socket: WebSocket): void; abandon?(): void };

export interface UpgradeRoute {
  /** The path, with `{name}` for a parameter (as in the specs). */
  path: string;
  /** The name a not-emulated answer gives it (e.g. the spec's operationId). */
  name: string;
  /** Declared by the provider but not served: answers 501 in the provider's error shape. */
  emulated?: false;
  /** Largest message a client may send (bytes); a larger one closes the session with 1009. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Judges the request (a session that does not exist, a bad session token) and accepts or refuses it. */
  open?(request: UpgradeRequest): UpgradeDecision | Promise<UpgradeDecision>;
}

export interface UpgradeOptions {
  routes: readonly UpgradeRoute[];
  /** The provider's error body for a refusal. */
  errorBody(message: string, code: string | undefined, requestId: string): unknown;
  /** The request's credentials refused (the same check as every other route), or undefined. */
  authorize(req: IncomingMessage): UpgradeRefusal | undefined;
  /** Refuses every upgrade while it returns a refusal (e.g. a paused sandbox). */
  gate?: () => UpgradeRefusal | undefined;
  /** Sessions open at once at most; more get `busy`. Default 64. */
  maxSessions?: number;
  /** What a request over the cap gets (the provider's words). */
  busy: { status: number; code: string };
  /** The provider's answer for a path no route serves. */
  unrouted(): UpgradeRefusal;
  /** What a route declared but not served answers. */
  notEmulated(route: UpgradeRoute): UpgradeRefusal;
}

interface CompiledRoute {
  route: UpgradeRoute;
  pattern: RegExp;
  names: string[];
}

function compile(route: UpgradeRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** Handles `upgrade` events for a server; close() ends every open session. */
export function createUpgradeHandler(options: UpgradeOptions) {
  const routes = options.routes.map(compile);
  const maxSessions = options.maxSessions ?? 64;
  const open = new Set<WebSocket>();
  // One noServer WebSocketServer per message size, made on the first upgrade that needs it.
  const servers = new Map<number, WebSocketServer>();
  let opening = 0;
  let closed = false;

  function refuse(socket: Duplex, refusal: UpgradeRefusal, requestId: string): void {
    const body = refusal.text ? refusal.message : JSON.stringify(options.errorBody(refusal.message, refusal.code, requestId));
    const headers = { ...refusal.headers, 'content-type': refusal.text ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-request-id': requestId, connection: 'close' };
    const head = [`HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
    socket.end(`${head}\r\n\r\n${body}`);
  }

  async function serverFor(maxPayload: number): Promise<WebSocketServer> {
    let server = servers.get(maxPayload);
    if (!server) {
      const ws = await loadWs();
      server = servers.get(maxPayload) ?? new ws.WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
      servers.set(maxPayload, server);
    }
    return server;
  }

  async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requestId = `req_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://emulator');
    let found: { compiled: CompiledRoute; match: RegExpExecArray } | undefined;
    for (const compiled of routes) {
      const match = compiled.pattern.exec(url.pathname);
      if (match) {
        found = { compiled, match };
        break;
      }
    }
    if (closed) return refuse(socket, { status: 503, message: 'the emulator is stopping', code: 'UNAVAILABLE' }, requestId);
    if (!found || req.method !== 'GET') return refuse(socket, options.unrouted(), requestId);
    const gated = options.gate?.();
    if (gated) return refuse(socket, gated, requestId);
    const unauthorized = options.authorize(req);
    if (unauthorized) return refuse(socket, unauthorized, requestId);
    const { route, names } = found.compiled;
    if (route.emulated === false || !route.open) return refuse(socket, options.notEmulated(route), requestId);
    if (open.size + opening >= maxSessions) {
      return refuse(socket, { status: options.busy.status, message: `too many WebSocket sessions open (limit ${maxSessions})`, code: options.busy.code, headers: { 'retry-after': '1' } }, requestId);
    }
    const params: Record<string, string> = {};
    for (const [i, name] of names.entries()) {
      try {
        params[name] = decodeURIComponent(found.match[i + 1]!);
      } catch {
        return refuse(socket, { status: 404, message: 'not found: the path holds a malformed percent-escape', code: 'NOT_FOUND' }, requestId);
      }
    }
    opening++;
    try {
      const decision = await route.open({ params, query: url.searchParams, headers: req.headers, requestId });
      if ('refuse' in decision) return refuse(socket, decision.refuse, requestId);
      let server: WebSocketServer;
      try {
        server = await serverFor(route.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
      } catch (error) {
        decision.abandon?.();
        throw error;
      }
      if (closed || socket.destroyed) {
        decision.abandon?.();
        return void socket.destroy();
      }
      // ws answers a malformed upgrade (bad key, version) itself and never calls back: the decision is abandoned when the socket closes unaccepted.
      let accepted = false;
      socket.once('close', () => {
        if (!accepted) decision.abandon?.();
      });
      server.handleUpgrade(req, socket, head, (ws) => {
        accepted = true;
        open.add(ws);
        ws.once('close', () => open.delete(ws));
        ws.on('error', () => ws.terminate());
        decision.accept(ws);
      });
    } finally {
      opening--;
    }
  }

  return {
    onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      handle(req, socket, head).catch((error: unknown) => {
        if (socket.writable) refuse(socket, { status: 500, message: `internal error: ${(error as Error).message}`, code: 'INTERNAL_ERROR' }, 'req_internal');
        else socket.destroy();
      });
    },
    /** Sessions open now. */
    openSessions: () => open.size,
    /** Ends every session at once (the server is closing): no close handshake is waited for. */
    close(): void {
      closed = true;
      for (const ws of open) ws.terminate();
      open.clear();
      for (const server of servers.values()) server.close();
    },
  };
}
