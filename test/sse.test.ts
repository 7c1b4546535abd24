// SSE through the facade, from real local servers that stream their bodies in
// awkward pieces: frames split mid-line and mid-character, CRLF split in two,
// keep-alive comments, multi-line data, and streams that end too early.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSseDecoder, parseSseText } from '../src/core/sse.js';
import {
  NetworkError,
  SandboxProcsError,
  TimeoutError,
  UnexpectedResponseError,
  createTensorlakeClient,
  type TensorlakeFollowEvent,
  type TensorlakeRunEvent,
} from '../src/index.js';

type Script = (res: ServerResponse) => Promise<void> | void;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server that answers every request with 200 text/event-stream and then runs `script`. */
async function streamingServer(script: Script) {
  const state = { closedByClient: false };
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    res.on('close', () => {
      if (!res.writableFinished) state.closedByClient = true;
    });
    void Promise.resolve(script(res)).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const client = createTensorlakeClient({
    apiKey: 'sk-sse-test',
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    streamIdleTimeoutMs: 300,
  });
  return { client, state };
}

/** Writes each piece as its own chunk, with a pause so that they arrive apart. */
async function writeInPieces(res: ServerResponse, pieces: Array<string | Buffer>, end = true): Promise<void> {
  for (const piece of pieces) {
    res.write(piece);
    await pause(15);
  }
  if (end) res.end();
}

