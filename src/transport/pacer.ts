/**
 * Keeps a mailbox under Exchange's messages-a-minute limit over any sliding window.
 *
 * nodemailer's own `rateLimit` counts in fixed windows: a burst at the end of one window and
 * another at the start of the next put twice the limit into sixty seconds, which a server that
 * counts a sliding window refuses. A send holds its slot until it completes and is counted from
 * then, so the server, which sees it earlier, never counts more than the limit in its own window.
 */
export class SlidingWindowPacer {
  private readonly completions: number[] = [];
  private readonly waiting: (() => void)[] = [];
  private inFlight = 0;
  private wakeUp: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: number,
    private readonly windowInMs = 60_000,
  ) {}

  /** Waits for a slot; the returned function gives it back when the send has completed. */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push(() => resolve(this.releaser()));
      this.drain();
    });
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
    while (this.completions.length > 0 && this.completions[0]! <= now - this.windowInMs) this.completions.shift();
    while (this.waiting.length > 0 && this.inFlight + this.completions.length < this.limit) {
      this.inFlight++;
      this.waiting.shift()!();
    }
    if (this.waiting.length > 0 && this.completions.length > 0 && !this.wakeUp) {
      this.wakeUp = setTimeout(() => {
        this.wakeUp = undefined;
        this.drain();
      }, this.completions[0]! + this.windowInMs - now);
    }
  }
}
