// Who a Tensorlake `user` names, resolved as a Linux daemon resolves it: a name
// through /etc/passwd, a uid (its passwd group, else a group of the same number),
// "uid:gid", or an object with a name or a uid and an optional gid. The emulator
// switches user only when it runs as root; otherwise it refuses a user other than
// its own rather than run the process as someone else.
import { chmod, chown, readFile } from 'node:fs/promises';
import type { components } from '../../../../generated/tensorlake.js';

type ProcessUser = components['schemas']['ProcessUser'];

export interface ResolvedUser {
  uid: number;
  gid: number;
}

export class UserError extends Error {}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

async function passwd(): Promise<PasswdEntry[]> {
  const text = await readFile('/etc/passwd', 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 4 && /^\d+$/.test(fields[2]!) && /^\d+$/.test(fields[3]!))
    .map((fields) => ({ name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]) }));
}

async function byName(name: string): Promise<PasswdEntry> {
  const entry = (await passwd()).find((e) => e.name === name);
  if (!entry) throw new UserError(`no such user: ${name}`);
  return entry;
}

async function byUid(uid: number, gid: number | undefined): Promise<ResolvedUser> {
  return { uid, gid: gid ?? (await passwd()).find((e) => e.uid === uid)?.gid ?? uid };
}

export async function resolveUser(user: ProcessUser): Promise<ResolvedUser> {
  if (typeof user === 'number') return byUid(user, undefined);
  if (typeof user === 'string') {
    const pair = /^(\d+):(\d+)$/.exec(user);
    if (pair) return { uid: Number(pair[1]), gid: Number(pair[2]) };
    if (/^\d+$/.test(user)) return byUid(Number(user), undefined);
    const entry = await byName(user);
    return { uid: entry.uid, gid: entry.gid };
  }
  if ('name' in user) {
    const entry = await byName(user.name);
    return { uid: entry.uid, gid: user.gid ?? entry.gid };
  }
  return byUid(user.uid, user.gid);
}

/**
 * The uid and gid to spawn with: undefined when the process runs as the emulator
 * itself. Throws UserError when the emulator cannot become that user.
 */
export async function spawnIdentity(user: ProcessUser | undefined): Promise<ResolvedUser | undefined> {
  if (user === undefined || typeof process.getuid !== 'function') return undefined;
  const wanted = await resolveUser(user);
  const self = { uid: process.getuid(), gid: process.getgid!() };
  if (self.uid === 0) return wanted;
  if (wanted.uid === self.uid && wanted.gid === self.gid) return undefined;
  throw new UserError(`cannot run a process as uid ${wanted.uid} (gid ${wanted.gid}): the emulator runs as uid ${self.uid}, and only root can switch users`);
}

/**
 * Lets the users that processes run as write the sandbox's working directory, as
 * the daemon's user can write its own: the directory's group becomes the first
 * such user's group (setgid, 2775: the emulator's user keeps owning it, which a
 * confined root without CAP_DAC_OVERRIDE needs); a second group makes it 1777, as
 * /tmp is. Never wider than the users that asked.
 */
export function workdirSharing(workdir: string): (identity: ResolvedUser) => Promise<void> {
  const groups = new Set<number>();
  return async (identity) => {
    if (identity.uid === process.getuid!() || groups.has(identity.gid)) return;
    groups.add(identity.gid);
    if (groups.size === 1) {
      await chown(workdir, process.getuid!(), identity.gid);
      await chmod(workdir, 0o2775);
    } else {
      await chmod(workdir, 0o1777);
    }
  };
}
