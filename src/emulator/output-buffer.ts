// The captured output of one process, in bounded memory and linear time.
//
// Bytes from the pipes are split into lines as they arrive and copied once into
// a byte ring of at most `maxBytes`; an index (typed arrays, at most `maxLines`
// entries) says where each line starts, how long it is, when it was read, from
// which stream, and whether it was cut. Nothing is decoded until it is read.
// A partial line is held in a buffer of at most `maxLineLength` bytes: whatever a
// line holds beyond it is counted and discarded while reading, never
// concatenated. The oldest lines go first, and every line that goes is counted
// (`dropped`), so that a reader can say how much it is not shown.
import type { OutputLine, StreamName } from './supervisor.js';

export interface OutputLimits {
  /** Lines kept (older ones are dropped). */
  maxLines: number;
  /** Bytes of the ring that holds the lines (older lines are dropped). */
  maxBytes: number;
  /** Bytes per line (UTF-8; longer lines are cut at a character boundary). */
  maxLineLength: number;
}

/** Where the bytes come from: the emulator's budget, shared by every process. */
export interface ByteBudget {
  /** Asks for `bytes` more; false when they cannot be had. `force` always grants (the minimum a process needs). */
  request(bytes: number, force?: boolean): boolean;
  release(bytes: number): void;
}

export type LineSink = (stream: StreamName, line: string, timestamp: number) => void;

export interface ReadResult {
  lines: OutputLine[];
  /** Lines of the selected streams that exist no more (dropped) or were left out by a byte cap on this read. */
  omitted: number;
  /** Lines returned that were cut at the line length limit. */
  truncated: number;
}

const STDERR = 1;
const TRUNCATED = 2;
/** start (float64), length (uint32), timestamp (float64), flags (uint8). */
const INDEX_ENTRY_BYTES = 21;
const MIN_RING_BYTES = 64 * 1024;
const MIN_INDEX_ENTRIES = 256;
const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

const streamIndex = (stream: StreamName) => (stream === 'stderr' ? 1 : 0);
const streamName = (flags: number): StreamName => (flags & STDERR ? 'stderr' : 'stdout');

/** The longest prefix of `length` bytes of `buf` from `start` that ends on a UTF-8 character boundary. */
function cutAtCharacter(buf: Uint8Array, start: number, length: number): number {
  // The byte at start + length is the first one left out: while it continues a character, that character is cut.
  let n = length;
  while (n > 0 && (buf[start + n]! & 0xc0) === 0x80 && length - n < 3) n--;
  return n;
}

// Newline positions of the chunk being split: shared, since splitting is synchronous.
let newlines = new Int32Array(4096);

/** Every newline of `chunk` from `from`, into `out`, in one pass: memchr (indexOf) while lines are long, a byte loop once they are short. */
function findNewlines(chunk: Buffer, from: number, out: Int32Array): number {
  let n = 0;
  for (let lf = chunk.indexOf(LF, from); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
    out[n++] = lf;
    if (n >= 16 && lf - from < n * 64) {
      for (let i = lf + 1, end = chunk.length; i < end; i++) if (chunk[i] === LF) out[n++] = i;
      break;
    }
  }
  return n;
}

interface Partial {
  buf: Buffer;
  length: number;
  /** Bytes beyond maxLineLength + 1 were discarded. */
  over: boolean;
}

export class OutputBuffer {
  private ring: Buffer = EMPTY;
  /** Absolute byte positions: [tail, write) is live; a position's place in the ring is (position - base) % ring.length. */
  private base = 0;
  private tail = 0;
  private write = 0;
  // The line index, a ring of `capacity` entries starting at `head`.
  private starts = new Float64Array(0);
  private lengths = new Uint32Array(0);
  private times = new Float64Array(0);
  private flags = new Uint8Array(0);
  private head = 0;
  private count = 0;
  private readonly keptLines = [0, 0];
  /** Bytes of the kept lines of each stream, one newline each included (what their text takes). */
  private readonly keptBytes = [0, 0];
  private readonly droppedLines = [0, 0];
  private readonly partials: [Partial | null, Partial | null] = [null, null];
  /** Bytes copied to the ring lazily: a run of whole lines of `runSource` from `runFrom`, placed at `runAt`. */
  private runSource: Buffer | null = null;
  private runFrom = 0;
  private runAt = 0;
  private charged = 0;
  private readonly limits: OutputLimits;

