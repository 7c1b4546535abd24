// A recording proxy for tests: a node:http server on 127.0.0.1 (free port) that
// forwards every request to an upstream and keeps each exchange, so that a test
// can check what a client we do not control (an official SDK) sent and got
// against our spec, with the project's own validators. close() in afterAll.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import type { OperationMeta, OperationTable, SchemaConstraints } from '../../src/core/operation.js';
import { findRequestViolation } from '../../src/core/validate-input.js';
import type { SpecValidator } from '../../src/contract/validate.js';

export interface Exchange {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The request's headers, Authorization and X-API-Key left out (tests print exchanges; a token must never reach the output). */
  requestHeaders: IncomingHttpHeaders;
  requestBody: string;
  status: number;
  contentType: string | null;
  responseBody: string;
}

/** One WebSocket message as it crossed the proxy. */
export interface ChannelMessage {
  from: 'client' | 'server';
  binary: boolean;
  data: Buffer;
}

/** A WebSocket upgrade and, once the upstream accepted it, every message both ways and how it closed. */
export interface ChannelExchange {
  path: string;
  /** The query, a `token` value masked (Tensorlake's PTY session token travels there). */
  query: Record<string, string>;
  requestHeaders: IncomingHttpHeaders;
  /** 101 when the upstream upgraded; its refusal's status otherwise. */
  status: number;
  /** The refusal's content type (null once upgraded, or when it sent none). */
  contentType: string | null;
  /** The refusal's body (empty once upgraded). */
  responseBody: string;
  messages: ChannelMessage[];
  close?: { by: 'client' | 'server'; code: number; reason: string };
}

export interface RecordingProxy {
  baseUrl: string;
  exchanges: Exchange[];
  channels: ChannelExchange[];
  close(): Promise<void>;
}

/** Headers no test output may show: the agent token, API keys and the PTY session token. */
function shownHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { authorization: _auth, 'x-api-key': _key, 'x-pty-token': _pty, ...shown } = headers;
  return shown;
}

/** Hop-by-hop and handshake headers `ws` makes itself for the upstream connection. */
const HANDSHAKE_HEADERS = new Set(['host', 'connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-accept', 'content-length']);

/**
 * Relays a WebSocket upgrade: opens the same upgrade upstream with the client's headers,
 * and only once the upstream has accepted it accepts the client's, so that a refusal
 * (its status and body) reaches the client as the upstream sent it.
 */
