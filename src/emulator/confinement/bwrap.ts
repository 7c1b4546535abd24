// The sandbox as bubblewrap builds it: nothing visible that was not granted.
// Its root is made of explicit read-only binds of the system directories (never
// `/`, so no /root, /home or other work trees), with every /etc entry that is not
// world-readable covered (a process inside runs as uid 0 without capabilities and
// could read a root-only file otherwise); a writable /workspace (the sandbox's own
// directory), private /tmp and /var/tmp; its own PID, IPC, UTS and network
// namespaces (with internet access, its one way out is the egress proxy's socket,
// bound alone: egress-proxy.ts); every capability dropped; a new session (no
// terminal to inject into); and it dies with the emulator. Measured in
// docs/design/confinement.md.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EGRESS_ARG, EGRESS_SOCKET, NODE_MODULES_INSIDE } from './spawner.js';

/** Where the spawner and the Node binary that runs it appear inside. */
export const INIT_DIR = '/.init';
export const WORKSPACE = '/workspace';

/** Named secrets that may be world-readable on some systems, hidden whatever their mode. */
const ETC_ALWAYS_HIDDEN = ['/etc/npmrc', '/etc/ssh', '/etc/sudoers', '/etc/sudoers.d'];

/** /etc entries a process inside must not read: those without read for others (shadow, private keys), and the named ones. */
function etcSecrets(): { path: string; directory: boolean }[] {
  const found: { path: string; directory: boolean }[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let info;
      try {
        info = lstatSync(path);
      } catch {
        continue;
      }
      if (info.isSymbolicLink()) continue;
      if (!(info.mode & 0o004)) found.push({ path, directory: info.isDirectory() });
      else if (info.isDirectory()) walk(path);
    }
  };
  walk('/etc');
  for (const path of ETC_ALWAYS_HIDDEN) {
    if (existsSync(path) && !found.some((f) => f.path === path)) found.push({ path, directory: statSync(path).isDirectory() });
  }
  return found;
}

export interface SandboxLayout {
  /** The host directory that is the sandbox's /workspace. */
  workspace: string;
  /** The compiled spawner, bound alone as /.init/spawner.mjs. */
  spawner: string;
  /**
   * Always its own network namespace, with only `lo`: never the host's, whose loopback
   * it would expose. False: nothing more, so no network at all. With `egressSocket`
   * (the host path of the egress proxy's socket), that socket is bound inside and the
   * spawner relays to it.
   */
  network: false | { egressSocket: string };
}

/** bwrap's arguments for a sandbox running the spawner as its one program (fd 3 stays open for it). */
export function bwrapArguments(layout: SandboxLayout): string[] {
  // Every capability dropped but switching user, which a request to run as another user needs (the spawner's spawn({uid, gid})).
  const args = ['--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID'];
  args.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', 'sandbox', '--unshare-net');
  args.push(...systemBinds(), '--ro-bind', '/etc', '/etc');
  for (const secret of etcSecrets()) {
    if (secret.directory) args.push('--perms', '0000', '--tmpfs', secret.path, '--remount-ro', secret.path);
    else args.push('--ro-bind', '/dev/null', secret.path);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--perms', '01777', '--tmpfs', '/var/tmp', '--dir', '/run');
  args.push('--bind', layout.workspace, WORKSPACE);
  // The socket alone, read-only (connecting needs no write access to the mount): nothing else of the host's directory.
  if (layout.network) args.push('--ro-bind', layout.network.egressSocket, EGRESS_SOCKET);
  args.push('--ro-bind', process.execPath, `${INIT_DIR}/node`, '--ro-bind', layout.spawner, `${INIT_DIR}/spawner.mjs`);
  // node-pty for terminal sessions: the host's copy, read-only, loaded by the spawner on the first terminal only.
  const ptyScope = nodePtyScope();
  if (ptyScope) args.push('--ro-bind', ptyScope, `${INIT_DIR}/${NODE_MODULES_INSIDE}/@lydell`);
  args.push('--remount-ro', '/', '--chdir', WORKSPACE, '--clearenv');
  args.push(`${INIT_DIR}/node`, '--max-old-space-size=32', `${INIT_DIR}/spawner.mjs`, ...(layout.network ? [EGRESS_ARG] : []));
  return args;
}

/**
 * The host's `node_modules/@lydell` directory (node-pty and its platform's prebuilt binary,
 * which it finds as a sibling package), if node-pty is installed; resolved, not loaded.
 */
function nodePtyScope(): string | undefined {
  try {
    return dirname(dirname(createRequire(import.meta.url).resolve('@lydell/node-pty/package.json')));
  } catch {
    return undefined;
  }
}

/** /usr, and /bin, /lib, ... as the host has them: links into /usr on merged-usr systems, directories elsewhere. */
function systemBinds(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    if (!existsSync(top)) continue;
    if (lstatSync(top).isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else args.push('--ro-bind', top, top);
  }
  return args;
}

let probed: { path: string } | { unavailable: string } | undefined;

/**
 * bwrap, if it is installed and can build a sandbox here (user namespaces or root,
 * PID namespaces allowed): tried once per process with a sandbox that runs `true`.
 */
export function findBubblewrap(): { path: string } | { unavailable: string } {
  if (probed) return probed;
  if (process.platform !== 'linux') return (probed = { unavailable: `bubblewrap is Linux-only (this is ${process.platform})` });
  // Found on PATH, as a shell would: hiding it from PATH is how a user (or a test) says "do not use it".
  const path = (process.env.PATH ?? '').split(':').filter((dir) => dir.startsWith('/')).map((dir) => join(dir, 'bwrap')).find((candidate) => existsSync(candidate));
  if (!path) return (probed = { unavailable: 'bubblewrap (bwrap) is not installed: apt-get install bubblewrap, or your distribution\'s package' });
  const trial = spawnSync(path, ['--die-with-parent', '--unshare-pid', '--unshare-net', '--cap-drop', 'ALL', ...systemBinds(), '--proc', '/proc', '--dev', '/dev', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (trial.status !== 0) return (probed = { unavailable: `bubblewrap cannot build a sandbox here (${(trial.stderr || trial.error?.message || `exit ${trial.status}`).trim()})` });
  return (probed = { path });
}
