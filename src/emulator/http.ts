// The HTTP side every emulator shares: a node:http server on loopback, routes
// compiled from the spec's operation table, bearer auth, a request body cap,
// request validation from the spec's own constraints, JSON and SSE replies.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperationMeta, OperationTable, SchemaConstraints } from '../core/operation.js';
import { findRequestViolation } from '../core/validate-input.js';
import { createUpgradeHandler, type UpgradeRefusal, type UpgradeRoute } from './websocket.js';
import type { Duplex } from 'node:stream';

export interface EmulatorRequest {
  operationId: string;
  /** Path parameters, integers already parsed where the spec says integer. */
  params: Record<string, string | number>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The JSON body, already validated against the spec; undefined when none was sent. */
  json: unknown;
  requestId: string;
}

/** Bytes an SSE response may hold unsent before droppable events are dropped. */
const MAX_SSE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface SseWriter {
  /** `droppable`: live output, dropped (and counted in a comment) while the client is more than 4 MiB behind. */
  send(data: unknown, event?: string, droppable?: boolean): void;
  end(): void;
  /** Called once when the client goes away before end(). */
  onClose(listener: () => void): void;
}

export interface Reply {
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  text(status: number, body: string): void;
  empty(status: number): void;
  error(status: number, message: string, code?: string, headers?: Record<string, string>): void;
  sse(headers?: Record<string, string>): SseWriter;
}

export type Handler = (request: EmulatorRequest, reply: Reply) => void | Promise<void>;

/** Why a request body was refused before its handler ran. */
export type BodyProblem = { kind: 'content-type' } | { kind: 'json' } | { kind: 'schema'; problem: string } | { kind: 'too-large'; limit: number };

/** A provider's own answer to a refused body: a status and a plain-text body. */
export type BodyRejection = (problem: BodyProblem) => { status: number; text: string };

export interface ServeOptions {
  operations: OperationTable;
  handlers: Record<string, Handler>;
  /** The provider's error body for a status, message and code. */
  errorBody(message: string, code: string | undefined, requestId: string): unknown;
  /** Operations that need no credentials (e.g. a health check). */
  publicOperations?: ReadonlySet<string>;
  /** How the provider refuses a bad body, where it does so in plain text; default: its JSON 400. */
  rejectBody?: BodyRejection;
  token: string;
  /**
   * Replaces the check of `token`: given the request's Authorization header, undefined
   * to let it through, else the 401's message and code (e.g. a token that expired).
   */
  authorize?: (authorization: string | undefined) => AuthRefusal | undefined;
  /** The header that carries `token` as is (e.g. x-api-key); default `Authorization: Bearer <token>`. */
  tokenHeader?: string;
  port?: number;
  /** Request bodies above this are refused with 400. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Interval of SSE keep-alive comments. Default 15 s. */
  keepAliveMs?: number;
  /** What the provider's router answers for a path it does not route (default: its JSON 404). */
  unrouted?: { status: number; contentType?: string; body: string };
  /** Operations whose body is raw bytes rather than JSON (e.g. a process's stdin): read, but not parsed. */
  rawBodyOperations?: ReadonlySet<string>;
  /** Open connections at most; more are refused by the server. Default 256. */
  maxConnections?: number;
  /**
   * Sees each request before routing; true when it took the request whole (the
   * control plane's sandbox proxy, chosen by Host), so that one server serves both.
   */
  divert?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** WebSocket sessions: the provider's upgrade routes (see websocket.ts); without it, an upgrade request is refused as unrouted. */
  upgrades?: {
    routes: readonly UpgradeRoute[];
    /** Sessions open at once at most. Default 64. */
    maxSessions?: number;
    /** The provider's status and code for a request over the cap. */
    busy: { status: number; code: string };
    /** Refuses every upgrade while it returns a refusal (a paused sandbox). */
    gate?: () => UpgradeRefusal | undefined;
  };
  /** Sees each upgrade request first; true when it took it whole (the control plane's sandbox proxy). */
  divertUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
}

/** Why a request's credentials were refused: the 401's message and code. */
export interface AuthRefusal {
  message: string;
  code: string;
}

export interface HttpEmulator {
  readonly baseUrl: string;
  close(): Promise<void>;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  operationId: string;
  meta: OperationMeta;
}

function allowsInteger(schema: SchemaConstraints): boolean {
  return schema.type === 'integer' || (schema.anyOf ?? schema.oneOf ?? []).some(allowsInteger);
}

function compileRoutes(operations: OperationTable): Route[] {
  return Object.entries(operations)
    .map(([operationId, meta]) => {
      const names: string[] = [];
      const source = meta.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { method: meta.method.toUpperCase(), pattern: new RegExp(`^${source}$`), names, operationId, meta };
    })
    .sort((a, b) => a.names.length - b.names.length);
}

