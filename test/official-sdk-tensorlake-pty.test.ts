// The official Tensorlake SDK (npm tensorlake, under Node 22) drives a PTY session of
// the control plane unmodified but for its endpoint settings: Sandbox.create ->
// createPty (onData) -> sendInput "echo hi" -> resize (stty size) -> connectPty again
// to the same session (it replays the session's output) -> kill (both handles end
// with the SDK's "PTY session terminated", its reading of the daemon's close 1001).
// Its requests go through its bundled native proxy and our control plane's sandbox
// proxy, the WebSocket upgrade included (test/official-sdks/tensorlake/run-pty.mjs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningControlPlane } from '../src/emulator/index.js';
import { ensureInstalled, INSTALL_TIMEOUT_MS, officialSdkSkipped, resolveNode22, RUN_TIMEOUT_MS, runBounded, TENSORLAKE_SDK_DIR } from './support/official-sdk.js';
import { testKey } from './support/secrets.js';

const skipped = officialSdkSkipped('the official Tensorlake SDK\'s PTY sessions (test/official-sdk-tensorlake-pty.test.ts)');

describe.skipIf(skipped)('the official Tensorlake SDK\'s PTY session against the control plane', () => {
  let controlPlane: RunningControlPlane | undefined;
  let result: { steps: string[]; output?: string; replayed?: string; firstEnd?: unknown; secondEnd?: unknown; error?: unknown };

  beforeAll(async () => {
    controlPlane = await startEmulator('tensorlake', { controlPlane: true, token: testKey('tensorlake-pty-sdk'), isolation: 'none' });
    await ensureInstalled(TENSORLAKE_SDK_DIR, { timeoutMs: INSTALL_TIMEOUT_MS, mustExist: ['node_modules/tensorlake/package.json'] });
    const node = resolveNode22(TENSORLAKE_SDK_DIR);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TENSORLAKE_') && name !== 'NODE_OPTIONS'));
    const run = await runBounded(node.path, ['run-pty.mjs'], { cwd: TENSORLAKE_SDK_DIR, env: { ...env, ...controlPlane.settings }, timeoutMs: RUN_TIMEOUT_MS });
    const line = run.stdout.trim().split('\n').at(-1) ?? '';
    if (run.code !== 0 || !line.startsWith('{')) throw new Error(`run-pty.mjs exited with ${run.code ?? run.signal}: ${run.stdout.slice(-2000)} ${run.stderr.slice(-2000)}`);
    result = JSON.parse(line) as typeof result;
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
});