async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe('follow streams', () => {
  it('reassembles frames split mid-line, mid-character and mid-CRLF, and skips comments and unknown events', async () => {
    const euro = Buffer.from('€', 'utf8'); // 3 bytes, split between chunks below
    const { client } = await streamingServer((res) =>
      writeInPieces(res, [
        ': keep-alive\r\n\r',
        '\nevent: outp',
        'ut\r\ndata: {"line":"price ',
        euro.subarray(0, 1),
        Buffer.concat([euro.subarray(1), Buffer.from('5","timestamp":0}\r\n\r\n')]),
        ': another keep-alive\n\n',
        'event: progress\ndata: {"ignored":true}\n\n',
        'event: output\ndata: {"line":\ndata: "two","timestamp":1763900000000}\n\n',
        'event: eof\ndata: {}\n\n',
      ]),
    );
    const events: TensorlakeFollowEvent[] = await collect(client.followStdout(42));
    expect(events).toEqual([
      { type: 'output', line: 'price €5', timestamp: 0 },
      { type: 'output', line: 'two', timestamp: 1763900000000 },
      { type: 'eof' },
    ]);
  });

  it('throws INCOMPLETE_STREAM when the stream ends before eof', async () => {
    const { client } = await streamingServer((res) => writeInPieces(res, ['event: output\ndata: {"line":"a","timestamp":0}\n\n']));
    const seen: TensorlakeFollowEvent[] = [];
    const error = await (async () => {
      for await (const event of client.followOutput(42)) seen.push(event);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ type: 'output', line: 'a', timestamp: 0 }]);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ code: 'INCOMPLETE_STREAM', operation: 'sandbox_process_follow_output', status: 200 });
  });

  it('drops an unterminated last event, so eof without its blank line does not count', async () => {
    const { client } = await streamingServer((res) => writeInPieces(res, ['event: eof\ndata: {}\n']));
    await expect(collect(client.followStderr(42))).rejects.toMatchObject({ code: 'INCOMPLETE_STREAM' });
  });

  it('throws TimeoutError when the stream goes silent longer than streamIdleTimeoutMs', async () => {
    const { client } = await streamingServer((res) => writeInPieces(res, ['event: output\ndata: {"line":"a","timestamp":0}\n\n'], false));
    const started = Date.now();
    await expect(collect(client.followStdout(42))).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('throws NetworkError when the connection is reset mid-stream', async () => {
    const { client } = await streamingServer(async (res) => {
      await writeInPieces(res, ['event: output\ndata: {"line":"a","timestamp":0}\n\n'], false);
      res.socket?.resetAndDestroy();
    });
    const error = await collect(client.followStdout(42)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
  });

  it('closes the connection when the caller stops iterating early', async () => {
    const { client, state } = await streamingServer(async (res) => {
      for (let i = 0; i < 50 && !res.destroyed; i++) await writeInPieces(res, [`event: output\ndata: {"line":"${i}","timestamp":0}\n\n`], false);
    });
    for await (const event of client.followStdout(42)) {
      expect(event).toEqual({ type: 'output', line: '0', timestamp: 0 });
      break;
    }
    await pause(100);
    expect(state.closedByClient).toBe(true);
  });

  it('throws INVALID_EVENT when event data is not JSON', async () => {
    const { client } = await streamingServer((res) => writeInPieces(res, ['event: output\ndata: not json\n\n']));
    await expect(collect(client.followStdout(42))).rejects.toMatchObject({ code: 'INVALID_EVENT' });
  });
});

describe('run streams', () => {
  it('yields started, output and exit events and stops at the exit frame', async () => {
    const { client } = await streamingServer((res) =>
      writeInPieces(res, [
        'data: {"pid":7,"handle":1,"started_at":1763900000000}\n\n',
        ':\n\n',
        'data: {"line":"hi","timestamp":1763900000001,"stream":"stdout"}\n',
        '\n',
        'data: {"signal":9,"oom_killed":true}\n\n',
      ]),
    );
    const events: TensorlakeRunEvent[] = await collect(client.run({ command: 'echo', args: ['hi'] }));
    expect(events).toEqual([
      { type: 'started', pid: 7, handle: 1, started_at: 1763900000000 },
      { type: 'output', line: 'hi', timestamp: 1763900000001, stream: 'stdout' },
      { type: 'exit', signal: 9, oom_killed: true },
    ]);
  });

  it('never invents an exit code: a run stream without its exit frame throws', async () => {
    const { client } = await streamingServer((res) =>
      writeInPieces(res, ['data: {"pid":7,"started_at":1}\n\n', 'data: {"line":"hi","timestamp":2,"stream":"stdout"}\n\n']),
    );
    const events: TensorlakeRunEvent[] = [];
    const error = await (async () => {
      for await (const event of client.run({ command: 'echo' })) events.push(event);
    })().catch((e: unknown) => e);
    expect(events.map((e) => e.type)).toEqual(['started', 'output']);
    expect(error).toBeInstanceOf(SandboxProcsError);
    expect(error).toMatchObject({ code: 'INCOMPLETE_STREAM', operation: 'sandbox_process_run' });
  });

  it('refuses an invalid run request before sending anything', async () => {
    let requests = 0;
    const { client } = await streamingServer((res) => {
      requests++;
      res.end();
    });
    await expect(collect(client.run({ command: '' }))).rejects.toMatchObject({ name: 'ValidationError' });
    expect(requests).toBe(0);
  });
});

describe('the SSE decoder itself', () => {
  it('keeps ids, defaults the event name to "message", and handles a lone CR as a line end', () => {
    expect(parseSseText('id: 1\rdata: a\r\revent: x\ndata:b\ndata\n\n')).toEqual([
      { event: 'message', data: 'a', id: '1' },
      { event: 'x', data: 'b\n', id: '1' },
    ]);
  });

  it('gives the same events whatever the chunking', () => {
    const text = '\uFEFFevent: output\r\ndata: {"line":"x"}\r\n\r\n: c\n\ndata: 1\ndata: 2\n\n';
    const whole = parseSseText(text);
    for (let size = 1; size <= 7; size++) {
      const decoder = createSseDecoder();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...decoder.push(text.slice(i, i + size)));
      events.push(...decoder.end());
      expect(events).toEqual(whole);
    }
    expect(whole).toEqual([
      { event: 'output', data: '{"line":"x"}' },
      { event: 'message', data: '1\n2' },
    ]);
  });
});
