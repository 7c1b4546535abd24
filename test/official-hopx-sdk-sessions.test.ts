// The official HopX SDK's streaming calls against the HopX emulator, unmodified but
// for its endpoint: Sandbox.runCodeStream (python and bash) yields the output and
// the completion; sandbox.terminal.connect() -> sendInput -> output -> resize -> exit.
// The SDK reaches the agent through the recording proxy (a stand-in control plane
// hands it the proxy as public_host, as in official-hopx-sdk.test.ts), and every
// channel it opened is checked against our contract: the upgrade against the
// OpenAPI operation, each message against its side's schema, the order and the
// ending the AsyncAPI document's x-session states (channelViolations).
import { randomBytes } from 'node:crypto';
import { Sandbox } from '@hopx-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../generated/hopx.operations.js';
import { SpecValidator } from '../src/contract/validate.js';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.js';
import { channelViolations } from './support/channel-violations.js';
import { startRecordingProxy, specViolations, type ChannelExchange, type RecordingProxy } from './support/recording-proxy.js';
import { testKey } from './support/secrets.js';
import { json, startServer, type TestServer } from './support/servers.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);
const validator = new SpecValidator('hopx');

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let emulator: RunningEmulator;
  let proxy: RecordingProxy;
  let controlPlane: TestServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    emulator = await startEmulator('hopx', { token: testKey('hopx-agent-ws'), isolation });
    proxy = await startRecordingProxy(emulator.baseUrl);
    controlPlane = await startServer((req, res) => {
      if (req.method === 'GET' && /^\/v1\/sandboxes\/[^/]+$/.test(req.url)) return json(res, 200, { id: req.url.split('/').pop(), status: 'running', public_host: proxy.baseUrl });
      if (req.method === 'POST' && /^\/v1\/sandboxes\/[^/]+\/token\/refresh$/.test(req.url)) {
        return json(res, 200, { auth_token: emulator.token, token_expires_at: new Date(Date.now() + 86_400_000).toISOString() });
      }
      json(res, 404, { error: `control plane stand-in: no ${req.method} ${req.url}` });
    });
    sandbox = await Sandbox.connect(`sbx_${randomBytes(6).toString('hex')}`, testKey('hopx-api-ws'), controlPlane.baseUrl);
  });
  afterAll(async () => {
    await Promise.allSettled([proxy?.close(), controlPlane?.close()]);
    await emulator?.stop();
  });

  /** The channels `fn` opened once each has closed, checked against the contract: the test fails on the first break. */
  async function recorded(fn: () => Promise<void>): Promise<ChannelExchange[]> {
    const from = proxy.channels.length;
    const fromExchanges = proxy.exchanges.length;
    await fn();
    const channels = proxy.channels.slice(from);
    // The SDK's close reaches the proxy a moment after it returns.
    for (let i = 0; i < 200 && channels.some((c) => c.status === 0 || (c.status === 101 && !c.close)); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(channels.map((c) => ({ status: c.status, closed: c.status !== 101 || c.close !== undefined }))).toEqual(channels.map(() => ({ status: 101, closed: true })));
    expect(channelViolations(channels, 'hopx')).toEqual([]);
    expect(specViolations(proxy.exchanges.slice(fromExchanges), operations, validator)).toEqual([]);
    return channels;
  }

  it.each([
    ['python', 'for i in range(3):\n    print(f"line {i}", flush=True)'],
    ['bash', 'for i in 0 1 2; do echo "line $i"; done'],
  ])('runCodeStream (%s) yields the output lines and the completion, every message as the contract says', async (language, code) => {
    const messages: { type: string; data?: string; success?: boolean }[] = [];
    const [channel] = await recorded(async () => {
      for await (const message of sandbox.runCodeStream(code, { language: language as 'python' })) messages.push(message as (typeof messages)[number]);
    });
    expect(messages.filter((m) => m.type === 'stdout').map((m) => m.data).join('')).toBe('line 0\nline 1\nline 2\n');
    expect(messages.at(-1)).toEqual({ type: 'complete', success: true });
    expect(channel).toMatchObject({ path: '/execute/stream', status: 101 });
    // What the SDK sent: the one execute message, with the SDK's defaults.
    const sent = channel!.messages.filter((m) => m.from === 'client').map((m) => JSON.parse(m.data.toString()) as Record<string, unknown>);
    expect(sent).toEqual([expect.objectContaining({ type: 'execute', code, language })]);
    // Everything the server sent reached the SDK (0.5.1 drops messages that share a socket read).
    expect(channel!.messages.filter((m) => m.from === 'server')).toHaveLength(messages.length);
  });

  it('terminal.connect -> sendInput("echo hi") -> output has hi -> resize -> exit message, every message as the contract says', async () => {
    let text = '';
    let last: { type: string; code?: number } | undefined;
    const [channel] = await recorded(async () => {
      const ws = await sandbox.terminal.connect();
      const output = sandbox.terminal.output(ws)[Symbol.asyncIterator]();
      sandbox.terminal.sendInput(ws, 'echo h""i\n');
      while (!text.includes('hi\r\n')) {
        const { value, done } = await output.next();
        expect(done).toBe(false);
        if (value.type === 'output') text += value.data;
      }
      sandbox.terminal.resize(ws, 100, 30);
      sandbox.terminal.sendInput(ws, 'stty size; exit\n');
      for (;;) {
        const { value, done } = await output.next();
        if (done) break;
        last = value as typeof last;
        if (value.type === 'output') text += value.data;
      }
      ws.close();
    });
    expect(text).toContain('30 100');
    expect(last).toEqual({ type: 'exit', code: 0 });
    expect(channel).toMatchObject({ path: '/terminal', status: 101 });
    const sent = channel!.messages.filter((m) => m.from === 'client').map((m) => JSON.parse(m.data.toString()) as Record<string, unknown>);
    expect(sent).toEqual([
      { type: 'input', data: 'echo h""i\n' },
      { type: 'resize', cols: 100, rows: 30 },
      { type: 'input', data: 'stty size; exit\n' },
    ]);
  });
});

