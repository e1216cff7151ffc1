import { z } from 'zod';
import { budgetLimits, type BudgetUsage } from '../budget/budget.js';
import { budgetDiagnosisCodes, type BudgetDiagnosis } from '../budget/budget-diagnosis.js';
import { credentialKinds } from '../config/load-config.js';
import { bounceCodes } from '../diagnosis/bounce-diagnosis.js';
import { diagnosisCodes, stages } from '../diagnosis/diagnosis.js';
import type { HealthCheckResult } from '../health/health-result.js';
import type { Preflight } from '../health/health-status.js';
import type { TransportBudgetUsage } from '../health/transport-budgets.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';
import { deliverySources, recipientStatuses } from '../mail/recipient-delivery.js';
import type { MessageView } from '../queue/message-view.js';
import { errorCodes } from './error-response.js';

// What the HTTP functions answer, as schemas for the OpenAPI document. Objects are not strict: a
// caller must accept fields added later. test/openapi.test.ts holds real answers against them, and
// where the code has a type for an answer, the compiler holds the schema to it (sameShape, below).

export const diagnosisCodeSchema = z
  .enum(diagnosisCodes)
  .meta({ description: 'A stable code from the diagnosis catalogue (src/diagnosis/catalogue.ts).' });

export const diagnosisSchema = z.object({
  code: diagnosisCodeSchema,
  stage: z.enum(stages).meta({ description: 'The step of the chain that failed.' }),
  smtp: z.string().optional().meta({
    description: 'The raw reply from Exchange, Entra or Key Vault, secrets removed. Operators only (docs/callers.md).',
  }),
  cause: z.string().optional().meta({
    description: 'Why, in words an admin can act on. Operators and function-key callers only (docs/callers.md).',
  }),
  fix: z.string().optional().meta({
    description:
      "What an admin does about it, with the app's own IDs filled in. Operators and function-key callers only (docs/callers.md).",
  }),
  retryable: z.boolean(),
  retryAfterSeconds: z.number().int().optional(),
});

export const budgetDiagnosisSchema = z.object({
  code: z.enum(budgetDiagnosisCodes).meta({
    description:
      "Which of the mailbox's limits is spent: the minute's messages, the rolling day's recipients, or its SMTP sessions.",
  }),
  limit: z.enum(budgetLimits),
  mailbox: z
    .string()
    .meta({ description: 'The mailbox whose budget is spent, counted across every instance of exosend.' }),
  cause: z.string().optional().meta({ description: 'Operators and function-key callers only.' }),
  fix: z.string().optional().meta({ description: 'Operators and function-key callers only.' }),
  retryable: z.literal(true),
  retryAfterSeconds: z
    .number()
    .int()
    .meta({ description: 'When the budget is expected to have room again, as in Retry-After.' }),
});

const fieldProblemSchema = z.object({
  path: z.string().meta({
    description:
      'Where in the request, as a caller writes it: `to[1]`, `attachments[0].contentBase64`; empty for the body as a whole.',
  }),
  message: z.string(),
});

export const errorSchema = z.object({
  error: z.object({
    code: z.enum(errorCodes).meta({
      description:
        'INVALID_REQUEST, SENDER_NOT_ALLOWED, ... for a refused request; a diagnosis code when Exchange, Entra or Key Vault refused; MAILBOX_BUDGET_SPENT (429); STORAGE_UNAVAILABLE, CONFIGURATION_INVALID, NOT_FOUND; CALLER_UNAUTHENTICATED, CALLER_TOKEN_..., CALLER_ROLE_MISSING, CALLER_NOT_REGISTERED, CALLER_KEYS_UNAVAILABLE when the caller itself is refused (401, 403, 503).',
    }),
    message: z.string().meta({
      description:
        "What happened. To a caller that is not an operator, a short sentence that names nothing of exosend's setup (docs/callers.md).",
    }),
    retryable: z.boolean().optional().meta({ description: 'Whether the same request may succeed later.' }),
    retryAfterSeconds: z.number().int().optional().meta({ description: 'As in Retry-After, when there is one.' }),
    details: z.array(fieldProblemSchema).optional(),
    diagnosis: z.union([diagnosisSchema, budgetDiagnosisSchema]).optional().meta({
      description:
        'Why Exchange, Entra or Key Vault refused (Diagnosis), or which budget is spent (BudgetDiagnosis, with 429).',
    }),
    existing: z
      .object({ id: z.string(), status: z.string() })
      .optional()
      .meta({ description: 'IDEMPOTENCY_KEY_REUSED: the request the key already names.' }),
  }),
});

export const sendResultSchema = z.object({
  id: z.string().meta({ description: 'The idempotencyKey, or a generated id; the Message-ID is derived from it.' }),
  messageId: z.string().meta({ description: 'The Message-ID header Exchange accepted, angle brackets included.' }),
  accepted: z.array(z.string()),
  rejected: z.array(z.string()),
  response: z
    .string()
    .meta({ description: "Exchange's reply to the message, such as `250 2.0.0 OK ...`, or Graph's `202 Accepted`." }),
  transport: z
    .enum(['smtp', 'graph'])
    .meta({ description: 'Which way the message left: SMTP AUTH, or Microsoft Graph sendMail (EXOSEND_TRANSPORT).' }),
  suppressed: z
    .array(z.object({ recipient: z.string(), code: z.literal('RECIPIENT_SUPPRESSED'), reason: z.string() }))
    .optional()
    .meta({
      description: 'Recipients left out because they hard-bounced before (the others went); only when there are any.',
    }),
});

