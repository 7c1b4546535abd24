// The client's side of "a program printing a gigabyte into a terminal, read slowly":
// our typed client, in a Node process of its own (test/fixtures/terminal-slow-reader.mjs),
// reads the terminal slowly and its peak RSS (VmHWM) stays under 128 MiB: its queue
// holds about 1 MiB and then pauses the socket, so the rest waits in TCP and in the
// emulator. (The emulator's own bound, under 256 MiB, and SIGKILL with an open
// terminal are test/emulator-terminal-bounds.test.ts's.) HopX: the reader holds the
// terminal back, the program waits; Tensorlake: as the daemon does, the emulator
// closes a client that lags (1008), and the client's memory stays bounded until then.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { buildEmulator } from './support/emulator-process.js';
import { runBounded } from './support/official-sdk.js';
import { testKey } from './support/secrets.js';

const MiB = 1024 * 1024;
const READ_MS = 8_000;
const fixture = join(import.meta.dirname, 'fixtures', 'terminal-slow-reader.mjs');

let clientModule: string;
beforeAll(async () => {
  // The client built from the current sources (with the emulator, into a cache of its own).
  clientModule = join((await buildEmulator()).replace(/\/src\/emulator\/index\.js$/, ''), 'src', 'index.js');
}, 180_000);

async function slowReader(provider: string, emulator: RunningEmulator): Promise<{ received: number; ended: string; peakRss: number }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS'));
  const run = await runBounded(process.execPath, [fixture, clientModule, provider, emulator.baseUrl, emulator.token, String(READ_MS)], { cwd: import.meta.dirname, env, timeoutMs: READ_MS + 30_000 });
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.code !== 0 || !line.startsWith('{')) throw new Error(`the slow reader exited with ${run.code ?? run.signal}: ${run.stdout.slice(-2000)} ${run.stderr.slice(-2000)}`);
  const result = JSON.parse(line) as { received: number; ended: string; peakRss: number };
  console.info(`${provider}: the client read ${(result.received / MiB).toFixed(1)} MiB, peak RSS ${(result.peakRss / MiB).toFixed(1)} MiB; ${result.ended}`);
  return result;
}

describe.each(['hopx', 'tensorlake'] as const)('%s', (provider) => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator(provider, { token: testKey(`client-memory-${provider}`), isolation: 'none' });
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  it('a gigabyte printed into a terminal that our client reads slowly leaves the client under 128 MiB RSS', async () => {
    const result = await slowReader(provider, emulator);
    // It did read (a slow reader, not a dead one: Tensorlake's emulator closes it once it lags, with about its 1 MiB queue read), far less than the gigabyte on offer.
    expect(result.received).toBeGreaterThan(256 * 1024);
    expect(result.received).toBeLessThan(500 * MiB);
    expect(result.peakRss).toBeLessThan(128 * MiB);
    if (provider === 'hopx') expect(result.ended).toBe('still running when the reader stopped');
    else expect(result.ended).toMatch(/^SessionClosedError: 1008 output lagged by \d+ messages$|^still running/);
  }, READ_MS + 200_000);

  if (provider === 'hopx') {
    it('the control: a reader that keeps all it is sent goes far past the bound in the same time, so the measurement can fail', async () => {
      const result = await slowReader('hopx-unbounded', emulator);
      expect(result.peakRss).toBeGreaterThan(128 * MiB);
    }, READ_MS + 60_000);
  }
});
