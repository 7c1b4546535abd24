// What the emulators promise holds for HopX's streamed runs too: a program that prints
// far more than the emulator may hold, through `GET /execute/stream` read by a slow
// client, is held at its next write while the reader is behind (not dropped, not
// buffered), so every byte arrives, the run completes, and the emulator's RSS stays
// under 256 MiB. An emulator in a process of its own, measured from /proc; confined
// (where bubblewrap works here) and with isolation none.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { findBubblewrap } from '../src/emulator/confinement/bwrap.js';
import { buildEmulator, hostEmulator, type HostedEmulator } from './support/emulator-process.js';
import { mustOpen } from './support/ws-session.js';

const ISOLATIONS = 'unavailable' in findBubblewrap() ? (['none'] as const) : (['none', 'strict'] as const);
const MiB = 1024 * 1024;
/** 64 MiB of zeros as base64: about 86 MiB of 76-character lines, far beyond what the emulator may hold unsent. */
const PROGRAM = 'head -c 67108864 /dev/zero | base64';
const EXPECTED_BYTES = Number(execFileSync('/bin/sh', ['-c', `${PROGRAM} | wc -c`]).toString().trim());

const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let entry: string;
beforeAll(async () => {
  entry = await buildEmulator();
}, 180_000);

describe.each(ISOLATIONS)('isolation %s', (isolation) => {
  let hosted: HostedEmulator | undefined;
  afterAll(async () => {
    await hosted?.stop();
  });

  it('a run printing 86 MiB to a slow reader: every byte arrives, then complete with success; the emulator stays under 256 MiB', async () => {
    hosted = await hostEmulator(entry, 'hopx', undefined, isolation);
    const ws = await mustOpen(`${hosted.baseUrl.replace('http:', 'ws:')}/execute/stream`, { authorization: `Bearer ${hosted.token}` });
    let stdoutBytes = 0;
    let dropNotes = 0;
    const last: string[] = [];
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; data?: string };
      if (message.type === 'stdout') {
        stdoutBytes += Buffer.byteLength(message.data!);
        if (message.data!.includes('sandbox-procs dropped')) dropNotes++;
      } else last.push(data.toString());
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    let open = true;
    void closed.then(() => (open = false));
    ws.send(JSON.stringify({ type: 'execute', code: PROGRAM, language: 'bash', timeout: 300 }));
    // Slowly: nothing read for a while, then a short read, the emulator's peak measured throughout.
    let peak = 0;
    const socket = socketOf(ws);
    while (open) {
      socket.pause();
      await sleep(150);
      peak = Math.max(peak, hosted.memory().peak);
      socket.resume();
      await sleep(30);
    }
    expect(await closed).toBe(1000);
    expect(dropNotes).toBe(0);
    expect(stdoutBytes).toBe(EXPECTED_BYTES);
    const messages = last.map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(messages.map((m) => m.type)).toEqual(['result', 'complete']);
    expect(messages[0]!.exit_code).toBe(0);
    expect(messages[1]).toEqual({ type: 'complete', success: true });
    console.log(`execute/stream, isolation ${isolation}: ${(stdoutBytes / MiB).toFixed(1)} MiB received, emulator peak RSS ${(peak / MiB).toFixed(0)} MiB`);
    expect(peak).toBeLessThan(256 * MiB);
    await hosted.stop();
    hosted = undefined;
  }, 240_000);
});
