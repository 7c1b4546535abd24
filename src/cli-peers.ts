// The CLI's optional peer dependencies, checked per command before the command
// loads them: `--help`, `--version` and `emulate` need none, and a command that
// lacks one says in one line exactly which it needs, instead of failing on the
// first import that happens to be missing.
import { createRequire } from 'node:module';

/** Each peer as `npm install` should name it: Prism is pinned because 5.15+ needs Node 24. */
const INSTALL_AS = { '@stoplight/prism-cli': '@stoplight/prism-cli@~5.14.2', ajv: 'ajv', yaml: 'yaml', ws: 'ws', '@lydell/node-pty': '@lydell/node-pty' } as const;

export type Peer = keyof typeof INSTALL_AS;

/** The contract engine reads the specs (yaml) and validates responses against them (ajv). */
export const ENGINE_PEERS: readonly Peer[] = ['ajv', 'yaml'];
export const PRISM_PEERS: readonly Peer[] = ['@stoplight/prism-cli', ...ENGINE_PEERS];
/** Where the WebSocket channels run for real (the emulators, a live API), they are opened with ws; a mock skips them. */
export const CHANNEL_PEERS: readonly Peer[] = [...ENGINE_PEERS, 'ws'];
/** The emulators serve their sessions with ws and their terminals with node-pty; without them those answer an error naming the peer. */
export const SESSION_PEERS: readonly Peer[] = ['ws', '@lydell/node-pty'];
/** Checking the emulators opens their channels, terminals included. */
export const EMULATOR_CHECK_PEERS: readonly Peer[] = [...CHANNEL_PEERS, '@lydell/node-pty'];

/** A peer the command needs is not installed: exit 2, and no pointer to --help (the flags were fine). */
export class MissingPeersError extends Error {}

/** Resolved from this file, as the command's own imports will be: from the package's place in node_modules. */
export function missingPeers(peers: readonly Peer[]): Peer[] {
  const { resolve } = createRequire(import.meta.url);
  return peers.filter((peer) => {
    try {
      resolve(`${peer}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
}

const listed = (names: readonly string[]) => (names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

/** Throws unless every peer `command` needs is installed; `command` as the user typed it, e.g. "check --target prism". */
export function requirePeers(command: string, peers: readonly Peer[]): void {
  const missing = missingPeers(peers);
  if (missing.length === 0) return;
  throw new MissingPeersError(
    `sandbox-procs ${command} needs ${listed(peers)}, optional peer dependencies that are not installed with the package ` +
      `(missing: ${missing.join(', ')}); install them with: npm install --save-dev ${peers.map((peer) => INSTALL_AS[peer]).join(' ')}`,
  );
}
