// The channel checks against stand-in WebSocket servers (real `ws` servers on
// 127.0.0.1:0): a faithful one of each provider passes; one that refuses the upgrade,
// sends a message outside the contract, never ends, floods, or closes with the wrong
// code gives the finding that says so, within bounded memory. The channels come from
// the AsyncAPI stand-ins in test/fixtures/channels (see channel-standins.ts).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { MAX_VALIDATED_MESSAGES } from '../src/contract/channel-check.js';
import { runScenarios, type ScenarioResult, type Target } from '../src/contract/run.js';
import { outputLines } from '../src/contract/channel-codec.js';
import { scenariosFor } from '../src/contract/scenarios.js';
import { decodePtyFrame, encodePtyFrame } from '../src/providers/tensorlake/pty-frames.js';
import type { ProviderName } from '../src/errors.js';
import { sendEach, startStandIn, type StandIn, type StandInOptions } from './support/channel-standins.js';

vi.mock('../src/specs.js', async (importOriginal) => (await import('./support/channel-standins.js')).specsWithFixtureChannels(importOriginal));

const KEY = `sp-channel-${randomBytes(8).toString('hex')}`;
const TIMEOUT_MS = 2_000;

let running: StandIn | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const channelScenarios = (provider: ProviderName, key?: string) => scenariosFor([provider]).filter((s) => s.channel && (key === undefined || s.channel.key === key));
const target = (provider: ProviderName, baseUrl: string): Target => ({ name: 'stand-in', kind: 'stateful', baseUrls: { [provider]: baseUrl }, apiKeys: { [provider]: KEY } });

async function check(provider: ProviderName, options: StandInOptions, scenarios = channelScenarios(provider), run: { timeoutMs?: number; maxResponseBytes?: number } = {}): Promise<ScenarioResult[]> {
  running = await startStandIn(options);
  return runScenarios(scenarios, target(provider, running.baseUrl), { timeoutMs: TIMEOUT_MS, ...run });
}

const summary = (results: readonly ScenarioResult[]) => results.map((r) => `${r.scenario.operation} ${r.label} ${r.status}: ${r.problems.join('; ') || 'ok'}`);
const json = (value: unknown) => JSON.stringify(value);
const pathOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://x').pathname;

// ---- HopX ---------------------------------------------------------------------------------

const unauthorized = (req: IncomingMessage) => (req.headers.authorization === `Bearer ${KEY}` ? undefined : { status: 401, body: json({ error: 'unauthorized', code: 'UNAUTHORIZED' }) });

/** As the agent does it: one message per write, the stream's output, its result, and its completion. */
function faithfulHopx(socket: WebSocket, req: IncomingMessage): void {
  // A shell's prompt, as the terminal opens.
  if (pathOf(req) === '/terminal') void sendEach(socket, [json({ type: 'output', data: '$ ' })]);
  socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString()) as { type: string; code?: string; data?: string };
    const now = new Date().toISOString();
    if (pathOf(req) === '/execute/stream' && message.type === 'execute') {
      void sendEach(socket, [
        json({ type: 'stdout', data: 'hi\n', timestamp: now }),
        json({ type: 'result', exit_code: 0, execution_time: 0.01, timestamp: now }),
        json({ type: 'complete', success: true }),
      ]);
    }
    if (pathOf(req) === '/terminal' && message.type === 'input') {
      if (message.data === 'exit\n') void sendEach(socket, [json({ type: 'output', data: 'exit\r\n' }), json({ type: 'exit', code: 0 })]).then(() => socket.close(1000));
      else void sendEach(socket, [json({ type: 'output', data: `${message.data!.replace('\n', '\r\n')}hi\r\n$ ` })]);
    }
  });
}

