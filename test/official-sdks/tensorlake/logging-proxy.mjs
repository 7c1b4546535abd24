// A tiny logging proxy on 127.0.0.1 between the official SDK and a target, shared by
// the driver scripts of this folder: every request the SDK sends (method, path,
// headers, body) and the response it got (status, content type, body) is pushed to
// the `requests` of whatever `owner()` returns when the request arrives (the step
// being run). Headers pass through as they are (Host included: the control plane
// routes the sandbox proxy by it); the secrets given are masked in what is recorded.
import http from 'node:http';

// Whole bodies (these scripts' are small), so that a test can validate each against a spec.
const BODY_LIMIT = 1024 * 1024;

/** Starts the proxy in front of `targetUrl`; resolves to { url, close() }. */
export async function startLoggingProxy(targetUrl, { owner, secrets = [] }) {
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
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    close() {
      proxy.closeAllConnections?.();
      proxy.close();
    },
  };
}
