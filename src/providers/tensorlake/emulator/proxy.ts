// The sandbox proxy of the control plane: a request is forwarded, streaming both
// ways, to the process-API emulator of the sandbox it names, with that sandbox's
// own token. A client that goes away ends the upstream request too, so that a
// `run` whose caller hung up is ended as it would be without the proxy.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Forwards `req` to `baseUrl` (a loopback emulator) as `Bearer token`, and its answer back to `res`. */
export function forwardToSandbox(req: IncomingMessage, res: ServerResponse, baseUrl: string, token: string): void {
  const target = new URL(baseUrl);
  const headers: OutgoingHttpHeaders = { ...req.headers, host: target.host, authorization: `Bearer ${token}` };
  const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    // SSE frames must reach the client as they come, not when a buffer fills.
    res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', () => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'the sandbox did not answer (it was terminated meanwhile?)' }));
    } else {
      res.destroy();
    }
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/**
 * Forwards a WebSocket upgrade (a PTY session's /ws) to the sandbox's emulator, as
 * `Bearer token`: its answer (101, or the refusal) goes back as it came, and once
 * upgraded the two sockets are joined byte for byte until either ends.
 */
export function forwardUpgradeToSandbox(req: IncomingMessage, socket: Duplex, head: Buffer, baseUrl: string, token: string): void {
  const target = new URL(baseUrl);
  const headers: OutgoingHttpHeaders = { ...req.headers, host: target.host, authorization: `Bearer ${token}` };
  const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers });
  const statusHead = (answer: IncomingMessage) => {
    const lines = [`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  };
  socket.on('error', () => upstream.destroy());
  upstream.on('upgrade', (answer, upstreamSocket, upstreamHead) => {
    socket.write(statusHead(answer));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  // Refused: the sandbox's own answer, then the connection ends.
  upstream.on('response', (answer) => {
    socket.write(statusHead(answer));
    answer.pipe(socket);
  });
  upstream.on('error', () => {
    if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"the sandbox did not answer (it was terminated meanwhile?)"}');
  });
  upstream.end();
}
