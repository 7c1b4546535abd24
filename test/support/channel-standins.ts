// For the channel checks' tests: the AsyncAPI stand-ins of test/fixtures/channels
// served in place of specs/<provider>.asyncapi.yaml (and their message schemas merged
// into the real OpenAPI specs), and stand-in WebSocket servers: real `ws` servers on
// 127.0.0.1:0 behind a node:http server that also answers REST requests and can
// refuse an upgrade with any status and body.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AsyncApiDocument, OpenApiDocument } from '../../src/specs.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'channels');

/** The fixture AsyncAPI document of `provider`. */
export function fixtureAsyncApi(provider: string): AsyncApiDocument {
  return parse(readFileSync(join(fixtures, `${provider}.asyncapi.yaml`), 'utf8')) as AsyncApiDocument;
}

/** `spec` with the fixture message schemas of `provider` among its component schemas (in place of its own, once it has them: the engine's tests stay on the fixtures). */
export function withFixtureMessages(provider: string, spec: OpenApiDocument): OpenApiDocument {
  const messages = parse(readFileSync(join(fixtures, `${provider}-messages.yaml`), 'utf8')) as Record<string, unknown>;
  const components = (spec.components ?? {}) as { schemas?: Record<string, unknown> };
  // The upgrade's HTTP side, where the fixture declares one (a refusal's status and body).
  const upgrades = existsSync(join(fixtures, `${provider}-upgrades.yaml`)) ? (parse(readFileSync(join(fixtures, `${provider}-upgrades.yaml`), 'utf8')) as Record<string, Record<string, unknown>>) : {};
  return { ...spec, paths: { ...spec.paths, ...upgrades }, components: { ...components, schemas: { ...components.schemas, ...messages } } };
}

type SpecsModule = typeof import('../../src/specs.js');

/**
 * The specs module as the channel suites mock it: the fixture AsyncAPI documents, and
 * the real OpenAPI specs with the fixture messages. For `vi.mock('../src/specs.js', ...)`.
 */
export async function specsWithFixtureChannels(importOriginal: () => Promise<SpecsModule>): Promise<SpecsModule> {
  const original = await importOriginal();
  return {
    ...original,
    loadAsyncApi: (provider) => fixtureAsyncApi(provider),
    loadSpec: (name) => (name === 'hopx' || name === 'tensorlake' ? withFixtureMessages(name, original.loadSpec(name)) : original.loadSpec(name)),
  };
}

export interface Refusal {
  status: number;
  body: string;
  contentType?: string;
}

export interface StandInOptions {
  /** REST requests; default: 404 with a JSON error body. */
  http?(req: IncomingMessage, res: ServerResponse, body: string): void;
  /** Decides on an upgrade: a refusal, or undefined to accept. */
  refuse?(req: IncomingMessage): Refusal | undefined;
  /** An accepted connection. */
  connection(socket: WebSocket, req: IncomingMessage): void;
}

export interface StandIn {
  baseUrl: string;
  /** Upgrade requests seen, with their URL and headers. */
  upgrades: Array<{ url: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

export async function startStandIn(options: StandInOptions): Promise<StandIn> {
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Socket>();
  const upgrades: StandIn['upgrades'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (options.http) return options.http(req, res, body);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found","code":"NOT_FOUND"}');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', headers: req.headers });
    socket.on('error', () => undefined);
    const refusal = options.refuse?.(req);
    if (refusal) {
      const body = Buffer.from(refusal.body);
      socket.end(`HTTP/1.1 ${refusal.status} Refused\r\ncontent-type: ${refusal.contentType ?? 'application/json'}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString()}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => options.connection(ws, req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upgrades,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
      wss.close();
    },
  };
}

/** Sends `messages` one at a time, each after the previous one was written (as a server that the official HopX SDK can read must). */
export async function sendEach(socket: WebSocket, messages: Array<string | Buffer>): Promise<void> {
  for (const message of messages) {
    await new Promise<void>((resolve, reject) => socket.send(message, (error) => (error ? reject(error) : resolve())));
    await new Promise((resolve) => setImmediate(resolve));
  }
}
