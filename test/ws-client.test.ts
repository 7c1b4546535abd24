// The typed client's WebSocket sessions against a real local stand-in server (ws on
// 127.0.0.1, port 0): HopX runCodeStream and /terminal, Tensorlake PTY sessions, and
// what they share: typed messages, refusals and messages outside the contract as
// typed errors, cancellation by AbortSignal, a bounded queue when the consumer is
// slow, and no secret (API key or PTY token) in any error.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import {
  AbortedError,
  AuthenticationError,
  createHopxClient,
  createTensorlakeClient,
  InvalidRequestError,
  NotFoundError,
  RateLimitError,
  SessionClosedError,
  UnexpectedResponseError,
  ValidationError,
  type HopxStreamMessage,
} from '../src/index.js';
import { openWebSocket } from '../src/core/websocket.js';
import { hopxClientWith } from '../src/providers/hopx/client.js';
import { decodePtyFrame, encodePtyFrame } from '../src/providers/tensorlake/pty-frames.js';
import { leakedKeys, renderings, testKey } from './support/secrets.js';
import { nextMessage, sendNow, startWsStandIn, type UpgradeAnswer, type WsStandIn } from './support/ws-server.js';
import { rejectionOf } from './support/rejection.js';

let standIn: WsStandIn | undefined;
afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

const start = async (upgrade: (url: string) => UpgradeAnswer, http?: Parameters<typeof startWsStandIn>[0]['http']) =>
  (standIn = await startWsStandIn({ upgrade: (request) => upgrade(request.url ?? ''), ...(http && { http }) }));

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const json = (socket: WebSocket, message: unknown) => sendNow(socket, JSON.stringify(message));

