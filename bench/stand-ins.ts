import type { ExchangeLimits } from '../local/sandbox/index.js';
import { startSandbox, type Sandbox } from '../local/sandbox/index.js';

export type Variant = 'exosend' | 'floor' | 'baseline';

/** What a sender needs to know of the stand-ins: where they are and the app's registration. */
export interface StandInInfo {
  /** The app settings that point exosend at the stand-ins. */
  settings: Record<string, string>;
  tenantId: string;
  clientId: string;
  /** The client secret, as the support article's script holds it in its code. */
  secret: string;
  authorityHost: string;
  smtp: { host: string; port: number };
  /**
   * A mailbox per variant: Exchange counts its 3 sessions per mailbox, and the floor's pool, idle
   * between its batches, would otherwise hold sessions that exosend's needs.
   */
  mailboxes: Record<Variant, string>;
}

/** What the stand-ins counted: what Entra, Key Vault and Exchange would see of a run. */
export interface StandInCounts {
  tokenRequests: number;
  openIdConfigRequests: number;
  managedIdentityRequests: number;
  vaultReads: number;
  smtpConnections: number;
  smtpAuthentications: number;
  accepted: number;
  maxConcurrentSessions: number;
  replies432: number;
  /** The stand-in's answer past the per-minute limit (450 4.7.0). */
  repliesRateLimit: number;
  /** Every other 4xx and 5xx, as `code text`. */
  otherReplies: string[];
}

/** The operations the benchmark asks of the stand-ins between its batches. */
export interface StandInOperations {
  setLimits(limits: Partial<ExchangeLimits>): void;
  /** Forgets what was counted and accepted, so the next batch is counted alone and costs the stand-ins the same. */
  reset(): void;
  /** `mailbox`: whose sessions to count (default: the busiest mailbox's). */
  counts(mailbox?: string): StandInCounts;
  /** When Exchange accepted each message since the last reset, ms since the epoch, ascending. */
  acceptedTimes(): number[];
  /** The same, per authenticating mailbox. */
  acceptedTimesByMailbox(): Record<string, number[]>;
  /** What the Graph stand-in counted since it started (requests, accepted, its error answers as `status code`). */
  graphCounts(): { requests: number; accepted: number; errors: string[] };
}

/** Mailboxes the app has FullAccess on, for the scale-out section (listed in EXOSEND_MAILBOXES there). */
export const scaleOutMailboxes = [
  'scale-0@contoso.example',
  'scale-1@contoso.example',
  'scale-2@contoso.example',
  'scale-3@contoso.example',
];

/** The stand-ins (identity platform, Key Vault, Exchange) set up for throughput: no rate limit, no daily quota. */
export async function startStandIns(): Promise<{
  info: StandInInfo;
  operations: StandInOperations;
  close(): Promise<void>;
}> {
  const sandbox = await startSandbox();
  const { exchange, identity, vault, app, graph } = sandbox;
  const mailboxes = { exosend: app.mailbox, floor: 'floor@contoso.example', baseline: 'baseline@contoso.example' };
  for (const mailbox of [mailboxes.floor, mailboxes.baseline, ...scaleOutMailboxes]) {
    exchange.addMailbox(mailbox, { tenantId: app.tenantId });
    exchange.grantFullAccess(mailbox, app.clientId);
  }
  // a benchmark sends far more than Exchange's 10,000 recipients a day
  for (const mailbox of [...Object.values(mailboxes), ...scaleOutMailboxes])
    exchange.configureMailbox(mailbox, { dailyRecipientQuota: Number.MAX_SAFE_INTEGER });
  exchange.setLimits({ messagesPerMinute: 0, maxSessionsPerMailbox: 3 });

  const operations: StandInOperations = {
    setLimits: (limits) => exchange.setLimits(limits),
    reset() {
      identity.resetCounters();
      vault.resetCounters();
      exchange.resetCounters();
      exchange.resetUsage();
      exchange.messages.length = 0;
    },
    counts: (mailbox) => countStandIns(sandbox, mailbox),
    acceptedTimes: () => exchange.messages.map((m) => m.receivedAt.getTime()).sort((a, b) => a - b),
    acceptedTimesByMailbox: () => {
      const byMailbox: Record<string, number[]> = {};
      for (const m of exchange.messages) (byMailbox[m.mailbox] ??= []).push(m.receivedAt.getTime());
      for (const times of Object.values(byMailbox)) times.sort((a, b) => a - b);
      return byMailbox;
    },
    graphCounts: () => ({
      requests: graph.counters.requests,
      accepted: graph.counters.accepted,
      errors: graph.counters.errors.map((e) => `${e.status} ${e.code}`),
    }),
  };
  const info: StandInInfo = {
    settings: sandbox.settings,
    tenantId: app.tenantId,
    clientId: app.clientId,
    secret: app.secret,
    authorityHost: identity.authorityHost,
    smtp: { host: exchange.host, port: exchange.port },
    mailboxes,
  };
  return { info, operations, close: () => sandbox.close() };
}

function countStandIns({ identity, vault, exchange }: Sandbox, mailbox?: string): StandInCounts {
  const replies = exchange.counters.replies;
  const sessions = exchange.counters.maxConcurrentSessions;
  return {
    tokenRequests: identity.counters.tokenRequests,
    openIdConfigRequests: identity.counters.openIdConfigRequests,
    managedIdentityRequests: identity.counters.managedIdentityRequests,
    vaultReads: vault.reads,
    smtpConnections: exchange.counters.connections,
    smtpAuthentications: exchange.counters.authSuccesses,
    accepted: exchange.counters.accepted,
    maxConcurrentSessions: mailbox ? (sessions[mailbox.toLowerCase()] ?? 0) : Math.max(0, ...Object.values(sessions)),
    replies432: replies.filter((r) => r.code === 432).length,
    repliesRateLimit: replies.filter((r) => r.code === 450).length,
    otherReplies: replies.filter((r) => r.code !== 432 && r.code !== 450).map((r) => `${r.code} ${r.text}`),
  };
}
