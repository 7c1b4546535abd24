'use strict';
// Spawner ("init") running inside the sandbox's namespaces as pid 2 (bwrap is pid 1 and reaps orphans).
// Talks to the emulator over fd 3 (a socketpair). Frame: u32 len | u8 type | u32 id | payload.
const net = require('net');
const { spawn } = require('child_process');
const os = require('os');
const T = { SPAWN: 1, STDIN: 2, STDIN_CLOSE: 3, SIGNAL: 4, SPAWNED: 10, SPAWN_ERROR: 11, STDOUT: 12, STDERR: 13, EXIT: 14, CLOSED: 15, READY: 16 };
const sock = new net.Socket({ fd: 3, readable: true, writable: true });
const procs = new Map();
function send(type, id, payload) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload === undefined ? '' : JSON.stringify(payload));
  const h = Buffer.allocUnsafe(9); h.writeUInt32BE(body.length + 5, 0); h.writeUInt8(type, 4); h.writeUInt32BE(id, 5);
  sock.write(Buffer.concat([h, body]));
}
function handle(type, id, body) {
  if (type === T.SPAWN) {
    const r = JSON.parse(body);
    let child;
    try {
      child = spawn(r.command, r.args || [], { cwd: r.cwd || '/workspace', env: r.env || {}, detached: true,
        stdio: [r.stdin === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'], uid: r.uid, gid: r.gid });
    } catch (e) { return send(T.SPAWN_ERROR, id, { message: String(e.message) }); }
    child.once('error', (e) => { if (!child.pid) send(T.SPAWN_ERROR, id, { message: e.message, code: e.code }); });
    if (!child.pid) return;
    procs.set(id, child);
    send(T.SPAWNED, id, { pid: child.pid });
    child.stdout.on('data', (d) => send(T.STDOUT, id, d));
    child.stderr.on('data', (d) => send(T.STDERR, id, d));
    if (child.stdin) child.stdin.on('error', () => {});
    child.once('exit', (code, signal) => send(T.EXIT, id, { code, signal: signal ? os.constants.signals[signal] : null }));
    child.once('close', () => { procs.delete(id); send(T.CLOSED, id); });
  } else if (type === T.STDIN) { const c = procs.get(id); if (c && c.stdin) c.stdin.write(body); }
  else if (type === T.STDIN_CLOSE) { const c = procs.get(id); if (c && c.stdin) c.stdin.end(); }
  else if (type === T.SIGNAL) {
    const r = JSON.parse(body); const c = procs.get(id);
    if (c && c.exitCode === null && c.signalCode === null) { try { process.kill(r.group ? -c.pid : c.pid, r.signal); } catch {} }
  }
}
let buf = Buffer.alloc(0);
sock.on('data', (d) => {
  buf = buf.length ? Buffer.concat([buf, d]) : d;
  while (buf.length >= 4) {
    const len = buf.readUInt32BE(0); if (buf.length < 4 + len) break;
    handle(buf.readUInt8(4), buf.readUInt32BE(5), buf.subarray(9, 4 + len)); buf = buf.subarray(4 + len);
  }
});
sock.on('end', () => process.exit(0));   // emulator gone: exit -> bwrap (pid 1) exits -> kernel kills the namespace
sock.on('error', () => process.exit(0));
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => process.exit(0));
send(T.READY, 0, { pid: process.pid });