describe('HopX runCodeStream', () => {
  it('sends one execute message with the agent token, and yields the typed messages up to complete', async () => {
    const apiKey = testKey('stream');
    let execute: unknown;
    await start(() => ({
      accept: async (socket) => {
        const [data] = await nextMessage(socket);
        execute = JSON.parse(data.toString());
        const timestamp = '2026-12-05T12:00:00Z';
        await json(socket, { type: 'stdout', data: 'hello\n', timestamp });
        await sendNow(socket, ' '); // blank frames carry nothing; both SDKs skip them
        await json(socket, { type: 'stderr', data: 'warn\n', timestamp });
        await json(socket, { type: 'result', exit_code: 0, execution_time: 0.01 });
        await json(socket, { type: 'complete', success: true });
        // Anything after complete is not read: the stream has ended.
        await json(socket, { type: 'bogus' }).catch(() => undefined);
      },
    }));
    const client = createHopxClient({ apiKey, baseUrl: standIn!.baseUrl });
    const messages: HopxStreamMessage[] = await collect(client.runCodeStream({ code: 'print("hello")', language: 'python', timeout: 10 }));
    expect(messages.map((m) => m.type)).toEqual(['stdout', 'stderr', 'result', 'complete']);
    const [stdout] = messages;
    // Typed: narrowing on `type` reaches the message's own fields.
    expect(stdout?.type === 'stdout' && stdout.data).toBe('hello\n');
    expect(execute).toEqual({ type: 'execute', code: 'print("hello")', language: 'python', timeout: 10 });
    expect(standIn!.upgrades[0]).toMatchObject({ url: '/execute/stream', headers: { authorization: `Bearer ${apiKey}` } });
  });

  it('checks the request against the spec before opening anything', async () => {
    await start(() => ({ accept: () => undefined }));
    const client = createHopxClient({ apiKey: testKey('stream'), baseUrl: standIn!.baseUrl });
    const error = await rejectionOf(collect(client.runCodeStream({ code: 42 as unknown as string })));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain('message.code must be string');
    expect(standIn!.upgrades).toEqual([]);
  });

  it.each([
    ['an unknown type', JSON.stringify({ type: 'bogus', data: 'x' }), 'message.type must be one of'],
    ['a known type missing a field', JSON.stringify({ type: 'result', execution_time: 1 }), 'exit_code is required'],
    ['text that is not JSON', 'not json', 'not JSON'],
    ['a binary frame', Buffer.from([1, 2, 3]), 'binary'],
  ])('rejects %s with UnexpectedResponseError UNEXPECTED_MESSAGE', async (_name, payload, says) => {
    await start(() => ({
      accept: async (socket) => {
        await nextMessage(socket);
        await json(socket, { type: 'stdout', data: 'ok', timestamp: 't' });
        await sendNow(socket, payload);
      },
    }));
    const client = createHopxClient({ apiKey: testKey('stream'), baseUrl: standIn!.baseUrl });
    const seen: string[] = [];
    const error = await rejectionOf(
      (async () => {
        for await (const message of client.runCodeStream({ code: 'x' })) seen.push(message.type);
      })(),
    );
    expect(seen).toEqual(['stdout']);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ provider: 'hopx', operation: 'execute_stream', status: 101, code: 'UNEXPECTED_MESSAGE' });
    expect((error as Error).message).toContain(says);
  });

  it('fails with SessionClosedError when the stream closes before complete', async () => {
    await start(() => ({
      accept: async (socket) => {
        await nextMessage(socket);
        socket.close(1011, 'agent crashed');
      },
    }));
    const client = createHopxClient({ apiKey: testKey('stream'), baseUrl: standIn!.baseUrl });
    const error = await rejectionOf(collect(client.runCodeStream({ code: 'x' })));
    expect(error).toBeInstanceOf(SessionClosedError);
    expect(error).toMatchObject({ closeCode: 1011, closeReason: 'agent crashed', code: 'CLOSE_1011' });
  });

  it('turns a refused upgrade into the error of its status, with the body code, and no key', async () => {
    const apiKey = testKey('refused');
    // A server that echoes what it was sent: the key must still not reach the error.
    await start(() => ({ refuse: 401, body: JSON.stringify({ error: `token expired: Bearer ${apiKey}`, code: 'TOKEN_EXPIRED' }) }));
    const client = createHopxClient({ apiKey, baseUrl: standIn!.baseUrl });
    const error = await rejectionOf(collect(client.runCodeStream({ code: 'x' })));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ provider: 'hopx', operation: 'execute_stream', status: 401, code: 'TOKEN_EXPIRED' });
    expect(leakedKeys(error)).toEqual([]);
  });

  it('with an agent token that expires (connectHopxSandbox), a refusal for the expired token renews it once and opens again', async () => {
    const [stale, fresh] = [testKey('stale'), testKey('fresh')];
    const server = await startWsStandIn({
      upgrade: (request) =>
        request.headers.authorization === `Bearer ${fresh}`
          ? { accept: async (socket) => void (await nextMessage(socket), await json(socket, { type: 'complete', success: true })) }
          : { refuse: 401, body: JSON.stringify({ error: 'token expired', code: 'TOKEN_EXPIRED' }) },
    });
    try {
      const renewed: string[] = [];
      const client = hopxClientWith(
        { apiKey: testKey('unused'), baseUrl: server.baseUrl },
        { token: { current: () => stale, renewAfter: async (refused) => (renewed.push(refused), fresh) } },
      );
      expect((await collect(client.runCodeStream({ code: 'x' }))).map((m) => m.type)).toEqual(['complete']);
      expect(renewed).toEqual([stale]);
      expect(server.upgrades.map((u) => u.headers.authorization)).toEqual([`Bearer ${stale}`, `Bearer ${fresh}`]);
    } finally {
      await server.close();
    }
  });

  it('a 429 refusal (the emulator\'s session cap) is a RateLimitError with its Retry-After', async () => {
    standIn = await startWsStandIn({
      upgrade: () => ({ refuse: 429, headers: { 'retry-after': '2' }, body: JSON.stringify({ error: 'too many terminal sessions (limit 64)', code: 'RATE_LIMIT_EXCEEDED' }) }),
    });
    const client = createHopxClient({ apiKey: testKey('refused'), baseUrl: standIn.baseUrl });
    const error = await rejectionOf(client.openTerminal());
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'RATE_LIMIT_EXCEEDED', retryAfterMs: 2000 });
  });

  it('a 400 refusal is an InvalidRequestError', async () => {
    await start(() => ({ refuse: 400, body: JSON.stringify({ error: 'not a websocket handshake', code: 'INVALID_REQUEST' }) }));
    const client = createHopxClient({ apiKey: testKey('refused'), baseUrl: standIn!.baseUrl });
    const error = await rejectionOf(collect(client.runCodeStream({ code: 'x' })));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
  });
});

