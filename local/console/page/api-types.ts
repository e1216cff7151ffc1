// What the page reads from the console's calls (console-server.ts) and from the app's own answers,
// as far as it reads them. The server's types (outbox.ts, dead-letters.ts, src/health) are Node
// code; these are the page's side of the same JSON, kept beside the views that read it.

export interface Session {
  mode: string;
  sandbox: boolean;
  baseUrl: string;
  functionKey: string;
  mailbox: string | null;
  allowedSenders: string[];
  scenario: string;
  scenarios: { name: string; description: string }[];
  deadLetters: boolean;
  /** The app has storage: the Callers view reads the caller policies and the budget's ledger there. */
  callers: boolean;
  callerAuth: 'key' | 'entra' | 'both';
}

/** local/console/outbox-callers.ts, OutboxCaller: who sent a message, by its record. */
export interface OutboxCaller {
  id: string;
  name: string;
}

/** local/console/outbox.ts, OutboxSummary; `fresh` is the page's own mark for a row just arrived. */
export interface OutboxSummary {
  id: string;
  receivedAt: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  sizeBytes: number;
  messageId: string;
  /** exosend's id (the ENVID it sent with); absent when the message asked for no DSN. */
  exosendId?: string;
  /** The caller its record names; absent when exosend keeps no record of it. */
  caller?: OutboxCaller;
  fresh?: boolean;
}

/** local/console/outbox.ts, OutboxDetail. */
export interface OutboxDetail extends OutboxSummary {
  envelope: { mailFrom: string; rcptTo: string[] };
  mailbox: string;
  headers: { name: string; value: string }[];
  text: string | null;
  hasHtml: boolean;
  attachments: { index: number; filename: string; contentType: string; sizeBytes: number }[];
}

/** src/diagnosis/diagnosis.ts, Diagnosis. */
export interface Diagnosis {
  code: string;
  stage: string;
  smtp?: string;
  cause: string;
  fix: string;
  retryable: boolean;
}

/** A refused field of a mail request (RequestRejected's details). */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * local/console/dead-letters.ts, DeadLetterView. The letter is whatever JSON was on the poison
 * queue: every field is read as possibly missing or of another type.
 */
export interface DeadLetterView {
  messageId: string;
  letter?: {
    id?: unknown;
    code?: string;
    failedAt?: string;
    attempts?: number;
    reason?: unknown;
    request?: unknown;
    diagnosis?: Diagnosis;
    details?: unknown;
    history?: unknown;
  };
  raw?: string;
  notRequeueable?: string;
}

/** src/queue/requeue.ts, RequeueOutcome. */
export type RequeueOutcome = { kind: 'requeued'; id: string } | { kind: 'not-failed'; id: string; status: string };

export interface StageResult {
  stage: string;
  ok: boolean;
  durationMs: number;
}

/** GET /api/health's answer, with the HTTP status the console adds. */
export interface Health {
  httpStatus: number;
  status: 'healthy' | 'unhealthy';
  lastCheck: {
    startedAt: string;
    durationMs: number;
    mode?: 'send' | 'auth';
    ok: boolean;
    failedStage?: string;
    stages: StageResult[];
    diagnosis?: Diagnosis;
    problem?: string;
    secretDaysLeft?: number;
  } | null;
  preflight: { stages: StageResult[]; diagnosis?: Diagnosis; problem?: string };
}

/** An error answer of the app (src/http/error-response.ts). */
export interface AppError {
  code: string;
  message: string;
  diagnosis?: Diagnosis;
  details?: FieldProblem[];
}

/** GET /api/messages/{id}: the status record of a queued request. */
export interface MessageRecord {
  status?: string;
  attempts?: number;
  diagnosis?: Diagnosis;
  /** src/queue/message-view.ts: what became of each recipient. */
  delivery?: { recipients: RecipientDelivery[] };
}

/** src/mail/recipient-delivery.ts, RecipientDelivery. */
export interface RecipientDelivery {
  recipient: string;
  status: 'pending' | 'delivered' | 'delayed' | 'failed' | 'quarantined' | 'filtered' | 'unknown';
  statusCode?: string;
  diagnosis?: string;
  detail?: string;
  at: string;
  source: string;
}

/** local/console/callers.ts, CallerView (a policy, and its use of each mailbox). */
export interface CallerView {
  appId: string;
  displayName: string;
  senders: string[];
  recipients: string[];
  dailyQuota?: number;
  share: number;
  operator: boolean;
  keyHolders: boolean;
  mailboxes: {
    mailbox: string;
    dayUsed: number;
    dailyQuota?: number;
    dayRemaining?: number;
    minuteUsed: number;
    minuteShare: number;
    minuteLimit: number;
    windowSeconds: number;
  }[];
}

/** src/queue/suppression-list.ts, Suppression. */
export interface Suppression {
  recipient: string;
  reason: string;
  statusCode?: string;
  id?: string;
  at: string;
}
