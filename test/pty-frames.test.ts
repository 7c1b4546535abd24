import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePtyFrame, encodePtyFrame, exitCodeOfCloseReason, type PtyFrame } from '../src/providers/tensorlake/pty-frames.js';

const frames: fc.Arbitrary<PtyFrame> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((data) => ({ op: 'data' as const, data })),
  fc.record({ op: fc.constant('resize' as const), cols: fc.integer({ min: 0, max: 65535 }), rows: fc.integer({ min: 0, max: 65535 }) }),
  fc.constant({ op: 'ready' as const }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((code) => ({ op: 'exit' as const, code })),
);

describe('Tensorlake PTY frames', () => {
  it('decode what they encode, with the official SDK byte layout', () => {
    fc.assert(fc.property(frames, (frame) => {
      const decoded = decodePtyFrame(encodePtyFrame(frame));
      expect('op' in decoded && decoded.op === 'data' ? { ...decoded, data: new Uint8Array(decoded.data) } : decoded).toEqual(frame);
    }));
    // As npm tensorlake's encodePtyResize writes it: opcode 1, cols then rows, u16 big-endian.
    expect([...encodePtyFrame({ op: 'resize', cols: 120, rows: 40 })]).toEqual([1, 0, 120, 0, 40]);
  });

  it('name what is wrong with a frame they cannot read', () => {
    expect(decodePtyFrame(new Uint8Array())).toEqual({ problem: 'an empty frame (no opcode)' });
    expect(decodePtyFrame(Uint8Array.of(1, 0, 80))).toEqual({ problem: 'a RESIZE frame of 3 bytes (5 expected)' });
    expect(decodePtyFrame(Uint8Array.of(9))).toEqual({ problem: 'an unknown opcode 9' });
    expect(exitCodeOfCloseReason('exit:-1')).toBe(-1);
    expect(exitCodeOfCloseReason('session terminated')).toBeUndefined();
  });
});