  constructor(
    limits: OutputLimits,
    private readonly budget: ByteBudget,
  ) {
    const maxBytes = Math.max(limits.maxBytes, 64);
    this.limits = { maxBytes, maxLines: Math.max(limits.maxLines, 1), maxLineLength: Math.max(1, Math.min(limits.maxLineLength, maxBytes - 2)) };
  }

  /** Bytes this buffer holds from the budget. */
  get bytes(): number {
    return this.charged;
  }

  /** Lines kept, of one stream or of both. */
  lineCount(stream?: StreamName): number {
    return stream ? this.keptLines[streamIndex(stream)]! : this.count;
  }

  /** Lines that were dropped (the oldest, or lines that could not be kept), of one stream or of both. */
  dropped(stream?: StreamName): number {
    return stream ? this.droppedLines[streamIndex(stream)]! : this.droppedLines[0]! + this.droppedLines[1]!;
  }

  /** Bytes the text of the kept lines of `stream` takes, a newline after each. */
  textBytes(stream: StreamName): number {
    return this.keptBytes[streamIndex(stream)]!;
  }

  /**
   * Splits `chunk` of `stream` into lines and keeps them. `sink`, when given,
   * gets every line in order, also those the limits do not let the buffer keep.
   */
  append(stream: StreamName, chunk: Buffer, timestamp: number, sink?: LineSink): void {
    const s = streamIndex(stream);
    let from = 0;
    if (this.partials[s] && (this.partials[s].length > 0 || this.partials[s].over)) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) return this.extendPartial(s, chunk, 0, chunk.length);
      this.extendPartial(s, chunk, 0, lf);
      this.commitPartial(s, timestamp, sink);
      from = lf + 1;
    }
    if (newlines.length < chunk.length) newlines = new Int32Array(chunk.length);
    const n = findNewlines(chunk, from, newlines);
    const { maxLines, maxBytes, maxLineLength } = this.limits;
    // Lines [0, first) cannot be kept (the chunk's own later lines push them out): they are only counted.
    let first = n;
    let bytes = 0;
    for (let kept = 0; first > 0 && kept < maxLines; kept++) {
      const start = first === 1 ? from : newlines[first - 2]! + 1;
      const whole = newlines[first - 1]! + 1 - start;
      const size = whole > maxLineLength + 2 ? maxLineLength : whole;
      if (bytes + size > maxBytes) break;
      bytes += size;
      first--;
    }
    this.droppedLines[s]! += first;
    const flag = s === 1 ? STDERR : 0;
    // Room for all of them at once, when the budget allows: then each line costs an index entry and nothing else.
    const roomy = first < n && this.makeIndexRoom(n - first) && this.ensure(bytes);
    for (let i = sink ? 0 : first; i < n; i++) {
      const start = i === 0 ? from : newlines[i - 1]! + 1;
      const lf = newlines[i]!;
      const end = lf > start && chunk[lf - 1] === CR ? lf - 1 : lf;
      const length = end - start;
      const cut = length > maxLineLength ? cutAtCharacter(chunk, start, maxLineLength) : length;
      if (sink) sink(stream, chunk.toString('utf8', start, start + cut), timestamp);
      if (i < first) continue;
      if (cut === length) {
        // Whole: stored with its line ending, as part of a run copied at once.
        const size = lf + 1 - start;
        if (!roomy && !this.ensure(size)) {
          this.droppedLines[s]!++;
          continue;
        }
        if (this.runSource === null) {
          this.runSource = chunk;
          this.runFrom = start;
          this.runAt = this.write;
        }
        this.push(this.write, length, timestamp, flag);
        this.write += size;
      } else {
        this.flush();
        this.storeCopy(chunk, start, cut, timestamp, flag | TRUNCATED, s);
      }
    }
    this.flush();
    if (n > 0) from = newlines[n - 1]! + 1;
    if (from < chunk.length) this.extendPartial(s, chunk, from, chunk.length);
  }

  /** The end of a stream: its partial line, if any, becomes a line. */
  endStream(stream: StreamName, timestamp: number, sink?: LineSink): void {
    const s = streamIndex(stream);
    const partial = this.partials[s];
    if (partial && (partial.length > 0 || partial.over)) this.commitPartial(s, timestamp, sink);
    if (partial) {
      this.budget.release(partial.buf.length);
      this.charged -= partial.buf.length;
      this.partials[s] = null;
    }
  }

  /** Gives back what a finished process does not need: the ring and the index shrink to what they hold. */
  compact(): void {
    for (const s of [0, 1] as const) if (this.partials[s]) this.endStream(s === 0 ? 'stdout' : 'stderr', Date.now());
    const used = this.write - this.tail;
    // Copied into a ring of its own size only where that saves a quarter: a copy costs memory too, for a moment.
    if (used < this.ring.length * 0.75) {
      const ring = used === 0 ? EMPTY : Buffer.allocUnsafeSlow(used);
      this.copyOut(this.tail, used, ring, 0);
      this.release(this.ring.length - used);
      this.ring = ring;
      this.base = this.tail;
    }
    if (this.count < this.starts.length) this.resizeIndex(this.count);
  }

  /** Drops every line (counted) and gives all the bytes back. */
  clear(): void {
    this.droppedLines[0]! += this.keptLines[0]!;
    this.droppedLines[1]! += this.keptLines[1]!;
    this.keptLines[0] = this.keptLines[1] = 0;
    this.keptBytes[0] = this.keptBytes[1] = 0;
    for (const s of [0, 1] as const) {
      const partial = this.partials[s];
      if (partial && (partial.length > 0 || partial.over)) this.droppedLines[s]!++;
      this.partials[s] = null;
    }
    this.ring = EMPTY;
    this.base = this.tail = this.write;
    this.starts = new Float64Array(0);
    this.lengths = new Uint32Array(0);
    this.times = new Float64Array(0);
    this.flags = new Uint8Array(0);
    this.head = this.count = 0;
    this.budget.release(this.charged);
    this.charged = 0;
  }

  /**
   * The kept lines of `stream` (or of both), oldest first; with `maxBytes`, only
   * the newest whose text (a newline after each) fits in it.
   */
  read(stream?: StreamName, maxBytes = Infinity): ReadResult {
    const wanted = stream === undefined ? -1 : streamIndex(stream);
    const capacity = this.starts.length;
    // From the newest back, to find where a byte cap starts.
    let firstEntry = this.count;
    let bytes = 0;
    let taken = 0;
    for (let k = this.count - 1; k >= 0; k--) {
      const j = (this.head + k) % capacity;
      if (wanted !== -1 && (this.flags[j]! & STDERR) !== wanted) continue;
      const size = this.lengths[j]! + 1;
      if (bytes + size > maxBytes) break;
      bytes += size;
      taken++;
      firstEntry = k;
    }
    const lines: OutputLine[] = [];
    let truncated = 0;
    for (let k = firstEntry; k < this.count && lines.length < taken; k++) {
      const j = (this.head + k) % capacity;
      const flags = this.flags[j]!;
      if (wanted !== -1 && (flags & STDERR) !== wanted) continue;
      if (flags & TRUNCATED) truncated++;
      lines.push({ stream: streamName(flags), line: this.decode(this.starts[j]!, this.lengths[j]!), timestamp: this.times[j]! });
    }
    const kept = wanted === -1 ? this.count : this.keptLines[wanted]!;
    return { lines, omitted: this.dropped(stream) + kept - lines.length, truncated };
  }

  // --- inside ---------------------------------------------------------------------------

  private release(bytes: number): void {
    this.budget.release(bytes);
    this.charged -= bytes;
  }

  private extendPartial(s: number, chunk: Buffer, from: number, to: number): void {
    // One byte beyond the limit is kept, so that a CR there can still be told from a cut.
    const limit = this.limits.maxLineLength + 1;
    let partial = this.partials[s];
    if (!partial) {
      const size = Math.min(limit, Math.max(256, to - from));
      this.budget.request(size, true);
      this.charged += size;
      partial = this.partials[s] = { buf: Buffer.allocUnsafeSlow(size), length: 0, over: false };
    }
    const room = limit - partial.length;
    const take = Math.min(room, to - from);
    if (take < to - from) partial.over = true;
    if (take <= 0) return;
    if (partial.length + take > partial.buf.length) {
      const size = Math.min(limit, Math.max(partial.buf.length * 2, partial.length + take));
      const larger = Buffer.allocUnsafeSlow(size);
      partial.buf.copy(larger, 0, 0, partial.length);
      this.budget.request(size - partial.buf.length, true);
      this.charged += size - partial.buf.length;
      partial.buf = larger;
    }
    chunk.copy(partial.buf, partial.length, from, from + take);
    partial.length += take;
  }

  private commitPartial(s: number, timestamp: number, sink: LineSink | undefined): void {
    const partial = this.partials[s]!;
    const { maxLineLength } = this.limits;
    let length = partial.length;
    if (!partial.over && length > 0 && partial.buf[length - 1] === CR) length--;
    const truncated = partial.over || length > maxLineLength;
    const cut = truncated ? cutAtCharacter(partial.buf, 0, Math.min(length, maxLineLength)) : length;
    const stream: StreamName = s === 1 ? 'stderr' : 'stdout';
    if (sink) sink(stream, partial.buf.toString('utf8', 0, cut), timestamp);
    this.storeCopy(partial.buf, 0, cut, timestamp, (s === 1 ? STDERR : 0) | (truncated ? TRUNCATED : 0), s);
    partial.length = 0;
    partial.over = false;
  }

  /** Copies one line into the ring now (no run is open). */
  private storeCopy(source: Buffer, start: number, length: number, timestamp: number, flags: number, s: number): void {
    if (!this.ensure(length)) {
      this.droppedLines[s]!++;
      return;
    }
    this.copyIn(source, start, length, this.write);
    this.push(this.write, length, timestamp, flags);
    this.write += length;
  }

  /** Room for `size` more bytes: by growing within the budget, else by dropping the oldest lines. */
  private ensure(size: number): boolean {
    const { maxBytes } = this.limits;
    if (this.ring.length - (this.write - this.tail) >= size) return true;
    this.flush();
    const used = this.write - this.tail;
    if (this.ring.length < maxBytes) {
      const needed = Math.min(maxBytes, used + size);
      const minimum = Math.min(maxBytes, Math.max(MIN_RING_BYTES, this.limits.maxLineLength + 2));
      const wanted = Math.min(maxBytes, Math.max(this.ring.length * 2, needed, minimum));
      const current = this.ring.length;
      if (current < minimum && this.budget.request(minimum - current, true)) {
        // The minimum every process gets, whatever the others hold.
        this.charged += minimum - current;
        this.resizeRing(minimum);
      }
      if (wanted > this.ring.length && this.budget.request(wanted - this.ring.length)) {
        this.charged += wanted - this.ring.length;
        this.resizeRing(wanted);
      } else if (needed > this.ring.length && this.budget.request(needed - this.ring.length)) {
        this.charged += needed - this.ring.length;
        this.resizeRing(needed);
      }
    }
    while (this.ring.length - (this.write - this.tail) < size && this.count > 0) this.evictOldest();
    if (this.count === 0) this.tail = this.write;
    return this.ring.length - (this.write - this.tail) >= size;
  }

  private resizeRing(size: number): void {
    const used = this.write - this.tail;
    const ring = Buffer.allocUnsafeSlow(size);
    this.copyOut(this.tail, used, ring, 0);
    this.ring = ring;
    this.base = this.tail;
  }

  /** Copies the open run into the ring: only what is still live (the index may have let its first lines go). */
  private flush(): void {
    if (this.runSource === null) return;
    const at = Math.max(this.runAt, this.tail);
    const length = this.write - at;
    if (length > 0) this.copyIn(this.runSource, this.runFrom + (at - this.runAt), length, at);
    this.runSource = null;
  }

  private copyIn(source: Buffer, start: number, length: number, at: number): void {
    const size = this.ring.length;
    if (length === 0 || size === 0) return;
    const place = (at - this.base) % size;
    const first = Math.min(length, size - place);
    source.copy(this.ring, place, start, start + first);
    if (length > first) source.copy(this.ring, 0, start + first, start + length);
  }

  private copyOut(at: number, length: number, target: Buffer, targetStart: number): void {
    const size = this.ring.length;
    if (length === 0 || size === 0) return;
    const place = (at - this.base) % size;
    const first = Math.min(length, size - place);
    this.ring.copy(target, targetStart, place, place + first);
    if (length > first) this.ring.copy(target, targetStart + first, 0, length - first);
  }

  private decode(at: number, length: number): string {
    if (length === 0) return '';
    const size = this.ring.length;
    const place = (at - this.base) % size;
    if (place + length <= size) return this.ring.toString('utf8', place, place + length);
    const joined = Buffer.allocUnsafe(length);
    this.copyOut(at, length, joined, 0);
    return joined.toString('utf8');
  }

  /** Makes the index hold `lines` more without evicting: the oldest go now, all at once where all must go. */
  private makeIndexRoom(lines: number): boolean {
    const { maxLines } = this.limits;
    const excess = this.count + lines - maxLines;
    if (excess >= this.count) {
      this.droppedLines[0]! += this.keptLines[0]!;
      this.droppedLines[1]! += this.keptLines[1]!;
      this.keptLines[0] = this.keptLines[1] = this.keptBytes[0] = this.keptBytes[1] = 0;
      this.head = this.count = 0;
      this.tail = this.write;
    } else {
      for (let k = 0; k < excess; k++) this.evictOldest();
    }
    if (this.starts.length < this.count + lines) this.resizeIndex(Math.min(maxLines, Math.max(MIN_INDEX_ENTRIES, this.starts.length * 2, this.count + lines)));
    return true;
  }

  private push(at: number, length: number, timestamp: number, flags: number): void {
    if (this.count === this.starts.length) {
      if (this.starts.length < this.limits.maxLines) {
        this.resizeIndex(Math.min(this.limits.maxLines, Math.max(MIN_INDEX_ENTRIES, this.starts.length * 2)));
      } else {
        this.evictOldest();
      }
    }
    const j = (this.head + this.count) % this.starts.length;
    this.starts[j] = at;
    this.lengths[j] = length;
    this.times[j] = timestamp;
    this.flags[j] = flags;
    this.count++;
    const s = flags & STDERR;
    this.keptLines[s]!++;
    this.keptBytes[s]! += length + 1;
  }

  private evictOldest(): void {
    const j = this.head;
    const s = this.flags[j]! & STDERR;
    this.keptLines[s]!--;
    this.keptBytes[s]! -= this.lengths[j]! + 1;
    this.droppedLines[s]!++;
    this.head = (this.head + 1) % this.starts.length;
    this.count--;
    this.tail = this.count > 0 ? this.starts[this.head]! : this.write;
  }

  private resizeIndex(entries: number): void {
    const delta = (entries - this.starts.length) * INDEX_ENTRY_BYTES;
    if (delta > 0) this.budget.request(delta, true);
    else this.budget.release(-delta);
    this.charged += delta;
    const starts = new Float64Array(entries);
    const lengths = new Uint32Array(entries);
    const times = new Float64Array(entries);
    const flags = new Uint8Array(entries);
    for (let k = 0; k < this.count; k++) {
      const j = (this.head + k) % this.starts.length;
      starts[k] = this.starts[j]!;
      lengths[k] = this.lengths[j]!;
      times[k] = this.times[j]!;
      flags[k] = this.flags[j]!;
    }
    this.starts = starts;
    this.lengths = lengths;
    this.times = times;
    this.flags = flags;
    this.head = 0;
  }
}