describe("channelViolations is no rubber stamp", () => {
  const text = (from: 'client' | 'server', value: unknown) => ({ from, binary: false, data: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) });
  const stdout = { type: 'stdout', data: '1\n', timestamp: '2026-12-05T00:00:00Z' };
  const channel = (over: Partial<ChannelExchange>): ChannelExchange => ({
    path: '/execute/stream',
    query: {},
    requestHeaders: {},
    status: 101,
    contentType: null,
    responseBody: '',
    messages: [
      text('client', { type: 'execute', code: 'print(1)', language: 'python' }),
      text('server', stdout),
      text('server', { type: 'complete', success: true }),
    ],
    close: { by: 'client', code: 1005, reason: '' },
    ...over,
  });

  it('passes a conforming channel and flags each kind of break', () => {
    expect(channelViolations([channel({}), channel({ status: 401, contentType: 'application/json', messages: [], responseBody: '{"error":"Unauthorized","code":"UNAUTHORIZED"}' })], 'hopx')).toEqual([]);
    const ok = channel({}).messages;
    const found = channelViolations(
      [
        channel({ path: '/nowhere' }),
        channel({ status: 418 }),
        channel({ status: 401, contentType: 'application/json', messages: [], responseBody: '{"message":"no"}' }),
        channel({ status: 401, contentType: 'application/json', messages: [], responseBody: '{"error":"Unauthorized","code":"UNAUTHORIZED","hint":"x"}' }),
        channel({ messages: [ok[0]!, text('server', { ...stdout, data: 1 }), ok[2]!] }),
        channel({ messages: [ok[0]!, text('server', { ...stdout, colour: 'red' }), ok[2]!] }),
        channel({ messages: [ok[0]!, text('server', 'not json'), ok[2]!] }),
        channel({ messages: [ok[1]!, ok[0]!, ok[2]!] }),
        channel({ messages: [ok[0]!, ok[2]!, ok[1]!] }),
        channel({ messages: [ok[0]!, ok[1]!] }),
      ],
      'hopx',
    );
    expect(found).toEqual([
      expect.stringMatching(/^GET \/nowhere -> 101: no WebSocket channel of the contract has this path/),
      expect.stringMatching(/status 418 is not declared for execute_stream/),
      expect.stringMatching(/^GET \/execute\/stream -> 401: refusal breaking missing-field: body must have required property/),
      expect.stringMatching(/^GET \/execute\/stream -> 401: refusal warning additional-property: body has a field the spec does not declare: hint/),
      expect.stringMatching(/server message 1 is none of the server's messages/),
      expect.stringMatching(/server message 1 has fields the spec does not declare: .*colour/),
      expect.stringMatching(/server message 1: not JSON/),
      expect.stringMatching(/the server sent a message before the client's StreamExecuteMessage/),
      expect.stringMatching(/1 message\(s\) after the final StreamCompleteMessage/),
      expect.stringMatching(/ended with a close by the client .* no final message/),
    ]);
  });

  it('reads Tensorlake binary frames and its close-frame endings', () => {
    const frame = (from: 'client' | 'server', ...bytes: number[]) => ({ from, binary: true, data: Buffer.from(bytes) });
    const pty = (over: Partial<ChannelExchange>) => channel({ path: '/api/v1/pty/s1/ws', messages: [frame('client', 2), frame('server', 0, 104, 105), frame('client', 1, 0, 120, 0, 40)], close: { by: 'server', code: 1000, reason: 'exit:0' }, ...over });
    const refused = pty({ status: 403, contentType: 'application/json', messages: [], responseBody: '{"error":"Invalid token","code":"INVALID_TOKEN"}' });
    expect(channelViolations([pty({}), pty({ close: { by: 'server', code: 1001, reason: 'session terminated' } }), refused], 'tensorlake')).toEqual([]);
    expect(
      channelViolations(
        [
          pty({ close: { by: 'server', code: 1000, reason: 'done' } }),
          pty({ messages: [frame('client', 0, 104), frame('client', 2)] }),
          pty({ messages: [frame('client', 2), frame('client', 1, 0, 120)] }),
          pty({ messages: [frame('client', 2), text('client', 'hi')] }),
        ],
        'tensorlake',
      ),
    ).toEqual([
      expect.stringMatching(/ended with a close by the server \(1000 "done"\)/),
      expect.stringMatching(/the client's first message is PtyDataFrame, not PtyReadyFrame/),
      expect.stringMatching(/client message 1: a RESIZE frame of 3 bytes/),
      expect.stringMatching(/client message 1: a text frame/),
    ]);
  });
});
