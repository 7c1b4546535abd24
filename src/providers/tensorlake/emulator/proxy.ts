// The sandbox proxy of the control plane: a request is forwarded, streaming both
// ways, to the process-API emulator of the sandbox it names, with that sandbox's
// own token. A client that goes away ends the upstream request too, so that a
// `run` whose caller hung up is ended as it would be without the proxy.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

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
