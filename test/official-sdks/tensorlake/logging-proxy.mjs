// A tiny logging proxy on 127.0.0.1 between the official SDK and a target, shared by
// the driver scripts of this folder: every request the SDK sends (method, path,
// headers, body) and the response it got (status, content type, body) is pushed to
// the `requests` of whatever `owner()` returns when the request arrives (the step
// being run). Headers pass through as they are (Host included: the control plane
// routes the sandbox proxy by it); the secrets given are masked in what is recorded.
// A WebSocket upgrade is relayed too (the target's refusal as it sent it, else every
// message both ways and the close) and recorded in `channels`, when given: each
// message with its direction, kind and bytes (base64), for the test to validate.
import http from 'node:http';
// This folder's own dependency (the tensorlake SDK's too), pinned in its package.json.
import WebSocket, { WebSocketServer } from 'ws';

// Whole bodies (these scripts' are small), so that a test can validate each against a spec.
const BODY_LIMIT = 1024 * 1024;

/** Headers `ws` makes itself for the upstream handshake. */
const HANDSHAKE_HEADERS = new Set(['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'content-length']);

/** Relays one upgrade to `target`, accepting the client's only once the target has accepted; records it in `channels`. */
function relayUpgrade(target, channels, accept, mask) {
  return (req, socket, head) => {
    const url = new URL(req.url ?? '/', target);
    const query = Object.fromEntries([...url.searchParams].map(([name, value]) => [name, name === 'token' ? '<TOKEN>' : mask(value)]));
    const record = { path: url.pathname, query, host: req.headers.host, status: 0, responseBody: '', messages: [] };
    channels?.push(record);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HANDSHAKE_HEADERS.has(name)));
    const upstream = new WebSocket(url.href.replace(/^http/, 'ws'), { headers, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    socket.on('error', () => upstream.terminate());
    upstream.on('unexpected-response', (_request, response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        record.status = response.statusCode;
        record.contentType = response.headers['content-type'] ?? null;
        record.responseBody = mask(body.toString('utf8')).slice(0, BODY_LIMIT);
        const lines = Object.entries(response.headers)
          .filter(([name]) => !/^(connection|transfer-encoding|content-length)$/i.test(name))
          .map(([name, value]) => `${name}: ${String(value)}`);
        socket.end(`HTTP/1.1 ${response.statusCode} ${response.statusMessage ?? ''}\r\n${lines.join('\r\n')}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body.toString('latin1')}`, 'latin1');
      });
    });
    upstream.on('error', () => socket.destroy());
    upstream.on('open', () => {
      record.status = 101;
      accept.handleUpgrade(req, socket, head, (client) => {
        const relay = (from, to) => (data, binary) => {
          const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
          record.messages.push({ from, binary, data: bytes.toString('base64') });
          if (to.readyState === WebSocket.OPEN) to.send(bytes, { binary });
        };
        client.on('message', relay('client', upstream));
        upstream.on('message', relay('server', client));
        const closed = (by, other) => (code, reason) => {
          record.close ??= { by, code, reason: reason.toString('utf8') };
          // 1005 (no status) and 1006 (abnormal) cannot be sent in a close frame.
          if (other.readyState === WebSocket.OPEN) code === 1005 || code === 1006 ? other.close() : other.close(code, reason);
        };
        client.on('close', closed('client', upstream));
        upstream.on('close', closed('server', client));
        client.on('error', () => upstream.terminate());
        upstream.on('error', () => client.terminate());
      });
    });
  };
}

/** Starts the proxy in front of `targetUrl`; resolves to { url, close() }. */
export async function startLoggingProxy(targetUrl, { owner, secrets = [], channels }) {
  const target = new URL(targetUrl);
  const mask = (value) => secrets.reduce((text, secret) => (secret ? text.split(secret).join('<TOKEN>') : text), value);
  const proxy = http.createServer((req, res) => {
    const record = { method: req.method, path: req.url, headers: { ...req.headers }, body: '' };
    if (record.headers.authorization) record.headers.authorization = mask(record.headers.authorization);
    owner()?.requests.push(record);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      record.body = body.toString('utf8').slice(0, BODY_LIMIT);
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          record.status = up.statusCode;
          record.contentType = up.headers['content-type'] ?? null;
          record.response = '';
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.on('data', (c) => {
            if (record.response.length < BODY_LIMIT) record.response += c.toString('utf8');
            res.write(c);
          });
          up.on('end', () => {
            record.response = record.response.slice(0, BODY_LIMIT);
            res.end();
          });
          up.on('error', () => res.destroy());
        },
      );
      upstream.on('error', (error) => {
        record.status = 'proxy-error';
        record.response = String(error);
        if (!res.headersSent) res.writeHead(599);
        res.end();
      });
      upstream.end(body);
    });
    res.on('close', () => {
      // The client went away (an aborted stream): do not keep the upstream open.
      if (!res.writableFinished) req.destroy();
    });
  });
  const accept = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  proxy.on('upgrade', relayUpgrade(target, channels, accept, mask));
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    close() {
      for (const client of accept.clients) client.terminate();
      accept.close();
      proxy.closeAllConnections?.();
      proxy.close();
    },
  };
}
