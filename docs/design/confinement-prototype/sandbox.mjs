// Emulator side: one long-lived bwrap per sandbox running inner/init.js (host /usr/bin/node, bound read-only).
import { spawn } from 'node:child_process';
import { readdirSync, statSync, lstatSync, existsSync, readlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
const HERE = dirname(fileURLToPath(import.meta.url));
export const T = { SPAWN: 1, STDIN: 2, STDIN_CLOSE: 3, SIGNAL: 4, SPAWNED: 10, SPAWN_ERROR: 11, STDOUT: 12, STDERR: 13, EXIT: 14, CLOSED: 15, READY: 16 };

// Files in /etc that are not world-readable (readable by uid 0 even with every capability dropped) + named extras.
const ETC_EXTRA = ['/etc/npmrc', '/etc/ssh', '/etc/sudoers', '/etc/sudoers.d'];
export function etcSecrets() {
  const out = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n); let st; try { st = lstatSync(p); } catch { continue; }
      if (st.isSymbolicLink()) continue;
      if (!(st.mode & 0o004)) { out.push([p, st.isDirectory()]); continue; }
      if (st.isDirectory()) { try { walk(p); } catch {} }
    }
  };
  walk('/etc');
  for (const p of ETC_EXTRA) if (existsSync(p) && !out.some(([q]) => q === p)) out.push([p, statSync(p).isDirectory()]);
  return out;
}

export function bwrapArgs({ workspace, net = false, capAdd = [], initDir = join(HERE, 'inner'), hostname = 'sandbox' }) {
  const a = ['--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--hostname', hostname];
  for (const c of capAdd) a.push('--cap-add', c);
  if (!net) a.push('--unshare-net');
  a.push('--ro-bind', '/usr', '/usr');
  for (const l of ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    if (!existsSync(l)) continue;
    const st = lstatSync(l);
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(l), l); else a.push('--ro-bind', l, l);
  }
  a.push('--ro-bind', '/etc', '/etc');
  for (const [p, isDir] of etcSecrets()) {
    if (isDir) a.push('--perms', '0000', '--tmpfs', p, '--remount-ro', p); else a.push('--ro-bind', '/dev/null', p);
  }
  a.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--perms', '01777', '--tmpfs', '/var/tmp',
    '--dir', '/run', '--bind', workspace, '/workspace',
    '--ro-bind', initDir, '/.init', '--remount-ro', '/',
    '--chdir', '/workspace', '--clearenv', '--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin',
    '--setenv', 'HOME', '/workspace', '--setenv', 'LANG', 'C.UTF-8',
    '/usr/bin/node', '--max-old-space-size=32', '/.init/init.js');
  return a;
}

export class Sandbox extends EventEmitter {
  constructor(opts) { super(); this.opts = opts; this.nextId = 1; this.procs = new Map(); }
  start() {
    const args = bwrapArgs(this.opts);
    // fd 3 is a socketpair created by Node; bwrap leaves inherited fds open for the program.
    this.bw = spawn(this.opts.bwrap ?? 'bwrap', [...(this.opts.argsPrefix ?? []), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: {}, ...(this.opts.spawnOpts ?? {}) });
    this.ctl = this.bw.stdio[3];
    let buf = Buffer.alloc(0);
    this.ctl.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0); if (buf.length < 4 + len) break;
        this.onFrame(buf.readUInt8(4), buf.readUInt32BE(5), buf.subarray(9, 4 + len)); buf = buf.subarray(4 + len);
      }
    });
    this.ctl.on('error', () => {});
    this.bw.once('exit', (code, sig) => { this.emit('ended', { code, sig }); for (const p of this.procs.values()) p.emit('lost'); });
    return new Promise((res, rej) => { this.once('ready', res); this.bw.once('exit', () => rej(new Error('bwrap exited before ready'))); });
  }
  onFrame(type, id, body) {
    if (type === T.READY) { this.initPid = JSON.parse(body).pid; return this.emit('ready', this); }
    const p = this.procs.get(id); if (!p) return;
    if (type === T.SPAWNED) { p.pid = JSON.parse(body).pid; p.emit('spawn', p.pid); }
    else if (type === T.SPAWN_ERROR) { p.emit('error', JSON.parse(body)); this.procs.delete(id); }
    else if (type === T.STDOUT) p.emit('stdout', body);
    else if (type === T.STDERR) p.emit('stderr', body);
    else if (type === T.EXIT) { const e = JSON.parse(body); p.code = e.code; p.signal = e.signal; p.emit('exit', e); }
    else if (type === T.CLOSED) { p.emit('close'); this.procs.delete(id); }
  }
  send(type, id, payload) {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload === undefined ? '' : JSON.stringify(payload));
    const h = Buffer.allocUnsafe(9); h.writeUInt32BE(body.length + 5, 0); h.writeUInt8(type, 4); h.writeUInt32BE(id, 5);
    this.ctl.write(Buffer.concat([h, body]));
  }
  spawn(req) {
    const id = this.nextId++; const p = new EventEmitter(); p.id = id;
    p.write = (d) => this.send(T.STDIN, id, Buffer.from(d));
    p.closeStdin = () => this.send(T.STDIN_CLOSE, id);
    p.kill = (signal, group = false) => this.send(T.SIGNAL, id, { signal, group });
    this.procs.set(id, p); this.send(T.SPAWN, id, req); return p;
  }
  run(req, input) { // convenience: collect output
    return new Promise((res, rej) => {
      const p = this.spawn(req); const out = [], err = [];
      p.on('stdout', (d) => out.push(d)); p.on('stderr', (d) => err.push(d)); p.on('error', rej); p.on('lost', () => rej(new Error('sandbox ended')));
      p.on('spawn', () => { if (input !== undefined) { p.write(input); p.closeStdin(); } });
      p.on('close', () => res({ pid: p.pid, code: p.code, signal: p.signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    });
  }
  kill(sig = 'SIGKILL') { try { this.bw.kill(sig); } catch {} }
}