describe('HopX channels (execute stream, terminal) against stand-in agents', () => {
  it('a faithful agent: every channel scenario passes, each message validated, the upgrade carrying the Bearer token', async () => {
    const results = await check('hopx', { refuse: unauthorized, connection: faithfulHopx });
    expect(results.map((r) => r.label)).toEqual(['python print', 'bash echo', 'no credentials', 'echo, resize, exit', 'no credentials']);
    expect(summary(results).filter((line) => !line.endsWith('ok'))).toEqual([]);
    expect(results.map((r) => r.status)).toEqual([101, 101, 401, 101, 401]);
    expect(results[0]!.channel?.messages).toBe(3);
    expect(results[0]!.response?.bodyExcerpt).toMatch(/^3 server messages, \d+ bytes; closed 1000/);
    expect(running!.upgrades.filter((u) => u.headers.authorization === `Bearer ${KEY}`)).toHaveLength(3);
    // The evidence names the request, the key redacted.
    expect(json(results)).not.toContain(KEY);
  });

  it('an agent that refuses every upgrade with 401: upgrade-refused, with the status and the code from the body', async () => {
    const results = await check('hopx', { refuse: () => ({ status: 401, body: json({ error: 'unauthorized', code: 'UNAUTHORIZED' }) }), connection: faithfulHopx }, channelScenarios('hopx', 'executeStream'));
    const opened = results.find((r) => r.label === 'python print')!;
    expect(opened.passed).toBe(false);
    expect(opened.outcome).toBe('refused');
    expect(opened.findings.map((f) => [f.kind, f.message])).toEqual([['upgrade-refused', 'the channel refused the upgrade: 401 "UNAUTHORIZED"']]);
    expect(opened.response).toEqual({ contentType: 'application/json', bodyExcerpt: '{"error":"unauthorized","code":"UNAUTHORIZED"}' });
    // Refused as it must be, without credentials.
    expect(results.find((r) => r.label === 'no credentials')!.passed).toBe(true);
  });

  it('a refusal the spec does not declare: its status or body is a finding, as for any response', async () => {
    const plain = await check('hopx', { refuse: () => ({ status: 401, contentType: 'text/plain', body: 'Unauthorized' }), connection: faithfulHopx }, channelScenarios('hopx', 'terminal'));
    expect(plain.find((r) => r.label === 'no credentials')!.findings.map((f) => `${f.kind}: ${f.message}`)).toEqual(['content-type: content type text/plain is not declared (application/json)']);
    await running!.close();
    running = undefined;
    const other = await check('hopx', { refuse: () => ({ status: 403, body: json({ error: 'forbidden', code: 'FORBIDDEN' }) }), connection: faithfulHopx }, channelScenarios('hopx', 'terminal'));
    expect(other.find((r) => r.label === 'no credentials')!.problems).toEqual(['expected status 401, got 403 "FORBIDDEN"', 'status 403 is not declared for terminal_connect']);
    await running!.close();
    running = undefined;
    // Declared for /terminal (the fixture's), the same 401 passes.
    expect(summary(await check('hopx', { refuse: unauthorized, connection: faithfulHopx }, channelScenarios('hopx', 'terminal')))).toEqual([
      'terminal echo, resize, exit 101: ok',
      'terminal no credentials 401: ok',
    ]);
  });

  it('an agent that opens without credentials: the refusal scenario says so', async () => {
    const results = await check('hopx', { connection: faithfulHopx }, channelScenarios('hopx', 'terminal'));
    expect(results.find((r) => r.label === 'no credentials')!.problems).toEqual(['expected the upgrade to be refused with 401, the channel opened (101)']);
  });

  it('messages outside the contract: which message, the schema\'s complaint, a short excerpt with the key redacted', async () => {
    const results = await check(
      'hopx',
      {
        connection: (socket) =>
          socket.on('message', () =>
            void sendEach(socket, [
              json({ type: 'stdout', data: 42, timestamp: 't', echo: `Bearer ${KEY}` }),
              json({ type: 'progress', percent: 50 }),
              'not json',
              json({ type: 'stdout', data: 'hi\n', timestamp: 't' }),
              json({ type: 'complete', success: true }),
              json({ type: 'stdout', data: 'late', timestamp: 't' }),
            ]),
          ),
      },
      channelScenarios('hopx', 'executeStream').slice(0, 1),
    );
    const [result] = results;
    const found = result!.findings.map((f) => `${f.kind}: ${f.message}`);
    expect(found[0]).toMatch(/^wrong-type: server message 0 \(stdout\)\/data must be string: "\{\\"type\\":\\"stdout\\",\\"data\\":42,\\"timestamp\\":\\"t\\",\\"echo\\":\\"Bearer \[REDACTED\]\\"\}"$/);
    expect(found[1]).toMatch(/^undeclared-message: server message 1 with type "progress" is none of the declared messages \(stdout, stderr, result, error, complete\)/);
    expect(found[2]).toBe('invalid-json: server message 2 is not valid JSON: "not json"');
    // The late message may or may not beat the close; if it came, it is out of order.
    expect(found.slice(3).every((f) => f.startsWith('message-order: server message 5 came after the final message (complete)'))).toBe(true);
    expect(result!.passed).toBe(false);
    expect(json(result)).not.toContain(KEY);
  });

  it('a silent agent: channel-timeout, said as silence, within the check\'s bound', async () => {
    const [result] = await check('hopx', { connection: () => undefined }, channelScenarios('hopx', 'executeStream').slice(0, 1), { timeoutMs: 300 });
    expect(result!.findings.map((f) => f.kind)).toEqual(['channel-timeout']);
    expect(result!.findings[0]!.message).toMatch(/^the channel stayed silent for \d+ ms after the upgrade; it was waiting for the output to show the line "hi"$/);
  });

  it('an agent that trickles forever: channel-timeout, with what it sent counted', async () => {
    const [result] = await check(
      'hopx',
      {
        connection: (socket) => {
          const timer = setInterval(() => socket.send(json({ type: 'stdout', data: 'x', timestamp: 't' })), 20);
          socket.on('close', () => clearInterval(timer));
        },
      },
      channelScenarios('hopx', 'executeStream').slice(0, 1),
      { timeoutMs: 300 },
    );
    expect(result!.findings.map((f) => f.kind)).toEqual(['channel-timeout']);
    expect(result!.findings[0]!.message).toMatch(/^the channel did not end within \d+ ms \(\d+ messages, \d+ bytes\)/);
  });

  it('an agent that floods: the check stops at the byte cap and keeps only excerpts', async () => {
    const CAP = 4 * 1024 * 1024;
    const chunk = json({ type: 'stdout', data: 'y'.repeat(16 * 1024), timestamp: 't' });
    const [result] = await check(
      'hopx',
      {
        connection: (socket) => {
          const flood = () => {
            while (socket.readyState === socket.OPEN && socket.bufferedAmount < 1024 * 1024) socket.send(chunk);
            if (socket.readyState === socket.OPEN) setImmediate(flood);
          };
          flood();
        },
      },
      channelScenarios('hopx', 'executeStream').slice(0, 1),
      { maxResponseBytes: CAP, timeoutMs: 30_000 },
    );
    expect(result!.findings.map((f) => f.message)).toEqual([`the channel sent more than ${CAP} bytes (${result!.channel!.messages} messages) without ending; the check stopped reading it`]);
    expect(result!.channel!.bytes).toBeGreaterThan(CAP);
    // What the check kept of 4 MiB: the output's tail and a few excerpts, no message whole.
    expect(result!.channel!.keptBytes).toBeLessThan(16 * 1024);
    expect(json(result).length).toBeLessThan(16 * 1024);
  });

  it('thousands of messages outside the contract: 50 findings listed, the rest of the first 1,000 counted, later ones not validated', async () => {
    const bad = json({ type: 'stdout', data: 1, timestamp: 't' });
    const [result] = await check(
      'hopx',
      {
        connection: (socket) =>
          socket.on('message', () => {
            for (let i = 0; i < 5_000; i++) socket.send(bad);
            socket.send(json({ type: 'complete', success: true }));
          }),
      },
      channelScenarios('hopx', 'executeStream').slice(1, 2),
      { timeoutMs: 10_000 },
    );
    expect(result!.channel!.messages).toBe(5_001);
    const findings = result!.findings;
    expect(findings.filter((f) => f.kind === 'wrong-type')).toHaveLength(50);
    expect(findings.find((f) => f.kind === 'more-findings')?.message).toBe(`${MAX_VALIDATED_MESSAGES - 50} more findings are not listed`);
    expect(result!.channel!.keptBytes).toBeLessThan(50 * 200);
  });

  it('a terminal that ends with the wrong exit code: wrong-ending, naming the code', async () => {
    const [result] = await check(
      'hopx',
      {
        connection: (socket) => {
          void sendEach(socket, [json({ type: 'output', data: '$ ' })]);
          socket.on('message', (raw) => {
            const message = JSON.parse(raw.toString()) as { type: string; data?: string };
            if (message.type === 'input' && message.data === 'exit\n') void sendEach(socket, [json({ type: 'exit', code: 3 })]);
            else if (message.type === 'input') void sendEach(socket, [json({ type: 'output', data: 'echo hi\r\nhi\r\n' })]);
          });
        },
      },
      channelScenarios('hopx', 'terminal').slice(0, 1),
    );
    expect(result!.findings.map((f) => `${f.kind}: ${f.message}`)).toEqual(['wrong-ending: exit\'s code is "3", expected 0']);
  });
});