/** What an operation the emulator does not serve answers: the words a user (and test) can look for, and the operation. */
export function notEmulatedMessage(operationId: string, meta: Pick<OperationMeta, 'method' | 'path'>): string {
  return `${operationId} (${meta.method.toUpperCase()} ${meta.path}) is not emulated by sandbox-procs`;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop keeping it; the answer goes out now and the connection closes after it.
        req.off('data', onData);
        chunks.length = 0;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** decodeURIComponent, or undefined for a malformed escape (a path that names nothing). */
function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

export async function serveOperations(options: ServeOptions): Promise<HttpEmulator> {
  const routes = compileRoutes(options.operations);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const tokenHeader = options.tokenHeader?.toLowerCase() ?? 'authorization';
  const expectedAuth = options.tokenHeader ? options.token : `Bearer ${options.token}`;

  function replyFor(res: ServerResponse, requestId: string): Reply {
    // An answer given before the request's body was read whole (401, too large, ...) ends the
    // connection: a client that dribbles its body must not keep the socket.
    const closeIfUnread = (headers: Record<string, string>) => {
      if (res.req.complete) return;
      headers.connection = 'close';
      res.once('finish', () => res.req.socket.destroy());
    };
    const send = (status: number, body?: unknown, extra: Record<string, string> = {}) => {
      if (res.headersSent) return;
      const headers: Record<string, string> = { ...extra, 'x-request-id': requestId };
      closeIfUnread(headers);
      if (body !== undefined) headers['content-type'] = 'application/json';
      // A bodiless 200 says so: without a length Node sends it chunked, which a client may take for a body.
      else if (status !== 204 && status !== 304) headers['content-length'] = '0';
      res.writeHead(status, headers);
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    return {
      json: (status, body, headers) => send(status, body, headers),
      text: (status, body) => {
        if (res.headersSent) return;
        const headers: Record<string, string> = { 'x-request-id': requestId, 'content-type': 'text/plain; charset=utf-8' };
        closeIfUnread(headers);
        res.writeHead(status, headers);
        res.end(body);
      },
      empty: (status) => send(status),
      error: (status, message, code, headers) => send(status, options.errorBody(message, code, requestId), headers),
      sse(headers = {}) {
        res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': requestId });
        res.flushHeaders();
        const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
        const closeListeners: Array<() => void> = [];
        res.on('close', () => {
          clearInterval(keepAlive);
          if (!res.writableEnded) for (const listener of closeListeners) listener();
        });
        let dropped = 0;
        return {
          send(data, event, droppable = false) {
            if (res.writableEnded) return;
            // A client that reads slower than a process prints: its lines are dropped, not buffered without end, and a comment says how many.
            if (droppable && res.writableLength > MAX_SSE_BUFFER_BYTES) {
              dropped++;
              return;
            }
            if (dropped > 0) res.write(`: sandbox-procs dropped ${dropped} events: the client read too slowly\n\n`);
            dropped = 0;
            res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
          },
          end() {
            clearInterval(keepAlive);
            if (!res.writableEnded) res.end();
          },
          onClose: (listener) => closeListeners.push(listener),
        };
      },
    };
  }

  /** The credentials check every route but a public one makes: the 401's message and code, or undefined. */
  function authRefusal(authorization: string | undefined, headerValue: string | string[] | undefined): AuthRefusal | undefined {
    if (options.authorize) return options.authorize(authorization);
    if (headerValue === expectedAuth) return undefined;
    return { message: options.tokenHeader ? `missing or invalid ${options.tokenHeader} header` : 'missing or invalid bearer token', code: 'AUTHENTICATION_REQUIRED' };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = `req_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const reply = replyFor(res, requestId);
    const url = new URL(req.url ?? '/', 'http://emulator');
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of routes) {
      if (candidate.method !== req.method) continue;
      match = candidate.pattern.exec(url.pathname);
      if (match) {
        route = candidate;
        break;
      }
    }
    if (!route || !match) {
      const { unrouted } = options;
      if (!unrouted) return reply.error(404, `no route for ${req.method} ${url.pathname}`, 'NOT_FOUND');
      req.resume();
      res.writeHead(unrouted.status, { 'x-request-id': requestId, ...(unrouted.contentType ? { 'content-type': unrouted.contentType } : {}) });
      return void res.end(unrouted.body);
    }
    if (!options.publicOperations?.has(route.operationId)) {
      const refusal = authRefusal(req.headers.authorization, req.headers[tokenHeader]);
      if (refusal) return reply.error(401, refusal.message, refusal.code);
    }

    // Declared but not served: the provider's own error shape, naming what is missing, rather than a bare "no route".
    if (route.meta.emulated === false || !options.handlers[route.operationId]) {
      req.resume();
      return reply.error(501, notEmulatedMessage(route.operationId, route.meta), 'NOT_IMPLEMENTED');
    }

    const refuse = (bodyProblem: BodyProblem, status: number, message: string, code: string) => {
      if (!options.rejectBody) return reply.error(status, message, code);
      const rejection = options.rejectBody(bodyProblem);
      return reply.text(rejection.status, rejection.text);
    };

    // A body where none belongs is discarded unread; if it is still coming, the answer closes the connection.
    let body: Buffer = Buffer.alloc(0);
    if (!route.meta.requestBody && !options.rawBodyOperations?.has(route.operationId)) {
      req.resume();
    } else {
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLarge) return refuse({ kind: 'too-large', limit: maxBodyBytes }, 400, `request body exceeds ${maxBodyBytes} bytes`, 'INVALID_REQUEST');
        throw error;
      }
    }

    const params: Record<string, string | number> = {};
    let malformed = false;
    route.names.forEach((name, i) => {
      const raw = decodeSegment(match![i + 1]!);
      if (raw === undefined) malformed = true;
      const schema = route!.meta.parameters.find((p) => p.name === name)?.schema;
      params[name] = raw !== undefined && schema && allowsInteger(schema) && /^-?\d+$/.test(raw) ? Number(raw) : (raw ?? '');
    });
    // A path that names no valid resource is a resource that does not exist.
    if (malformed) return reply.error(404, 'not found: the path holds a malformed percent-escape', 'NOT_FOUND');
    const pathProblem = findRequestViolation({ ...route.meta, requestBody: undefined, parameters: route.meta.parameters.filter((p) => p.in === 'path') }, { path: params });
    if (pathProblem) return reply.error(404, `not found: ${pathProblem}`, 'NOT_FOUND');

    let json: unknown;
    const isJson = (req.headers['content-type'] ?? '').split(';')[0]!.trim() === 'application/json';
    if (route.meta.requestBody && body.length > 0) {
      if (!isJson) return refuse({ kind: 'content-type' }, 400, 'the body must be application/json', 'INVALID_REQUEST');
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        return refuse({ kind: 'json' }, 400, 'the body is not valid JSON', 'INVALID_JSON');
      }
    }
    // Query values are text on the wire: all-digit ones are integers where the spec allows one, as path values are.
    const query: Record<string, string | number> = Object.fromEntries(url.searchParams);
    for (const param of route.meta.parameters) {
      const raw = query[param.name];
      if (param.in === 'query' && typeof raw === 'string' && allowsInteger(param.schema) && /^-?\d+$/.test(raw)) query[param.name] = Number(raw);
    }
    const problem = findRequestViolation(route.meta, { path: params, query, ...(json === undefined ? {} : { body: json }) });
    if (problem) {
      const inBody = problem.startsWith('body') || problem === 'a request body is required';
      return inBody ? refuse({ kind: 'schema', problem }, 400, problem, 'INVALID_REQUEST') : reply.error(400, problem, 'INVALID_REQUEST');
    }

    await options.handlers[route.operationId]!({ operationId: route.operationId, params, query: url.searchParams, headers: req.headers, body, json, requestId }, reply);
  }

  const server = createServer((req, res) => {
    if (options.divert?.(req, res)) return;
    handle(req, res).catch((error: unknown) => {
      const requestId = 'req_internal';
      if (!res.headersSent) replyFor(res, requestId).error(500, `internal error: ${(error as Error).message}`, 'INTERNAL_ERROR');
      else res.destroy();
    });
  });
  const upgrades = createUpgradeHandler({
    routes: options.upgrades?.routes ?? [],
    errorBody: options.errorBody,
    authorize: (req) => {
      const refusal = authRefusal(req.headers.authorization, req.headers[tokenHeader]);
      return refusal && { status: 401, ...refusal };
    },
    ...(options.upgrades?.gate && { gate: options.upgrades.gate }),
    ...(options.upgrades?.maxSessions !== undefined && { maxSessions: options.upgrades.maxSessions }),
    busy: options.upgrades?.busy ?? { status: 429, code: 'TOO_MANY_SESSIONS' },
    unrouted: () => {
      const { unrouted } = options;
      // The refusal's body is the provider's JSON error; a router's plain-text 404 is said in its words.
      return unrouted ? { status: unrouted.status, message: unrouted.body.trim(), code: 'NOT_FOUND' } : { status: 404, message: 'no route for this WebSocket path', code: 'NOT_FOUND' };
    },
    notEmulated: (route) => ({ status: 501, message: notEmulatedMessage(route.name, { method: 'get', path: route.path }), code: 'NOT_IMPLEMENTED' }),
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (options.divertUpgrade?.(req, socket, head)) return;
    upgrades.onUpgrade(req, socket, head);
  });
  // Slow clients are cut off: headers within 10 s, a whole request within 30 s, idle keep-alive 5 s.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = options.maxConnections ?? 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Upgraded sockets are no longer the server's connections: they are ended here.
        upgrades.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
