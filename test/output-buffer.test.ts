// The output buffer: lines split as the bytes come, in any chunking, cut at a
// character boundary, the newest kept within the line and byte limits, and
// every line that goes counted.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputBuffer, shareOut, type ByteBudget, type OutputLimits } from '../src/emulator/output-buffer.js';

function budget(limit = Infinity) {
  const state = { used: 0, refused: 0 };
  const b: ByteBudget & { state: typeof state } = {
    state,
    request(bytes, force = false) {
      if (!force && state.used + bytes > limit) {
        state.refused++;
        return false;
      }
      state.used += bytes;
      return true;
    },
    release(bytes) {
      state.used -= bytes;
    },
  };
  return b;
}

/** What the lines of a whole stream are: split on LF, CR before it dropped, cut to maxLineLength bytes at a character boundary. */
function reference(bytes: Buffer, maxLineLength: number): Array<{ line: string; truncated: boolean }> {
  const lines: Array<{ line: string; truncated: boolean }> = [];
  let start = 0;
  const take = (from: number, to: number) => {
    let end = to;
    if (end > from && bytes[end - 1] === 13) end--;
    let length = end - from;
    const truncated = length > maxLineLength;
    if (truncated) {
      length = maxLineLength;
      while (length > 0 && (bytes[from + length]! & 0xc0) === 0x80 && maxLineLength - length < 3) length--;
    }
    lines.push({ line: bytes.toString('utf8', from, from + length), truncated });
  };
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10) {
      take(start, i);
      start = i + 1;
    }
  }
  if (start < bytes.length) take(start, bytes.length);
  return lines;
}

