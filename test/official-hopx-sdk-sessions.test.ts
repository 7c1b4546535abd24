// The official HopX SDK's streaming calls against the HopX emulator, unmodified but
// for its endpoint: Sandbox.runCodeStream (python and bash) yields the output and
// the completion; sandbox.terminal.connect() -> sendInput -> output -> resize -> exit.
// The SDK reaches the agent directly here (the recording proxy of
// official-hopx-sdk.test.ts speaks HTTP only); a stand-in control plane hands it
// the emulator as public_host, as in that suite.
import { randomBytes } from 'node:crypto';
import { Sandbox } from '@hopx-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { testKey } from './support/secrets.js';
import { json, startServer, type TestServer } from './support/servers.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let emulator: RunningEmulator;
  let controlPlane: TestServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    emulator = await startEmulator('hopx', { token: testKey('hopx-agent-ws'), isolation });
    controlPlane = await startServer((req, res) => {
      if (req.method === 'GET' && /^\/v1\/sandboxes\/[^/]+$/.test(req.url)) return json(res, 200, { id: req.url.split('/').pop(), status: 'running', public_host: emulator.baseUrl });
      if (req.method === 'POST' && /^\/v1\/sandboxes\/[^/]+\/token\/refresh$/.test(req.url)) {
        return json(res, 200, { auth_token: emulator.token, token_expires_at: new Date(Date.now() + 86_400_000).toISOString() });
      }
      json(res, 404, { error: `control plane stand-in: no ${req.method} ${req.url}` });
    });
    sandbox = await Sandbox.connect(`sbx_${randomBytes(6).toString('hex')}`, testKey('hopx-api-ws'), controlPlane.baseUrl);
  });
  afterAll(async () => {
    await controlPlane?.close();
    await emulator?.stop();
  });

  it.each([
    ['python', 'for i in range(3):\n    print(f"line {i}", flush=True)'],
    ['bash', 'for i in 0 1 2; do echo "line $i"; done'],
  ])('runCodeStream (%s) yields the output lines and the completion', async (language, code) => {
    const messages: { type: string; data?: string; success?: boolean }[] = [];
    for await (const message of sandbox.runCodeStream(code, { language: language as 'python' })) messages.push(message as (typeof messages)[number]);
    expect(messages.filter((m) => m.type === 'stdout').map((m) => m.data).join('')).toBe('line 0\nline 1\nline 2\n');
    expect(messages.at(-1)).toEqual({ type: 'complete', success: true });
  });

  it('terminal.connect -> sendInput("echo hi") -> output has hi -> resize -> exit message', async () => {
    const ws = await sandbox.terminal.connect();
    const output = sandbox.terminal.output(ws)[Symbol.asyncIterator]();
    sandbox.terminal.sendInput(ws, 'echo h""i\n');
    let text = '';
    while (!text.includes('hi\r\n')) {
      const { value, done } = await output.next();
      expect(done).toBe(false);
      if (value.type === 'output') text += value.data;
    }
    sandbox.terminal.resize(ws, 100, 30);
    sandbox.terminal.sendInput(ws, 'stty size; exit\n');
    let last: { type: string; code?: number } | undefined;
    for (;;) {
      const { value, done } = await output.next();
      if (done) break;
      last = value as typeof last;
      if (value.type === 'output') text += value.data;
    }
    expect(text).toContain('30 100');
    expect(last).toEqual({ type: 'exit', code: 0 });
    ws.close();
  });
});
