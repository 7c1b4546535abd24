// Without the optional peer `ws`, a WebSocket session fails with a typed error that
// names the package to install, and the rest of the client works (the HTTP calls
// never load it). `ws` is made unloadable here, as on a machine without it.
import { describe, expect, it, vi } from 'vitest';
import { createHopxClient, MissingPeerError } from '../src/index.js';
import { testKey } from './support/secrets.js';

vi.mock('ws', () => {
  throw new Error("Cannot find package 'ws' imported from sandbox-procs");
});

describe('without ws installed', () => {
  it('runCodeStream and openTerminal fail with MissingPeerError naming ws', async () => {
    // Nothing listens here: the error must come before any connection is tried.
    const client = createHopxClient({ apiKey: testKey('peer'), baseUrl: 'http://127.0.0.1:9' });
    const stream = client.runCodeStream({ code: 'x' })[Symbol.asyncIterator]();
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingPeerError);
    expect(error).toMatchObject({ peer: 'ws', code: 'MISSING_PEER', provider: 'hopx', operation: 'execute_stream' });
    expect((error as Error).message).toContain('npm install ws');
    await expect(client.openTerminal()).rejects.toBeInstanceOf(MissingPeerError);
  });
});
