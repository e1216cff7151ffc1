/** Accepted submissions per mailbox, for the sliding per-minute limit and the rolling 24-hour recipient quota. */
export class SubmissionLog {
  /** The rolling day: 24 hours, as Exchange counts; shorter only in tests and the bench. */
  dayInMs = 24 * 60 * 60 * 1000;
  private readonly entries = new Map<string, { at: number; recipients: number }[]>();

  record(mailbox: string, recipients: number): void {
    const list = this.prune(mailbox);
    list.push({ at: Date.now(), recipients });
  }

  messagesSince(mailbox: string, windowInMs: number): number {
    const since = Date.now() - windowInMs;
    return this.prune(mailbox).filter((e) => e.at > since).length;
  }

  recipientsInLastDay(mailbox: string): number {
    return this.prune(mailbox).reduce((sum, e) => sum + e.recipients, 0);
  }

  clear(): void {
    this.entries.clear();
  }

  private prune(mailbox: string): { at: number; recipients: number }[] {
    const key = mailbox.toLowerCase();
    const dayAgo = Date.now() - this.dayInMs;
    const list = (this.entries.get(key) ?? []).filter((e) => e.at > dayAgo);
    this.entries.set(key, list);
    return list;
  }
}