const messageStatusValue = z.enum(['queued', 'sending', 'sent', 'failed']);

export const enqueueAcceptedSchema = z.object({
  id: z.string(),
  status: messageStatusValue.meta({
    description: '`queued` for a new request; where it stands when the idempotencyKey was enqueued before.',
  }),
});

const attemptSchema = z.object({ at: z.string(), code: z.string() });

export const messageStatusSchema = z.object({
  id: z.string(),
  status: messageStatusValue,
  attempts: z.number().int(),
  messageId: z.string().optional(),
  diagnosis: diagnosisSchema.optional(),
  reason: z
    .string()
    .optional()
    .meta({ description: 'Why it failed when no diagnosis applies (it was never a valid request).' }),
  history: z.array(attemptSchema),
  mailbox: z.string().optional().meta({ description: 'The mailbox that sent it.' }),
  sentAt: z.string().optional().meta({ description: 'When Exchange accepted it.' }),
  delivery: z
    .object({ recipients: z.array(recipientDeliverySchema()) })
    .optional()
    .meta({
      description:
        "What became of each recipient after Exchange's 250: from its RCPT TO reply, delivery reports read back from the mailbox, or message trace.",
    }),
});

function recipientDeliverySchema() {
  return z.object({
    recipient: z.string(),
    status: z.enum(recipientStatuses).meta({
      description:
        '`pending`: accepted, no news yet; `delivered`; `delayed`: Exchange keeps trying; `failed`: refused or bounced; `quarantined`; `filtered` (as spam); ' +
        '`unknown`: no news within the horizon (EXOSEND_DELIVERY_HORIZON_HOURS) -- never taken for delivered.',
    }),
    statusCode: z.string().optional().meta({ description: 'The enhanced status code (RFC 3463), such as 5.1.10.' }),
    diagnosis: z.enum(bounceCodes).optional().meta({
      description:
        "The bounce catalogue's code (src/diagnosis/bounce-diagnosis.ts): RECIPIENT_NOT_FOUND, RECIPIENT_MAILBOX_FULL, BLOCKED_AS_SPAM, ...",
    }),
    detail: z.string().optional().meta({ description: "The remote server's own words (Diagnostic-Code)." }),
    at: z.string(),
    source: z.enum(deliverySources),
  });
}

export const messageIdSchema = z.string().regex(idempotencyKeyPattern);

const stageResultSchema = z.object({ stage: z.enum(stages), ok: z.boolean(), durationMs: z.number() });
const checkCodeSchema = z.union([diagnosisCodeSchema, z.enum(['CONFIGURATION_INVALID', 'UNEXPECTED_ERROR'])]);

const transportSchema = z.enum(['smtp', 'graph']);

export const budgetUsageSchema = z.object({
  mailbox: z.string(),
  scope: z.enum(['shared', 'local']).meta({
    description: '`shared`: counted in storage across every instance; `local`: this process only (no storage set).',
  }),
  minute: z.object({
    used: z.number().int(),
    limit: z.number().int(),
    windowSeconds: z.number(),
    spentForSeconds: z.number().int().optional().meta({
      description:
        'Only while sends wait for a free slot in the minute: how long they have kept waiting; past 5 windows the mailbox is saturated (`budgetSpent`).',
    }),
  }),
  connections: z.object({ used: z.number().int(), limit: z.number().int() }),
  day: z.object({
    used: z.number().int(),
    limit: z.number().int(),
    windowHours: z.number(),
    freesInSeconds: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Only when the day is spent: seconds until one recipient fits again.' }),
  }),
});

const windowUse = z.object({ used: z.number().int(), limit: z.number().int() });

export const transportBudgetSchema = z.discriminatedUnion('transport', [
  z.object({
    transport: z.literal('smtp'),
    mailbox: z.string(),
    scope: z.enum(['shared', 'local']),
    minute: budgetUsageSchema.shape.minute.meta({ description: 'Messages in the sliding minute (Exchange: 30).' }),
    sessions: windowUse.meta({
      description: 'SMTP sessions open at once (Exchange: 3; one kept for the health check).',
    }),
    day: budgetUsageSchema.shape.day.meta({
      description: 'Recipients in the rolling day (Exchange: 10,000), whichever way they went.',
    }),
  }),
  z.object({
    transport: z.literal('graph'),
    mailbox: z.string(),
    scope: z.enum(['shared', 'local']),
    concurrentRequests: windowUse.meta({
      description:
        "The app's Microsoft Graph requests in flight, every mailbox and instance together (Outlook: 4 at once; one kept for the health check).",
    }),
    requestsPer10Minutes: z
      .object({ used: z.number().int(), limit: z.number().int(), windowSeconds: z.number(), scope: z.literal('local') })
      .meta({
        description:
          "Graph requests for the mailbox in the last 10 minutes (Outlook: 10,000 per app and mailbox), as this instance made them: shown, not enforced, as the minute's 30 messages bind first.",
      }),
    day: budgetUsageSchema.shape.day.meta({
      description: 'Recipients in the rolling day (Exchange: 10,000), whichever way they went.',
    }),
  }),
]);

