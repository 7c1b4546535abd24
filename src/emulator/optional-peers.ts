// The emulators' optional peers (`ws` for WebSockets, `@lydell/node-pty` for
// pseudo-terminals), loaded on first use only: an emulator that never opens a
// session needs neither installed, and importing the emulator loads neither
// (test/package.test.ts).
import type * as NodePty from '@lydell/node-pty';
import type * as Ws from 'ws';
import { commonJsExports, importOnce, isModuleMissing } from '../core/optional-peer.js';

/** An optional peer a feature needs is not installed: the message names the package to install. */
export class OptionalPeerMissingError extends Error {
  constructor(readonly packageName: string, feature: string, cause: unknown) {
    super(`${feature} needs the optional peer dependency ${packageName}: npm install ${packageName}`, { cause });
    this.name = 'OptionalPeerMissingError';
  }
}

/** Only a missing package becomes OptionalPeerMissingError; a peer that breaks while loading says so itself. */
function naming<T>(packageName: string, feature: string, load: () => Promise<T>): () => Promise<T> {
  return () =>
    load().catch((error: unknown) => {
      throw isModuleMissing(error) ? new OptionalPeerMissingError(packageName, feature, error) : error;
    });
}

export const loadWs: () => Promise<typeof Ws> = naming(
  'ws',
  'a WebSocket session',
  importOnce(() => import('ws')),
);

export const loadNodePty: () => Promise<typeof NodePty> = naming(
  '@lydell/node-pty',
  'a terminal session',
  importOnce(async () => commonJsExports((await import('@lydell/node-pty')) as typeof NodePty & { default?: typeof NodePty })),
);