describe('cancellation by AbortSignal', () => {
  it('an aborted signal opens nothing', async () => {
    await start(() => ({ accept: () => undefined }));
    const client = createHopxClient({ apiKey: testKey('abort'), baseUrl: standIn!.baseUrl });
    const error = await rejectionOf(collect(client.runCodeStream({ code: 'x' }, { signal: AbortSignal.abort() })));
    expect(error).toBeInstanceOf(AbortedError);
    expect(standIn!.upgrades).toEqual([]);
  });

  it('cancels an opening the server never answers', async () => {
    let arrived!: () => void;
    const upgradeArrived = new Promise<void>((resolve) => (arrived = resolve));
    await start(() => {
      arrived();
      return { hold: true };
    });
    const client = createHopxClient({ apiKey: testKey('abort'), baseUrl: standIn!.baseUrl });
    const controller = new AbortController();
    const opening = rejectionOf(client.openTerminal({ signal: controller.signal }));
    await upgradeArrived;
    controller.abort();
    expect(await opening).toBeInstanceOf(AbortedError);
  });

  it('ends a stream mid-way: the iteration fails with AbortedError and the server sees the socket go', async () => {
    let serverSawClose!: () => void;
    const closedAtServer = new Promise<void>((resolve) => (serverSawClose = resolve));
    await start(() => ({
      accept: async (socket) => {
        socket.on('close', () => serverSawClose());
        await nextMessage(socket);
        await json(socket, { type: 'stdout', data: 'first', timestamp: 't' });
      },
    }));
    const client = createHopxClient({ apiKey: testKey('abort'), baseUrl: standIn!.baseUrl });
    const controller = new AbortController();
    const seen: string[] = [];
    const error = await rejectionOf(
      (async () => {
        for await (const message of client.runCodeStream({ code: 'x' }, { signal: controller.signal })) {
          seen.push(message.type);
          controller.abort();
        }
      })(),
    );
    expect(seen).toEqual(['stdout']);
    expect(error).toBeInstanceOf(AbortedError);
    await closedAtServer;
  });

  it('ends a terminal mid-session: output and exitCode reject with AbortedError', async () => {
    await start(() => ({ accept: (socket) => void json(socket, { type: 'output', data: '$ ' }) }));
    const client = createHopxClient({ apiKey: testKey('abort'), baseUrl: standIn!.baseUrl });
    const controller = new AbortController();
    const terminal = await client.openTerminal({ signal: controller.signal });
    const iterator = terminal.output[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await iterator.next()).value)).toBe('$ ');
    controller.abort();
    expect(await rejectionOf(iterator.next())).toBeInstanceOf(AbortedError);
    expect(await rejectionOf(terminal.exitCode)).toBeInstanceOf(AbortedError);
  });
});

