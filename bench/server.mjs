// The benchmark's server, run as its own process so that its work does not
// count as the client's: it answers kill, list and get of both providers with
// bodies valid against our specs, on 127.0.0.1, and prints its port. Over HTTPS
// when given a certificate and key (argv: CERT KEY). It counts the TCP
// connections it accepted and tells them on request (IPC), so that the bench can
// say how many connections each client opened.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const info = { pid: 42, status: 'running', stdin_writable: false, command: 'sleep', args: ['60'], started_at: 1763900000000, exit_code: null, signal: null, ended_at: null };
const tensorlakeList = JSON.stringify({ processes: [info, { ...info, pid: 43 }] });
const tensorlakeGet = JSON.stringify(info);
const hopxKill = JSON.stringify({ process_id: 'proc_abc123', status: 'killed', message: 'Process terminated successfully' });
const hopxList = JSON.stringify({
  processes: [
    { process_id: 'proc_abc123', execution_id: 'exec_1', name: 'sleeper', status: 'running', language: 'bash', started_at: '2026-11-23T10:00:00Z', completed_at: null, stdout: '', stderr: '', exit_code: null, execution_time: null },
  ],
  count: 1,
});

function send(res, status, body) {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const handler = (req, res) => {
  req.resume();
  req.on('end', () => {
    const path = req.url.split('?')[0];
    if (req.method === 'DELETE' && path.startsWith('/api/v1/processes/')) return send(res, 204);
    if (req.method === 'GET' && path === '/api/v1/processes') return send(res, 200, tensorlakeList);
    if (req.method === 'GET' && path.startsWith('/api/v1/processes/')) return send(res, 200, tensorlakeGet);
    if (req.method === 'DELETE' && path === '/execute/kill') return send(res, 200, hopxKill);
    if (req.method === 'POST' && path.startsWith('/execute/kill/')) return send(res, 200, hopxKill);
    if (req.method === 'GET' && path === '/execute/processes') return send(res, 200, hopxList);
    send(res, 404, JSON.stringify({ error: 'not found', code: 'NOT_FOUND' }));
  });
};

const [cert, key] = process.argv.slice(2);
const server = cert && key ? createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler) : createHttpServer(handler);
let connections = 0;
server.on(cert ? 'secureConnection' : 'connection', () => connections++);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('message', () => process.send?.({ connections }));
process.on('disconnect', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