function relayUpgrade(upstream: string, channels: ChannelExchange[], accept: WebSocketServer) {
  return (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', upstream);
    const query = Object.fromEntries([...url.searchParams].map(([name, value]) => [name, name === 'token' ? '<TOKEN>' : value]));
    const channel: ChannelExchange = { path: url.pathname, query, requestHeaders: shownHeaders(req.headers), status: 0, contentType: null, responseBody: '', messages: [] };
    channels.push(channel);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HANDSHAKE_HEADERS.has(name))) as Record<string, string>;
    const target = new WebSocket(url.href.replace(/^http/, 'ws'), { headers, perMessageDeflate: false });
    socket.on('error', () => target.terminate());
    target.on('unexpected-response', (_request, response) => {
      void readAll(response).then((body) => {
        channel.status = response.statusCode ?? 0;
        channel.contentType = response.headers['content-type'] ?? null;
        channel.responseBody = body.toString('utf8');
        const head = [`HTTP/1.1 ${channel.status} ${response.statusMessage ?? ''}`, ...Object.entries(response.headers).map(([k, v]) => `${k}: ${String(v)}`)];
        socket.end(`${head.filter((line) => !/^(connection|transfer-encoding|content-length):/i.test(line)).join('\r\n')}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body.toString('latin1')}`, 'latin1');
      });
    });
    target.on('error', () => socket.destroy());
    target.on('open', () => {
      channel.status = 101;
      accept.handleUpgrade(req, socket, head, (client) => {
        // Each direction relays one message at a time, the next only once the last has been
        // written and the event loop has polled again (a timer, then an immediate, as the
        // emulator's paced-sender.ts does): messages that arrived here in one read
        // leave in separate writes, as the upstream sent them (@hopx-ai/sdk 0.5.1 loses
        // messages that reach it in one socket read), and a close follows what came before it.
        const queues = { client: Promise.resolve(), server: Promise.resolve() };
        const paced = (from: 'client' | 'server', to: WebSocket, send: (done: () => void) => void) => {
          queues[from] = queues[from].then(
            () =>
              new Promise<void>((resolve) => {
                if (to.readyState !== WebSocket.OPEN) return resolve();
                send(() => setTimeout(() => setImmediate(resolve), 1));
              }),
          );
        };
        const relay = (from: 'client' | 'server', to: WebSocket) => (data: RawData, binary: boolean) => {
          const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
          channel.messages.push({ from, binary, data: bytes });
          paced(from, to, (done) => to.send(bytes, { binary }, done));
        };
        client.on('message', relay('client', target));
        target.on('message', relay('server', client));
        const closed = (by: 'client' | 'server', other: WebSocket) => (code: number, reason: Buffer) => {
          channel.close ??= { by, code, reason: reason.toString('utf8') };
          // 1005 (no status) and 1006 (abnormal) cannot be sent in a close frame.
          paced(by, other, (done) => {
            if (code === 1005 || code === 1006) other.close();
            else other.close(code, reason);
            done();
          });
        };
        client.on('close', closed('client', target));
        target.on('close', closed('server', client));
        client.on('error', () => target.terminate());
        target.on('error', () => client.terminate());
      });
    });
  };
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const url = new URL(req.url ?? '/', upstream);
      const requestHeaders = shownHeaders(req.headers);
      const forwarded = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (upstreamRes) => {
          void readAll(upstreamRes).then((responseBody) => {
            exchanges.push({
              method: req.method ?? '',
              path: url.pathname,
              query: Object.fromEntries(url.searchParams),
              requestHeaders,
              requestBody: body.toString('utf8'),
              status: upstreamRes.statusCode ?? 0,
              contentType: upstreamRes.headers['content-type'] ?? null,
              responseBody: responseBody.toString('utf8'),
            });
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
            res.end(responseBody);
          });
        },
      );
      forwarded.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${error.message}`);
      });
      forwarded.end(body);
    })();
  });
  const channels: ChannelExchange[] = [];
  // The client's side of each relayed channel is accepted here; the message size bound is the upstream's to enforce.
  const accept = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  server.on('upgrade', relayUpgrade(upstream, channels, accept));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    exchanges,
    channels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of accept.clients) client.terminate();
        accept.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The operation of the spec a request is for, by method and path template. */
export function operationFor(operations: OperationTable, method: string, path: string): [string, OperationMeta, Record<string, string>] | undefined {
  for (const [id, meta] of Object.entries(operations)) {
    if (meta.method.toUpperCase() !== method) continue;
    const names: string[] = [];
    const pattern = meta.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (match) return [id, meta, Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]))];
  }
  return undefined;
}

/** A path or query value is text on the wire: as the server does, read all-digit values as integers where the spec allows one. */
function typedPathParams(meta: OperationMeta, path: Record<string, string>, where: 'path' | 'query' = 'path'): Record<string, string | number> {
  const allowsInteger = (schema: SchemaConstraints): boolean => schema.type === 'integer' || (schema.anyOf ?? schema.oneOf ?? []).some(allowsInteger);
  return Object.fromEntries(
    Object.entries(path).map(([name, value]) => {
      const schema = meta.parameters.find((p) => p.name === name && p.in === where)?.schema;
      return [name, schema && allowsInteger(schema) && /^\d+$/.test(value) ? Number(value) : value];
    }),
  );
}

/**
 * Every way the recorded exchanges break the spec, one line each: a request to
 * no operation, a request the spec's constraints refuse (parameters and body,
 * as the client's own input check sees them, then the body against the full
 * JSON Schema), and every finding of the response validator, warnings included
 * (a field the spec does not declare). Empty when all conform.
 */
export function specViolations(exchanges: readonly Exchange[], operations: OperationTable, validator: SpecValidator): string[] {
  return exchanges.flatMap((x) => {
    const where = `${x.method} ${x.path} -> ${x.status}`;
    const found = operationFor(operations, x.method, x.path);
    if (!found) return [`${where}: no operation of the spec has this method and path`];
    const [operation, meta, rawPath] = found;
    const path = typedPathParams(meta, rawPath);
    const problems: string[] = [];
    // A body the spec declares as bytes (Tensorlake's stdin) is no JSON to check.
    const jsonBody = meta.requestBody !== undefined && meta.requestBody.schema.type !== 'string';
    let body: unknown;
    if (x.requestBody !== '' && jsonBody) {
      try {
        body = JSON.parse(x.requestBody);
      } catch {
        problems.push(`${where}: request body is not JSON`);
      }
    }
    // An empty JSON body on a bodiless POST is what axios sends; it is no body.
    const input = { path, query: typedPathParams(meta, x.query, 'query'), ...(body === undefined || !meta.requestBody ? {} : { body }) };
    const requestProblem = findRequestViolation(meta, input);
    if (requestProblem) problems.push(`${where}: request: ${requestProblem}`);
    if (jsonBody && x.requestBody !== '') {
      problems.push(...validator.checkRequestBody(operation, x.requestBody).map((f) => `${where}: request ${f.kind}: ${f.message}`));
    }
    const findings = validator.check(operation, { status: x.status, contentType: x.contentType, bodyText: x.responseBody });
    problems.push(...findings.map((f) => `${where}: response ${f.severity} ${f.kind}: ${f.message}`));
    return problems;
  });
}
