/**
 * Keeps a mailbox under Exchange's messages-a-minute limit over any sliding window.
 *
 * nodemailer's own `rateLimit` counts in fixed windows: a burst at the end of one window and
 * another at the start of the next put twice the limit into sixty seconds, which a server that
 * counts a sliding window refuses. A send holds its slot until it completes and is counted from
 * then, so the server, which sees it earlier, never counts more than the limit in its own window.
 */
export class SlidingWindowPacer {
  /** Completion times, oldest first, from `oldest` on: a moving start keeps pruning O(1) at any limit. */
  private completions: number[] = [];
  private oldest = 0;
  /** Each waiting send: called with nothing when it gets its slot, with an error when the pacer closes. */
  private readonly waiting: ((closed?: Error) => void)[] = [];
  private closed = false;
  private inFlight = 0;
  private wakeUp: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: number,
    private readonly windowInMs = 60_000,
  ) {}

  /** Waits for a slot; the returned function gives it back when the send has completed. */
  acquire(): Promise<() => void> {
    if (this.closed) return Promise.reject(new Error('The mailbox transport is closed.'));
    return new Promise((resolve, reject) => {
      this.waiting.push((closed) => (closed ? reject(closed) : resolve(this.releaser())));
      this.drain();
    });
  }

  /**
   * Fails every send still waiting for a slot: once its transport is closed nothing more is sent,
   * and a wake-up timer up to a window away would keep the process alive for nothing.
   */
  close(): void {
    clearTimeout(this.wakeUp);
    this.wakeUp = undefined;
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter(new Error('The mailbox transport was closed before this send got its slot.'));
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.completions.push(Date.now());
      this.drain();
    };
  }

  private drain(): void {
    const now = Date.now();
    while (this.oldest < this.completions.length && this.completions[this.oldest]! <= now - this.windowInMs) this.oldest++;
    if (this.oldest > 1024 && this.oldest * 2 > this.completions.length) {
      this.completions = this.completions.slice(this.oldest);
      this.oldest = 0;
    }
    const recent = this.completions.length - this.oldest;
    while (this.waiting.length > 0 && this.inFlight + recent < this.limit) {
      this.inFlight++;
      this.waiting.shift()!();
    }
    if (this.waiting.length > 0 && recent > 0 && !this.wakeUp) {
      this.wakeUp = setTimeout(() => {
        this.wakeUp = undefined;
        this.drain();
      }, this.completions[this.oldest]! + this.windowInMs - now);
    }
  }
}