export const healthCheckResultSchema = z.object({
  runId: z.string(),
  ok: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  mode: z.enum(['send', 'auth']).optional(),
  stages: z.array(stageResultSchema),
  failedStage: z.enum([...stages, 'settings']).optional(),
  code: checkCodeSchema.optional(),
  diagnosis: diagnosisSchema.optional(),
  problem: z.string().optional(),
  credential: z.enum(credentialKinds).optional(),
  credentialDaysLeft: z.number().int().optional(),
  secretDaysLeft: z.number().int().optional(),
  messageId: z.string().optional(),
  transport: transportSchema.optional().meta({
    description:
      'The way the stages shown went: `smtp`, or `graph` (EXOSEND_TRANSPORT=graph, or `auto` with the mailbox on Graph).',
  }),
  smtpClosed: diagnosisCodeSchema.optional().meta({
    description:
      '`auto` only: Exchange closed SMTP to the mailbox (this code), so the check went on through Microsoft Graph, as a send does.',
  }),
  mailboxes: z
    .array(
      z.object({
        mailbox: z.string(),
        ok: z.boolean(),
        code: z.string().optional(),
        transport: transportSchema.optional(),
      }),
    )
    .optional(),
  failedMailbox: z.string().optional(),
  budgets: z.array(budgetUsageSchema).optional(),
  reader: z.string().optional().meta({
    description:
      'The delivery reports reader in this instance: off, not-run, ok, or the diagnosis code its last run met (READER_ACCESS_DENIED).',
  }),
});

const preflightSchema = z.object({
  ok: z.boolean(),
  transports: z.array(transportSchema).optional().meta({
    description:
      'The ways mail goes now, whose tokens were checked: `smtp` (for Exchange), `graph` (for Microsoft Graph, with Mail.Send unless rbac).',
  }),
  stages: z.array(stageResultSchema),
  diagnosis: diagnosisSchema.optional(),
  code: z.string().optional(),
  credential: z.string().optional(),
  credentialDaysLeft: z.number().int().optional(),
  problem: z.string().optional(),
});

export const healthStatusSchema = z.object({
  status: z.enum(['healthy', 'degraded', 'unhealthy']).meta({
    description:
      "`degraded`: mail works, but a mailbox's rolling day is spent, or its minute has stayed spent for 5 windows (`budgetSpent` says which and when to look again); `unhealthy`: mail fails (`error`).",
  }),
  lastCheck: healthCheckResultSchema
    .nullable()
    .meta({ description: 'The last timer check this instance ran; null before its first.' }),
  preflight: preflightSchema,
  budgets: z.array(budgetUsageSchema).meta({
    description:
      "Each mailbox's use of its minute, its sessions and its day; a budget that cannot be read is left out.",
  }),
  budgetSpent: z.array(budgetDiagnosisSchema).optional().meta({
    description:
      'Each mailbox whose rolling day is spent (`limit: day`; retryAfterSeconds: when one recipient fits again), then each whose minute has stayed spent (`limit: minute`, callers waiting for it for 5 windows or more; retryAfterSeconds: one window).',
  }),
  budgetsByTransport: z.array(transportBudgetSchema).meta({
    description:
      "Each mailbox's budget per transport it sends by (EXOSEND_TRANSPORT: smtp, graph, or both under auto).",
  }),
  error: z
    .object({
      code: z.string(),
      message: z.string(),
      retryable: z.boolean().optional(),
      retryAfterSeconds: z.number().int().optional(),
      diagnosis: diagnosisSchema.optional(),
    })
    .optional(),
});

/**
 * True only when the schema reads exactly what the code's type holds, at every depth: a field added
 * to one and not the other, even an optional one, fails to compile (every field made required, so
 * that a missing optional one counts).
 */
type Complete<T> = T extends readonly (infer E)[]
  ? Complete<E>[]
  : T extends object
    ? { [K in keyof T]-?: Complete<NonNullable<T[K]>> }
    : T;
type SameShape<A, B> = [Complete<A>] extends [Complete<B>]
  ? [Complete<B>] extends [Complete<A>]
    ? true
    : false
  : false;
const sameShape = <A, B>(same: SameShape<A, B>) => same;
sameShape<z.input<typeof budgetDiagnosisSchema>, BudgetDiagnosis>(true);
sameShape<z.input<typeof budgetUsageSchema>, BudgetUsage>(true);
sameShape<z.input<typeof healthCheckResultSchema>, HealthCheckResult>(true);
sameShape<z.input<typeof preflightSchema>, Preflight>(true);
sameShape<z.input<typeof transportBudgetSchema>, TransportBudgetUsage>(true);
sameShape<Omit<z.input<typeof messageStatusSchema>, 'delivery'>, Omit<MessageView, 'delivery'>>(true);