// ---- Tensorlake ---------------------------------------------------------------------------

interface PtyServer {
  token: string;
  sessions: Set<string>;
  options: StandInOptions;
}

/** The daemon's PTY surface: REST create and delete, the token checked before the upgrade, output held until READY, the end a close frame. */
function ptyServer(end: (socket: WebSocket) => void = (socket) => socket.close(1000, 'exit:0')): PtyServer {
  const token = `pty-${randomBytes(12).toString('hex')}`;
  const sessions = new Set<string>();
  return {
    token,
    sessions,
    options: {
      http: (req, res) => {
        if (req.headers.authorization !== `Bearer ${KEY}`) return void res.writeHead(401, { 'content-type': 'application/json' }).end(json({ error: 'unauthorized' }));
        if (req.method === 'POST' && req.url === '/api/v1/pty') {
          const id = `pty_${randomBytes(4).toString('hex')}`;
          sessions.add(id);
          return void res.writeHead(201, { 'content-type': 'application/json' }).end(json({ session_id: id, token }));
        }
        const match = /^\/api\/v1\/pty\/([^/]+)$/.exec(req.url ?? '');
        if (req.method === 'DELETE' && match) {
          const known = sessions.delete(match[1]!);
          return void (known ? res.writeHead(204).end() : res.writeHead(404, { 'content-type': 'application/json' }).end(json({ error: 'not found', code: 'NOT_FOUND' })));
        }
        res.writeHead(404, { 'content-type': 'application/json' }).end(json({ error: 'not found', code: 'NOT_FOUND' }));
      },
      refuse: (req) => {
        const query = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
        return query === token && req.headers['x-pty-token'] === token ? undefined : { status: 403, body: json({ error: 'Invalid token', code: 'INVALID_TOKEN' }) };
      },
      connection: (socket) => {
        let ready = false;
        socket.on('message', (raw: Buffer) => {
          const frame = decodePtyFrame(raw);
          if ('problem' in frame) return socket.close(1008, 'bad frame');
          if (frame.op === 'ready' && !ready) socket.send(encodePtyFrame({ op: 'data', data: Buffer.from('# ') }));
          if (frame.op === 'ready') ready = true;
          if (!ready || frame.op !== 'data') return;
          const typed = Buffer.from(frame.data).toString();
          if (typed === 'exit\n') return end(socket);
          socket.send(encodePtyFrame({ op: 'data', data: Buffer.from(`${typed.replace('\n', '\r\n')}hi\r\n$ `) }));
        });
      },
    },
  };
}

