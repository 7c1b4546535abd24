// A queue between one producer and one consumer that holds at most `maxBytes`:
// past it, the producer's push waits until the consumer takes, so a slow consumer
// holds the producer back (and, behind it, the socket) instead of growing memory.
export class BoundedQueue<T> implements AsyncIterable<T> {
  private readonly items: Array<{ item: T; size: number }> = [];
  private held = 0;
  private ended = false;
  private failure: unknown;
  private failed = false;
  private taker: (() => void) | undefined;
  private pusher: (() => void) | undefined;

  constructor(private readonly maxBytes: number) {}

  /** Bytes queued and not yet taken. */
  get heldBytes(): number {
    return this.held;
  }

  /** Queues `item`; resolves once the queue has room again (at once while under the bound). */
  async push(item: T, size: number): Promise<void> {
    if (this.ended) return;
    this.items.push({ item, size });
    this.held += size;
    this.wakeTaker();
    while (this.held >= this.maxBytes && !this.ended) await new Promise<void>((resolve) => (this.pusher = resolve));
  }

  /**
   * No more items: the iteration ends after the queued ones, or then fails with
   * `error`; with `immediate`, it fails at once and the queued items are dropped.
   */
  end(error?: unknown, immediate = false): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) {
      this.failed = true;
      this.failure = error;
      if (immediate) {
        this.items.length = 0;
        this.held = 0;
      }
    }
    this.wakeTaker();
    this.wakePusher();
  }

  private wakeTaker(): void {
    const taker = this.taker;
    this.taker = undefined;
    taker?.();
  }

  private wakePusher(): void {
    const pusher = this.pusher;
    this.pusher = undefined;
    pusher?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        this.held -= next.size;
        if (this.held < this.maxBytes) this.wakePusher();
        yield next.item;
        continue;
      }
      if (this.failed) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.taker = resolve));
    }
  }
}