/** Response headers that say what an answer does not show: never in the provider's body, which holds only real output. */
export const DROPPED_LINES_HEADER = 'x-sandbox-procs-dropped-lines';
export const TRUNCATED_LINES_HEADER = 'x-sandbox-procs-truncated-lines';

export function truncationHeaders(omitted: number, truncated: number): Record<string, string> {
  return { [DROPPED_LINES_HEADER]: String(omitted), [TRUNCATED_LINES_HEADER]: String(truncated) };
}

/** Remembers the output a provider forgot (evicted records): a bounded map, oldest forgotten first. */
export class EvictedOutput {
  private readonly dropped = new Map<number, number>();
  constructor(private readonly capacity = 4096) {}
  remember(pid: number, lines: number): void {
    this.dropped.delete(pid);
    this.dropped.set(pid, lines);
    if (this.dropped.size > this.capacity) this.dropped.delete(this.dropped.keys().next().value!);
  }
  forget(pid: number): void {
    this.dropped.delete(pid);
  }
  /** Lines of `pid` that are gone, or undefined when the PID was never evicted. */
  linesOf(pid: number): number | undefined {
    return this.dropped.get(pid);
  }
}

/**
 * Shares `total` bytes among demands, fairly (max-min): small demands get all
 * they ask for, the rest split what is left equally. For a list that embeds
 * every process's output, so that its size is bounded.
 */
export function shareOut(demands: readonly number[], total: number): number[] {
  const order = demands.map((_, i) => i).sort((a, b) => demands[a]! - demands[b]!);
  const shares = new Array<number>(demands.length).fill(0);
  let left = total;
  order.forEach((i, k) => {
    shares[i] = Math.min(demands[i]!, Math.floor(left / (order.length - k)));
    left -= shares[i]!;
  });
  return shares;
}