/** Bytes cut into chunks at the given points. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) chunks.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  return chunks;
}

const text = fc
  .array(fc.oneof(fc.constantFrom('\n', '\r\n', '\r', 'é', '€', '😀', 'abc'), fc.string({ maxLength: 12 })), { maxLength: 60 })
  .map((parts) => Buffer.from(parts.join('')));

describe('OutputBuffer', () => {
  it('splits lines exactly as a whole-stream split would, in any chunking (newest maxLines kept, the rest counted)', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 4, max: 40 }), (bytes, cuts, maxLines, maxLineLength) => {
        const limits: OutputLimits = { maxLines, maxBytes: 1 << 20, maxLineLength };
        const b = budget();
        const buffer = new OutputBuffer(limits, b);
        const seen: string[] = [];
        for (const chunk of chunked(bytes, cuts)) buffer.append('stdout', chunk, 1, (_s, line) => seen.push(line));
        buffer.endStream('stdout', 2, (_s, line) => seen.push(line));
        const expected = reference(bytes, maxLineLength);
        // A follower sees every line; the buffer keeps the newest.
        expect(seen).toEqual(expected.map((l) => l.line));
        const read = buffer.read('stdout');
        const kept = expected.slice(-maxLines);
        expect(read.lines.map((l) => l.line)).toEqual(kept.map((l) => l.line));
        expect(read.truncated).toBe(kept.filter((l) => l.truncated).length);
        expect(read.omitted).toBe(expected.length - kept.length);
        expect(buffer.dropped()).toBe(expected.length - kept.length);
        expect(b.state.used).toBe(buffer.bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps within maxBytes a suffix of the lines, and counts the rest', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 64, max: 200 }), (bytes, cuts, maxBytes) => {
        const b = budget();
        const buffer = new OutputBuffer({ maxLines: 1000, maxBytes, maxLineLength: 16 }, b);
        for (const chunk of chunked(bytes, cuts)) buffer.append('stderr', chunk, 1);
        buffer.endStream('stderr', 2);
        const expected = reference(bytes, 16).map((l) => l.line);
        const read = buffer.read('stderr');
        const lines = read.lines.map((l) => l.line);
        expect(expected.slice(expected.length - lines.length)).toEqual(lines);
        expect(read.omitted).toBe(expected.length - lines.length);
        expect(read.lines.every((l) => l.stream === 'stderr')).toBe(true);
        buffer.compact();
        expect(b.state.used).toBe(buffer.bytes);
        expect(buffer.bytes).toBeLessThanOrEqual(maxBytes + 1000 * 21);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the streams apart, each with its own partial line, in the order the lines ended', () => {
    const buffer = new OutputBuffer({ maxLines: 100, maxBytes: 1 << 20, maxLineLength: 100 }, budget());
    buffer.append('stdout', Buffer.from('out-a'), 1);
    buffer.append('stderr', Buffer.from('err-a\nerr-'), 2);
    buffer.append('stdout', Buffer.from('\nout-b\n'), 3);
    buffer.endStream('stderr', 4);
    buffer.endStream('stdout', 5);
    expect(buffer.read().lines).toEqual([
      { stream: 'stderr', line: 'err-a', timestamp: 2 },
      { stream: 'stdout', line: 'out-a', timestamp: 3 },
      { stream: 'stdout', line: 'out-b', timestamp: 3 },
      { stream: 'stderr', line: 'err-', timestamp: 4 },
    ]);
    expect(buffer.read('stdout').lines.map((l) => l.line)).toEqual(['out-a', 'out-b']);
    expect(buffer.textBytes('stdout')).toBe('out-a\nout-b\n'.length);
  });

  it('reads within a byte cap: the newest lines that fit, the others counted as omitted', () => {
    const buffer = new OutputBuffer({ maxLines: 100, maxBytes: 1 << 20, maxLineLength: 100 }, budget());
    buffer.append('stdout', Buffer.from('one\ntwo\nthree\n'), 1);
    expect(buffer.read('stdout', 9)).toMatchObject({ lines: [{ line: 'three' }], omitted: 2 });
    expect(buffer.read('stdout', 10)).toMatchObject({ lines: [{ line: 'two' }, { line: 'three' }], omitted: 1 });
    expect(buffer.read('stdout', 0)).toMatchObject({ lines: [], omitted: 3 });
  });

  it('takes a line far over the limit in linear time, holding only the limit', () => {
    const b = budget();
    const buffer = new OutputBuffer({ maxLines: 10, maxBytes: 1 << 20, maxLineLength: 1000 }, b);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const started = performance.now();
    for (let i = 0; i < 800; i++) buffer.append('stdout', chunk, 1); // 50 MiB, one line
    buffer.append('stdout', Buffer.from('\nafter\n'), 2);
    // Generous: the quadratic split took over 50 s for 50 MB; this takes milliseconds.
    expect(performance.now() - started).toBeLessThan(3_000);
    const read = buffer.read();
    expect(read.lines.map((l) => l.line)).toEqual(['x'.repeat(1000), 'after']);
    expect(read.truncated).toBe(1);
    expect(b.state.used).toBeLessThan(200 * 1024);
  });

  it('cuts a line at a character boundary, never inside one', () => {
    const buffer = new OutputBuffer({ maxLines: 10, maxBytes: 1 << 20, maxLineLength: 5 }, budget());
    buffer.append('stdout', Buffer.from('ab€cd\n€€\n'), 1); // € is 3 bytes
    expect(buffer.read().lines.map((l) => l.line)).toEqual(['ab€', '€']);
  });

  it('grows only as far as the budget allows, then drops its own oldest lines', () => {
    const b = budget(100 * 1024);
    const buffer = new OutputBuffer({ maxLines: 1_000_000, maxBytes: 8 << 20, maxLineLength: 1000 }, b);
    const line = Buffer.from(`${'z'.repeat(99)}\n`);
    for (let i = 0; i < 20_000; i++) buffer.append('stdout', line, i);
    expect(b.state.refused).toBeGreaterThan(0);
    expect(buffer.bytes).toBeLessThanOrEqual(100 * 1024 + 1_000_000 * 21);
    const read = buffer.read();
    expect(read.lines.length).toBeGreaterThan(0);
    expect(read.lines.length + read.omitted).toBe(20_000);
    expect(read.lines.at(-1)!.timestamp).toBe(19_999);
  });

  it('gives every byte back on clear, and counts what it held as dropped', () => {
    const b = budget();
    const buffer = new OutputBuffer({ maxLines: 100, maxBytes: 1 << 20, maxLineLength: 100 }, b);
    buffer.append('stdout', Buffer.from('a\nb\nc'), 1);
    buffer.append('stderr', Buffer.from('e\n'), 1);
    buffer.clear();
    expect(b.state.used).toBe(0);
    expect(buffer.read()).toEqual({ lines: [], omitted: 4, truncated: 0 });
    expect(buffer.dropped('stdout')).toBe(3);
  });
});

describe('shareOut', () => {
  it('gives small demands all they ask and splits the rest evenly, never over the total', () => {
    expect(shareOut([10, 1000, 1000], 510)).toEqual([10, 250, 250]);
    expect(shareOut([5, 5], 100)).toEqual([5, 5]);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 10_000 })), fc.nat({ max: 50_000 }), (demands, total) => {
        const shares = shareOut(demands, total);
        expect(shares.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total);
        shares.forEach((s, i) => expect(s).toBeLessThanOrEqual(demands[i]!));
      }),
    );
  });
});
