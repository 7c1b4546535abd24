// The recording proxy's WebSocket side, which the official SDK suites rely on to
// check every message an SDK exchanges: it must relay faithfully (messages both
// ways, binary kept binary, the close code and reason, a refusal's status and body)
// and record what crossed, with no session token in what it keeps.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startRecordingProxy, type RecordingProxy } from './support/recording-proxy.js';

let upstream: Server;
let proxy: RecordingProxy;

beforeAll(async () => {
  const sockets = new WebSocketServer({ noServer: true });
  upstream = createServer((_req, res) => res.end());
  upstream.on('upgrade', (req, socket, head) => {
    if (req.headers['x-pty-token'] !== 'secret-session-token') {
      const body = '{"error":"Invalid token","code":"INVALID_TOKEN"}';
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, binary) => {
        if (!binary && data.toString() === 'bye') return ws.close(1000, 'exit:7');
        ws.send(data, { binary });
      });
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startRecordingProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
});

afterAll(async () => {
  await proxy?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

const open = (headers: Record<string, string>) => new WebSocket(`${proxy.baseUrl.replace('http', 'ws')}/api/v1/pty/s1/ws?token=secret-session-token`, { headers });

describe('the recording proxy relays and records WebSocket channels', () => {
  it('messages both ways, binary kept binary, and the close code and reason', async () => {
    const ws = open({ 'x-pty-token': 'secret-session-token' });
    const received: { data: string; binary: boolean }[] = [];
    ws.on('message', (data, binary) => received.push({ data: data.toString(), binary }));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(Buffer.from([0, 104, 105]));
    ws.send('text');
    ws.send('bye');
    const [code, reason] = (await new Promise((resolve) => ws.once('close', (c, r) => resolve([c, r.toString()])))) as [number, string];
    expect({ code, reason }).toEqual({ code: 1000, reason: 'exit:7' });
    expect(received).toEqual([{ data: '\u0000hi', binary: true }, { data: 'text', binary: false }]);
    const channel = proxy.channels.at(-1)!;
    expect(channel).toMatchObject({ path: '/api/v1/pty/s1/ws', query: { token: '<TOKEN>' }, status: 101, close: { by: 'server', code: 1000, reason: 'exit:7' } });
    const sent = (from: string) => channel.messages.filter((m) => m.from === from).map((m) => [m.binary, m.data.toString()]);
    expect(sent('client')).toEqual([[true, '\u0000hi'], [false, 'text'], [false, 'bye']]);
    expect(sent('server')).toEqual([[true, '\u0000hi'], [false, 'text']]);
    expect(JSON.stringify(channel)).not.toContain('secret-session-token');
  });

  it("a refused upgrade reaches the client with the upstream's status and body", async () => {
    const ws = open({});
    const refusal = await new Promise<{ status: number; body: string }>((resolve) =>
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }),
    );
    ws.on('error', () => undefined);
    expect(refusal).toEqual({ status: 403, body: '{"error":"Invalid token","code":"INVALID_TOKEN"}' });
    expect(proxy.channels.at(-1)).toMatchObject({ status: 403, responseBody: refusal.body, messages: [] });
  });
});
