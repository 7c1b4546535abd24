// The confined sandbox's wire (src/emulator/confinement/spawner.ts): whatever sizes
// the socket hands its bytes over in, the reader gives back each frame as it was sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, frameReader } from '../src/emulator/confinement/spawner.js';
import { runs as propertyRuns } from './support/profile.js';

const frame = fc.record({ type: fc.integer({ min: 1, max: 17 }), id: fc.nat(), body: fc.uint8Array({ maxLength: 300 }) });

describe('frameReader', () => {
  it('reads back every frame, in order, however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type as never, f.id, f.body)));
        const read: Array<{ type: number; id: number; body: Uint8Array }> = [];
        const feed = frameReader((type, id, body) => read.push({ type, id, body: new Uint8Array(body) }));
        for (let at = 0, i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length]!;
          feed(stream.subarray(at, at + size));
          at += size;
        }
        expect(read).toEqual(frames.map((f) => ({ type: f.type, id: f.id, body: new Uint8Array(f.body) })));
      }),
      { numRuns: propertyRuns(2_000) },
    );
  });
});