describe('the Tensorlake PTY channel against stand-in daemons', () => {
  it('a faithful daemon: REST create, READY, echo, resize, exit:0, and the session deleted; a wrong token gets the 403', async () => {
    const pty = ptyServer();
    const results = await check('tensorlake', pty.options);
    expect(summary(results)).toEqual(['ptySession ready, echo, resize, exit 101: ok', 'ptySession wrong token 403: ok']);
    expect(pty.sessions.size).toBe(0);
    const upgrade = running!.upgrades[0]!;
    expect(upgrade.url).toMatch(/^\/api\/v1\/pty\/pty_[0-9a-f]+\/ws\?token=/);
    expect(upgrade.headers['x-pty-token']).toBe(pty.token);
    // Neither the key nor the session's token is in the result.
    expect(json(results)).not.toContain(KEY);
    expect(json(results)).not.toContain(pty.token);
    expect(results[0]!.request!.url).toContain('?token=[REDACTED]');
  });

  it('a daemon that refuses the right token: upgrade-refused 403 "INVALID_TOKEN"', async () => {
    const pty = ptyServer();
    const results = await check('tensorlake', { ...pty.options, refuse: () => ({ status: 403, body: json({ error: 'Invalid token', code: 'INVALID_TOKEN' }) }) });
    expect(results[0]!.findings.map((f) => f.message)).toEqual(['the channel refused the upgrade: 403 "INVALID_TOKEN"']);
  });

  it('a session that closes with another code or exit status: wrong-ending', async () => {
    const crashed = await check('tensorlake', ptyServer((socket) => socket.close(1011, 'boom')).options, channelScenarios('tensorlake').slice(0, 1));
    expect(crashed[0]!.findings.map((f) => f.kind)).toEqual(['wrong-ending']);
    expect(crashed[0]!.findings[0]!.message).toMatch(/^the channel closed with 1011 "boom", which is none of its declared endings \(close 1000 /);
    await running!.close();
    running = undefined;
    const failed = await check('tensorlake', ptyServer((socket) => socket.close(1000, 'exit:1')).options, channelScenarios('tensorlake').slice(0, 1));
    expect(failed[0]!.findings.map((f) => f.message)).toEqual(['the channel closed with 1000 "exit:1", expected 1000 "exit:0"']);
  });

  it('frames outside the contract: an unknown opcode, a text frame, a short RESIZE, each named', async () => {
    const pty = ptyServer();
    const results = await check(
      'tensorlake',
      {
        ...pty.options,
        connection: (socket) =>
          socket.once('message', () =>
            void sendEach(socket, [Buffer.of(9, 1, 2), 'text', Buffer.of(1, 0), encodePtyFrame({ op: 'data', data: Buffer.from('hi') })]).then(() => socket.close(1000, 'exit:0')),
          ),
      },
      channelScenarios('tensorlake').slice(0, 1),
    );
    const found = results[0]!.findings.map((f) => f.message);
    expect(found[0]).toBe('server message 0 is an unknown opcode 9: "090102"');
    expect(found[1]).toBe('server message 1 is a text frame; the channel sends binary frames: "text"');
    // A RESIZE frame is one the daemon never sends, even whole: the first fault is its length.
    expect(found[2]).toBe('server message 2 is a RESIZE frame of 2 bytes (5 expected): "0100"');
  });
});

describe('a step waits for a line of output, as a person reads it', () => {
  it('the command\'s own line, not the echo of the typed one, through bracketed paste and split messages (outputs seen on the emulators)', () => {
    expect(outputLines('\u001b[?2004hbash-5.2# echo hi\r\n\u001b[?2004l\rhi\r\n\u001b[?2004hbash-5.2# ')).toContain('hi');
    expect(outputLines('# echo hi\r\nhi\r\n# ')).toContain('hi');
    expect(outputLines('bash-5.2# echo hi\r\n\u001b[?2004l\r')).not.toContain('hi');
    expect(outputLines('echo hi\r\n')).not.toContain('hi');
    expect(outputLines('\u001b[32mhi\u001b[0m\n')).toContain('hi');
  });
});

describe('against a mock', () => {
  it('a channel scenario is skipped, with the reason in the result, never dropped', async () => {
    const scenarios = channelScenarios('hopx');
    const results = await runScenarios(scenarios, { name: 'prism', kind: 'mock', baseUrls: { hopx: 'http://127.0.0.1:9' } });
    expect(results).toHaveLength(scenarios.length);
    for (const result of results) {
      expect(result).toMatchObject({ passed: true, outcome: 'skipped' });
      expect(result.skipped).toMatch(/^skipped: a mock \(Prism\) cannot upgrade a connection to a WebSocket/);
    }
  });
});
