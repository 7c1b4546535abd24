// A real local WebSocket stand-in for client tests: one HTTP server on 127.0.0.1,
// port 0, that answers plain requests with `http` and upgrade requests with
// `upgrade` (refuse with a status and body, hold, or accept and hand the socket to
// the test). close() ends every connection it holds.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export type UpgradeAnswer =
  | { refuse: number; body: string; contentType?: string; headers?: Record<string, string> }
  | { accept: (socket: WebSocket, request: IncomingMessage) => void }
  /** Never answer the upgrade (to cancel an opening). */
  | { hold: true };

export interface WsStandIn {
  baseUrl: string;
  /** Every upgrade request's URL and headers, in order. */
  upgrades: Array<{ url: string; headers: IncomingMessage['headers'] }>;
  /** Every plain request's method, URL and body. */
  requests: Array<{ method: string; url: string; body: string }>;
  close(): Promise<void>;
}

export async function startWsStandIn(options: {
  upgrade: (request: IncomingMessage) => UpgradeAnswer;
  http?: (request: { method: string; url: string; body: string }, response: ServerResponse) => void;
}): Promise<WsStandIn> {
  const upgrades: WsStandIn['upgrades'] = [];
  const requests: WsStandIn['requests'] = [];
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') };
      requests.push(entry);
      if (options.http) options.http(entry, res);
      else res.writeHead(404).end();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push({ url: request.url ?? '', headers: request.headers });
    const answer = options.upgrade(request);
    if ('hold' in answer) return;
    if ('refuse' in answer) {
      const body = Buffer.from(answer.body);
      socket.end(
        `HTTP/1.1 ${answer.refuse} Refused\r\ncontent-type: ${answer.contentType ?? 'application/json'}\r\ncontent-length: ${body.length}\r\n` +
          Object.entries(answer.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
          `connection: close\r\n\r\n${answer.body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => answer.accept(ws, request));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    upgrades,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        for (const socket of sockets) socket.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };
}

/** Sends `data` and resolves once `ws` has handed it to the kernel (so that a paused reader holds the sender back). */
export function sendNow(socket: WebSocket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())));
}

/** The next message `socket` receives, as [data, isBinary]. */
export function nextMessage(socket: WebSocket): Promise<[Buffer, boolean]> {
  return new Promise((resolve) => socket.once('message', (data: Buffer, binary: boolean) => resolve([data, binary])));
}