describe('HopX openTerminal', () => {
  it('writes input, resizes, reads output and the exit code', async () => {
    const received: unknown[] = [];
    await start(() => ({
      accept: (socket) => {
        socket.on('message', async (data: Buffer) => {
          const message = JSON.parse(data.toString());
          received.push(message);
          if (message.type === 'input' && message.data === 'echo hi\n') await json(socket, { type: 'output', data: 'hi\r\n' });
          if (message.type === 'input' && message.data === 'exit\n') await json(socket, { type: 'exit', code: 0 });
        });
      },
    }));
    const client = createHopxClient({ apiKey: testKey('terminal'), baseUrl: standIn!.baseUrl });
    await using terminal = await client.processes.openTerminal({ cols: 100, rows: 30 });
    await terminal.write('echo hi\n');
    const iterator = terminal.output[Symbol.asyncIterator]();
    expect(new TextDecoder().decode((await iterator.next()).value)).toBe('hi\r\n');
    await terminal.resize(120, 40);
    // A character split across writes arrives whole.
    const snowman = new TextEncoder().encode('☃');
    await terminal.write(snowman.subarray(0, 1));
    await terminal.write(snowman.subarray(1));
    await terminal.write('exit\n');
    expect(await terminal.exitCode).toBe(0);
    expect((await iterator.next()).done).toBe(true);
    expect(received).toEqual([
      { type: 'resize', cols: 100, rows: 30 },
      { type: 'input', data: 'echo hi\n' },
      { type: 'resize', cols: 120, rows: 40 },
      { type: 'input', data: '' },
      { type: 'input', data: '☃' },
      { type: 'input', data: 'exit\n' },
    ]);
    expect(standIn!.upgrades[0]?.url).toBe('/terminal');
  });

  it('a short session settles its exit code with nobody reading its output', async () => {
    await start(() => ({
      accept: async (socket) => {
        await json(socket, { type: 'output', data: 'bye\r\n' });
        await json(socket, { type: 'exit', code: 5 });
      },
    }));
    const client = createHopxClient({ apiKey: testKey('terminal'), baseUrl: standIn!.baseUrl });
    const terminal = await client.openTerminal();
    expect(await terminal.exitCode).toBe(5);
    // What was printed is still there to read.
    expect(Buffer.concat(await collect(terminal.output)).toString()).toBe('bye\r\n');
  });

  it('close() ends a session whose output nobody reads, however much is waiting', async () => {
    let serverSawClose!: () => void;
    const closedAtServer = new Promise<void>((resolve) => (serverSawClose = resolve));
    await start(() => ({
      accept: async (socket) => {
        socket.on('close', () => serverSawClose());
        const data = 'x'.repeat(64 * 1024);
        for (let i = 0; i < 128 && socket.readyState === socket.OPEN; i++) await json(socket, { type: 'output', data }).catch(() => undefined);
      },
    }));
    const client = createHopxClient({ apiKey: testKey('terminal'), baseUrl: standIn!.baseUrl });
    const terminal = await client.openTerminal();
    await terminal.close();
    await closedAtServer;
    expect(await rejectionOf(terminal.exitCode)).toBeInstanceOf(SessionClosedError);
  });

  it('refuses a size the contract does not allow, sending nothing', async () => {
    await start(() => ({ accept: () => undefined }));
    const client = createHopxClient({ apiKey: testKey('terminal'), baseUrl: standIn!.baseUrl });
    expect(await rejectionOf(client.openTerminal({ cols: 0 }))).toBeInstanceOf(ValidationError);
    expect(standIn!.upgrades).toEqual([]);
  });
});

