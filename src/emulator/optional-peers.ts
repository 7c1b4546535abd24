// The emulators' optional peers (`ws` for WebSockets, `@lydell/node-pty` for
// pseudo-terminals), loaded on first use only: an emulator that never opens a
// session needs neither installed, and importing the emulator loads neither
// (test/package.test.ts).
import type * as NodePty from '@lydell/node-pty';
import type * as Ws from 'ws';

/** An optional peer a feature needs is not installed: the message names the package to install. */
export class OptionalPeerMissingError extends Error {
  constructor(readonly packageName: string, feature: string, cause: unknown) {
    super(`${feature} needs the optional peer dependency ${packageName}: npm install ${packageName}`, { cause });
    this.name = 'OptionalPeerMissingError';
  }
}

const isMissing = (error: unknown) => ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'].includes((error as NodeJS.ErrnoException).code ?? '');

async function load<T>(packageName: string, feature: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    throw isMissing(error) ? new OptionalPeerMissingError(packageName, feature, error) : error;
  }
}

let ws: Promise<typeof Ws> | undefined;
let nodePty: Promise<typeof NodePty> | undefined;

export function loadWs(): Promise<typeof Ws> {
  ws ??= load('ws', 'a WebSocket session', () => import('ws'));
  ws.catch(() => (ws = undefined));
  return ws;
}

export function loadNodePty(): Promise<typeof NodePty> {
  nodePty ??= load('@lydell/node-pty', 'a terminal session', async () => {
    const loaded = (await import('@lydell/node-pty')) as typeof NodePty & { default?: typeof NodePty };
    // A CommonJS module: its exports are the default export under ESM.
    return loaded.default ?? loaded;
  });
  nodePty.catch(() => (nodePty = undefined));
  return nodePty;
}
