// The official Tensorlake SDK (npm tensorlake, under Node 22) drives a PTY session of
// the control plane unmodified but for its endpoint settings: Sandbox.create ->
// createPty (onData) -> sendInput "echo hi" -> resize (stty size) -> connectPty again
// to the same session (it replays the session's output) -> kill (both handles end
// with the SDK's "PTY session terminated", its reading of the daemon's close 1001).
// Its requests go through its bundled native proxy and our control plane's sandbox
// proxy, the WebSocket upgrade included (test/official-sdks/tensorlake/run-pty.mjs),
// and through logging proxies of that script, which record every request and every
// WebSocket message: each validates here against the contract (specViolations for
// the PTY REST calls, channelViolations for the channels).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations as processOperations } from '../generated/tensorlake.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import { channelViolations } from './support/channel-violations.js';
import { ensureInstalled, INSTALL_TIMEOUT_MS, officialSdkSkipped, resolveNode22, RUN_TIMEOUT_MS, runBounded, TENSORLAKE_SDK_DIR, type RecordedRequest } from './support/official-sdk.js';
import type { ChannelExchange, Exchange } from './support/recording-proxy.js';
import { specViolations } from './support/recording-proxy.js';
import { testKey } from './support/secrets.js';

const skipped = officialSdkSkipped('the official Tensorlake SDK\'s PTY sessions (test/official-sdk-tensorlake-pty.test.ts)');
const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

/** A channel as logging-proxy.mjs recorded it: the messages' bytes in base64. */
interface RecordedChannel extends Omit<ChannelExchange, 'messages' | 'requestHeaders'> {
  host: string;
  messages: { from: 'client' | 'server'; binary: boolean; data: string }[];
}

interface PtyRun {
  steps: string[];
  output?: string;
  replayed?: string;
  firstEnd?: unknown;
  secondEnd?: unknown;
  error?: unknown;
  requests: RecordedRequest[];
  channels: RecordedChannel[];
}

const asChannel = (c: RecordedChannel): ChannelExchange => ({ ...c, requestHeaders: {}, messages: c.messages.map((m) => ({ ...m, data: Buffer.from(m.data, 'base64') })) });

describe.skipIf(skipped).each(ISOLATIONS)('the official Tensorlake SDK\'s PTY session against the control plane, isolation %s', (isolation) => {
  let controlPlane: RunningControlPlane | undefined;
  let result: PtyRun;

  beforeAll(async () => {
    controlPlane = await startEmulator('tensorlake', { controlPlane: true, token: testKey('tensorlake-pty-sdk'), isolation });
    await ensureInstalled(TENSORLAKE_SDK_DIR, { timeoutMs: INSTALL_TIMEOUT_MS, mustExist: ['node_modules/tensorlake/package.json', 'node_modules/ws/package.json'] });
    const node = resolveNode22(TENSORLAKE_SDK_DIR);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TENSORLAKE_') && name !== 'NODE_OPTIONS'));
    const run = await runBounded(node.path, ['run-pty.mjs'], { cwd: TENSORLAKE_SDK_DIR, env: { ...env, ...controlPlane.settings }, timeoutMs: RUN_TIMEOUT_MS });
    const line = run.stdout.trim().split('\n').at(-1) ?? '';
    if (run.code !== 0 || !line.startsWith('{')) throw new Error(`run-pty.mjs exited with ${run.code ?? run.signal}: ${run.stdout.slice(-2000)} ${run.stderr.slice(-2000)}`);
    result = JSON.parse(line) as PtyRun;
  }, INSTALL_TIMEOUT_MS + RUN_TIMEOUT_MS + 30_000);
  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('create -> createPty -> echo hi -> resize -> connectPty to the same session -> kill', () => {
    expect(result.error).toBeUndefined();
    expect(result.steps).toEqual(['create', 'createPty', 'echo', 'resize', 'connectPty', 'kill']);
    expect(result.output).toContain('hi\r\n');
    expect(result.output).toContain('40 120');
    // The second handle got what the session had printed before it attached.
    expect(result.replayed).toContain('hi\r\n');
    expect(result.firstEnd).toEqual({ error: 'PTY session terminated' });
    expect(result.secondEnd).toEqual({ error: 'PTY session terminated' });
  });

  it('every WebSocket message the SDK exchanged validates against the contract, and both channels ended as x-session declares', () => {
    const channels = result.channels.map(asChannel);
    expect(channels.map((c) => ({ path: c.path.replace(/\/pty\/[^/]+\//, '/pty/{id}/'), status: c.status, close: c.close }))).toEqual([
      { path: '/api/v1/pty/{id}/ws', status: 101, close: { by: 'server', code: 1001, reason: 'session terminated' } },
      { path: '/api/v1/pty/{id}/ws', status: 101, close: { by: 'server', code: 1001, reason: 'session terminated' } },
    ]);
    expect(JSON.stringify(result.channels)).not.toContain(testKey('tensorlake-pty-sdk'));
    expect(channelViolations(channels, 'tensorlake')).toEqual([]);
    // What the SDK sent on the first: READY, the keystrokes, the resize (RESIZE = opcode 1, cols 120, rows 40).
    const sent = channels[0]!.messages.filter((m) => m.from === 'client').map((m) => m.data);
    expect(sent[0]).toEqual(Buffer.of(2));
    expect(sent).toContainEqual(Buffer.of(1, 0, 120, 0, 40));
    expect(Buffer.concat(sent.filter((m) => m[0] === 0).map((m) => m.subarray(1))).toString()).toBe('echo h""i\nstty size\n');
  });

  it("every PTY request the SDK sent through the sandbox proxy conforms to specs/tensorlake.yaml", () => {
    const proxied: Exchange[] = result.requests
      .filter((r) => r.path.startsWith('/api/v1/pty'))
      .map((r) => {
        const url = new URL(r.path, 'http://x');
        return { method: r.method, path: url.pathname, query: Object.fromEntries(url.searchParams), requestHeaders: {}, requestBody: r.body, status: Number(r.status), contentType: r.contentType ?? null, responseBody: r.response ?? '' };
      });
    // The SDK resizes with a RESIZE frame, not POST .../resize.
    expect(proxied.map((x) => `${x.method} ${x.path.replace(/\/pty\/[^/]+/, '/pty/{id}')} -> ${x.status}`)).toEqual(['POST /api/v1/pty -> 201', 'DELETE /api/v1/pty/{id} -> 204']);
    expect(specViolations(proxied, processOperations, new SpecValidator('tensorlake'))).toEqual([]);
  });
});