describe('Tensorlake PTY sessions', () => {
  const ptyHttp =
    (token: string) =>
    (request: { method: string; url: string; body: string }, response: import('node:http').ServerResponse) => {
      const reply = (status: number, body?: unknown) => {
        response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
        response.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (request.method === 'POST' && request.url === '/api/v1/pty') return reply(201, { session_id: 'sess_1', token });
      if (request.method === 'DELETE' && request.url === '/api/v1/pty/sess_1') return reply(204);
      if (request.method === 'GET' && request.url === '/api/v1/pty')
        return reply(200, { sessions: [{ session_id: 'sess_1', pid: 7, command: '/bin/sh', args: [], rows: 24, cols: 80, created_at: 1, is_alive: true }] });
      return reply(404, { error: 'PTY session x not found', code: 'NOT_FOUND' });
    };

  it('sends READY on connect, then input and resize frames; the close reason "exit:<code>" gives the exit code', async () => {
    const token = 'a'.repeat(64);
    const frames: unknown[] = [];
    await start(
      () => ({
        accept: (socket) => {
          socket.on('message', async (data: Buffer) => {
            const frame = decodePtyFrame(data);
            frames.push(frame);
            if ('op' in frame && frame.op === 'ready') await sendNow(socket, encodePtyFrame({ op: 'data', data: Buffer.from('$ ') }));
            if ('op' in frame && frame.op === 'data' && Buffer.from(frame.data).toString() === 'exit 3\n') socket.close(1000, 'exit:3');
          });
        },
      }),
      ptyHttp(token),
    );
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    const pty = await client.createPty({ command: '/bin/sh', rows: 24, cols: 80 });
    expect(pty.sessionId).toBe('sess_1');
    expect(pty.token).toBe(token);
    expect(Object.keys(pty)).not.toContain('token');
    await pty.resize(100, 30);
    await pty.write('exit 3\n');
    const output = Buffer.concat(await collect(pty.output)).toString();
    expect(output).toBe('$ ');
    expect(await pty.exitCode).toBe(3);
    expect(frames).toEqual([{ op: 'ready' }, { op: 'resize', cols: 100, rows: 30 }, { op: 'data', data: Buffer.from('exit 3\n') }]);
    const [upgrade] = standIn!.upgrades;
    expect(upgrade?.url).toBe(`/api/v1/pty/sess_1/ws?token=${token}`);
    expect(upgrade?.headers['x-pty-token']).toBe(token);
  });

  it('a session the daemon closed before READY went out (1008 "pre-ready buffer overflow") is returned, and says so as any close does', async () => {
    await start(() => ({ accept: (socket) => socket.close(1008, 'pre-ready buffer overflow') }), ptyHttp('c'.repeat(64)));
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    const pty = await client.createPty({ command: '/bin/sh', rows: 24, cols: 80 });
    expect(await rejectionOf(pty.exitCode)).toMatchObject({ name: 'SessionClosedError', closeCode: 1008, closeReason: 'pre-ready buffer overflow' });
  });

  it('takes the exit code from an EXIT frame too (the official SDK reads one)', async () => {
    await start(() => ({
      accept: async (socket) => {
        await nextMessage(socket);
        await sendNow(socket, encodePtyFrame({ op: 'exit', code: -2 }));
      },
    }));
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    const pty = await client.connectPty('sess_1', 'b'.repeat(64));
    expect(await pty.exitCode).toBe(-2);
  });

  it('a kill (close 1001 "session terminated") rejects exitCode and output with SessionClosedError', async () => {
    await start(() => ({
      accept: async (socket) => {
        await nextMessage(socket);
        socket.close(1001, 'session terminated');
      },
    }));
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    const pty = await client.connectPty('sess_1', 'c'.repeat(64));
    const error = await rejectionOf(pty.exitCode);
    expect(error).toBeInstanceOf(SessionClosedError);
    expect(error).toMatchObject({ closeCode: 1001, closeReason: 'session terminated' });
    expect(await rejectionOf(collect(pty.output))).toBe(error);
  });

  it('a frame the daemon may not send (READY, a short RESIZE, text) is outside the contract', async () => {
    for (const payload of [encodePtyFrame({ op: 'ready' }), Buffer.from([1, 0]), 'text']) {
      await start(() => ({
        accept: async (socket) => {
          await nextMessage(socket);
          await sendNow(socket, payload);
        },
      }));
      const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
      const pty = await client.connectPty('sess_1', 'd'.repeat(64));
      const error = await rejectionOf(pty.exitCode);
      expect(error).toBeInstanceOf(UnexpectedResponseError);
      expect(error).toMatchObject({ operation: 'sandbox_pty_connect', code: 'UNEXPECTED_MESSAGE' });
      await standIn!.close();
      standIn = undefined;
    }
  });

  it('a refused attach is AuthenticationError 403 INVALID_TOKEN, and no error holds the token, however the server echoes it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 8, maxLength: 40, unit: 'grapheme' }), async (token) => {
        const apiKey = testKey('pty');
        const server = await startWsStandIn({
          // The refusal quotes the request's URL back: the token, percent-encoded.
          upgrade: (request) => ({ refuse: 403, body: JSON.stringify({ error: `Invalid token for ${request.url}`, code: 'INVALID_TOKEN' }) }),
        });
        try {
          const client = createTensorlakeClient({ apiKey, baseUrl: server.baseUrl });
          const error = await rejectionOf(client.connectPty('sess_1', token));
          expect(error).toBeInstanceOf(AuthenticationError);
          expect(error).toMatchObject({ status: 403, code: 'INVALID_TOKEN' });
          for (const text of renderings(error)) {
            expect(text).not.toContain(token);
            expect(text).not.toContain(encodeURIComponent(token));
            expect(text).not.toContain(apiKey);
          }
        } finally {
          await server.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('no error of a failed connection holds the token either', async () => {
    const token = `tok-${'e'.repeat(40)}`;
    await start(() => ({ accept: () => undefined }));
    const baseUrl = standIn!.baseUrl;
    await standIn!.close();
    standIn = undefined;
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl, retry: { maxRetries: 0 } });
    const error = await rejectionOf(client.connectPty('sess_1', token));
    expect(error).toMatchObject({ name: 'NetworkError', operation: 'sandbox_pty_connect' });
    for (const text of renderings(error)) expect(text).not.toContain(token);
  });

  it('the REST operations go through the typed client, with input checked against the spec', async () => {
    await start(() => ({ accept: () => undefined }), ptyHttp('f'.repeat(64)));
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    expect(await rejectionOf(client.createPtySession({ command: '' }))).toBeInstanceOf(ValidationError);
    expect(await rejectionOf(client.resizePty('sess_1', { rows: 70_000, cols: 80 }))).toBeInstanceOf(ValidationError);
    expect(standIn!.requests).toEqual([]);
    expect((await client.listPtys()).map((s) => s.session_id)).toEqual(['sess_1']);
    await client.killPty('sess_1');
    const error = await rejectionOf(client.getPty('nope'));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('the neutral openTerminal runs a shell on a PTY and kills the session when closed', async () => {
    await start(() => ({ accept: () => undefined }), ptyHttp('g'.repeat(64)));
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    const terminal = await client.processes.openTerminal({ cols: 90, rows: 20 });
    await terminal.close();
    expect(standIn!.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/v1/pty', 'DELETE /api/v1/pty/sess_1']);
    expect(JSON.parse(standIn!.requests[0]!.body)).toEqual({ command: '/bin/sh', rows: 20, cols: 90 });
    expect(await rejectionOf(terminal.exitCode)).toBeInstanceOf(SessionClosedError);
  });

  it('the neutral openTerminal kills its PTY session when its signal cancels it too, once whatever follows', async () => {
    await start(() => ({ accept: () => undefined }), ptyHttp('h'.repeat(64)));
    const client = createTensorlakeClient({ apiKey: testKey('pty'), baseUrl: standIn!.baseUrl });
    const controller = new AbortController();
    const terminal = await client.processes.openTerminal({ signal: controller.signal });
    controller.abort();
    expect(await rejectionOf(terminal.exitCode)).toBeInstanceOf(AbortedError);
    const sent = () => standIn!.requests.map((r) => `${r.method} ${r.url}`);
    for (let i = 0; i < 200 && sent().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent()).toEqual(['POST /api/v1/pty', 'DELETE /api/v1/pty/sess_1']);
    await terminal.close();
    expect(sent()).toEqual(['POST /api/v1/pty', 'DELETE /api/v1/pty/sess_1']);
  });
});

describe('bounded buffering with a slow consumer', () => {
  it('holds at most about its bound while the server has far more to send, pausing the socket, and loses nothing', async () => {
    const CHUNK = 16 * 1024;
    const CHUNKS = 2048; // 32 MiB
    const BOUND = 256 * 1024;
    let sentByServer = 0;
    await start(() => ({
      accept: async (socket) => {
        for (let i = 0; i < CHUNKS; i++) {
          const chunk = Buffer.alloc(CHUNK, i % 251);
          await sendNow(socket, chunk);
          sentByServer++;
        }
        socket.close(1000, 'done');
      },
    }));
    const session = await openWebSocket({
      provider: 'tensorlake',
      operation: 'sandbox_pty_connect',
      url: standIn!.baseUrl.replace('http', 'ws'),
      headers: {},
      secrets: [],
      handshakeTimeoutMs: 5000,
      maxMessageBytes: 1024 * 1024,
      maxQueuedBytes: BOUND,
    });
    let received = 0;
    let mostHeld = 0;
    let serverAheadAtMostHeld = 0;
    for await (const message of session) {
      mostHeld = Math.max(mostHeld, session.queuedBytes);
      if (session.queuedBytes === mostHeld) serverAheadAtMostHeld = sentByServer - received;
      expect(message.binary && message.bytes.length).toBe(CHUNK);
      expect(message.binary && message.bytes[0]).toBe(received % 251);
      received++;
      // A slow consumer: a turn of the event loop per message, while the server sends as fast as it can.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(received).toBe(CHUNKS);
    expect(session.pauses).toBeGreaterThan(0);
    // What the client held never grew with what the server had to send: its bound plus one socket read.
    expect(mostHeld).toBeLessThanOrEqual(BOUND + 256 * 1024);
    expect(serverAheadAtMostHeld).toBeLessThan(CHUNKS);
  });
});
