import { z } from 'zod';
import { diagnosisCodes, stages } from '../diagnosis/diagnosis.js';
import { idempotencyKeyPattern } from '../mail/mail-request.js';

// What the HTTP functions answer, as schemas for the OpenAPI document. Objects are not strict: a
// caller must accept fields added later. test/openapi.test.ts holds real answers against them.

export const diagnosisCodeSchema = z.enum(diagnosisCodes).meta({ description: 'A stable code from the diagnosis catalogue (src/diagnosis/catalogue.ts).' });

export const diagnosisSchema = z.object({
  code: diagnosisCodeSchema,
  stage: z.enum(stages).meta({ description: 'The step of the chain that failed.' }),
  smtp: z.string().optional().meta({ description: 'The raw reply from Exchange, Entra or Key Vault, secrets removed.' }),
  cause: z.string(),
  fix: z.string().meta({ description: 'What an admin does about it, with the app\'s own IDs filled in.' }),
  retryable: z.boolean(),
  retryAfterSeconds: z.number().int().optional(),
});

const fieldProblemSchema = z.object({
  path: z.string().meta({ description: 'Where in the request, as a caller writes it: `to[1]`, `attachments[0].contentBase64`; empty for the body as a whole.' }),
  message: z.string(),
});

export const errorSchema = z.object({
  error: z.object({
    code: z.string().meta({ description: 'INVALID_REQUEST, SENDER_NOT_ALLOWED, ... for a refused request; a diagnosis code when Exchange, Entra or Key Vault refused; STORAGE_UNAVAILABLE, CONFIGURATION_INVALID, NOT_FOUND.' }),
    message: z.string(),
    details: z.array(fieldProblemSchema).optional(),
    diagnosis: diagnosisSchema.optional(),
    existing: z.object({ id: z.string(), status: z.string() }).optional().meta({ description: 'IDEMPOTENCY_KEY_REUSED: the request the key already names.' }),
  }),
});

export const sendResultSchema = z.object({
  id: z.string().meta({ description: 'The idempotencyKey, or a generated id; the Message-ID is derived from it.' }),
  messageId: z.string().meta({ description: 'The Message-ID header Exchange accepted, angle brackets included.' }),
  accepted: z.array(z.string()),
  rejected: z.array(z.string()),
  response: z.string().meta({ description: "Exchange's reply to the message, such as `250 2.0.0 OK ...`, or Graph's `202 Accepted`." }),
  transport: z.enum(['smtp', 'graph']).meta({ description: 'Which way the message left: SMTP AUTH, or Microsoft Graph sendMail (EXOSEND_TRANSPORT).' }),
});

const messageStatusValue = z.enum(['queued', 'sending', 'sent', 'failed']);

export const enqueueAcceptedSchema = z.object({
  id: z.string(),
  status: messageStatusValue.meta({ description: '`queued` for a new request; where it stands when the idempotencyKey was enqueued before.' }),
});

const attemptSchema = z.object({ at: z.string(), code: z.string() });

export const messageStatusSchema = z.object({
  id: z.string(),
  status: messageStatusValue,
  attempts: z.number().int(),
  messageId: z.string().optional(),
  diagnosis: diagnosisSchema.optional(),
  reason: z.string().optional().meta({ description: 'Why it failed when no diagnosis applies (it was never a valid request).' }),
  history: z.array(attemptSchema),
});

export const messageIdSchema = z.string().regex(idempotencyKeyPattern);

const stageResultSchema = z.object({ stage: z.enum(stages), ok: z.boolean(), durationMs: z.number() });
const checkCodeSchema = z.union([diagnosisCodeSchema, z.enum(['CONFIGURATION_INVALID', 'UNEXPECTED_ERROR'])]);

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
  secretDaysLeft: z.number().int().optional(),
  messageId: z.string().optional(),
});

export const healthStatusSchema = z.object({
  status: z.enum(['healthy', 'unhealthy']),
  lastCheck: healthCheckResultSchema.nullable().meta({ description: "The last timer check this instance ran; null before its first." }),
  preflight: z.object({
    ok: z.boolean(),
    stages: z.array(stageResultSchema),
    diagnosis: diagnosisSchema.optional(),
    code: z.string().optional(),
    problem: z.string().optional(),
  }),
  error: z.object({ code: z.string(), message: z.string(), diagnosis: diagnosisSchema.optional() }).optional(),
});
