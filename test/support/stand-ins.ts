// Stand-ins for what the providers' own code serves where it differs from our
// specs: a real HTTP server that answers some requests itself, the way the
// provider's server would, and passes the rest to an emulator (whose answers
// follow our specs). Each stand-in is written from a source that
// ../shared/providers/real-sources.md names.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import type { ProviderName } from '../../src/index.js';

export interface Incoming {
  method: string;
  path: string;
  query: URLSearchParams;
  authorized: boolean;
  body: string;
}

export interface Answer {
  status: number;
  contentType?: string;
  body: string;
}

/** An answer of its own, or undefined to pass the request on; `after` may rewrite what the emulator answered. */
export interface StandIn {
  before?(request: Incoming): Answer | undefined;
  after?(request: Incoming, upstream: Answer): Answer;
}

export interface RunningStandIn {
  baseUrl: string;
  token: string;
  stop(): Promise<void>;
}

export async function startStandIn(provider: ProviderName, standIn: StandIn): Promise<RunningStandIn> {
  const emulator: RunningEmulator = await startEmulator(provider);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const incoming: Incoming = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        authorized: req.headers.authorization === `Bearer ${emulator.token}`,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      let answer = standIn.before?.(incoming);
      if (!answer) {
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host') headers.set(name, value);
        const upstream = await fetch(`${emulator.baseUrl}${req.url}`, { method: incoming.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
        const received: Answer = { status: upstream.status, contentType: upstream.headers.get('content-type') ?? '', body: await upstream.text() };
        answer = standIn.after ? standIn.after(incoming, received) : received;
      }
      res.writeHead(answer.status, answer.contentType ? { 'content-type': answer.contentType } : {});
      res.end(answer.body);
    });
  });
  // A WebSocket upgrade: `before` may answer it (a refusal); else it goes on to the emulator as it came, and the
  // connection is piped both ways (the stand-ins differ from the emulators in their HTTP answers, not in messages).
  const tunnels = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    tunnels.add(socket);
    socket.on('error', () => undefined).on('close', () => tunnels.delete(socket));
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const answer = standIn.before?.({ method: req.method ?? '', path: url.pathname, query: url.searchParams, authorized: req.headers.authorization === `Bearer ${emulator.token}`, body: '' });
    if (answer) {
      socket.end(`HTTP/1.1 ${answer.status} Refused\r\n${answer.contentType ? `content-type: ${answer.contentType}\r\n` : ''}content-length: ${Buffer.byteLength(answer.body)}\r\nconnection: close\r\n\r\n${answer.body}`);
      return;
    }
    const target = new URL(emulator.baseUrl);
    const upstream = connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i]!.toLowerCase() === 'host' ? target.host : req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    tunnels.add(upstream);
    upstream.on('error', () => socket.destroy()).on('close', () => (tunnels.delete(upstream), socket.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: emulator.token,
    stop: async () => {
      tunnels.forEach((socket) => socket.destroy());
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await emulator.stop();
    },
  };
}

export const jsonAnswer = (status: number, body: unknown): Answer => ({ status, contentType: 'application/json', body: JSON.stringify(body) });
