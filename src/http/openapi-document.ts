import { z } from 'zod';
import type { CallerAuthMode } from '../config/caller-auth.js';
import { mailLimits, mailRequestSchema } from '../mail/mail-request.js';
import type { RejectionCode } from '../mail/request-rejected.js';
import { failureAnswers, rejectionStatus, type FailureAnswer, type FailureKind } from './error-response.js';
import { hostRefusals, openApiSecurity } from './openapi-security.js';
import {
  budgetDiagnosisSchema,
  diagnosisCodeSchema,
  diagnosisSchema,
  enqueueAcceptedSchema,
  errorSchema,
  healthStatusSchema,
  messageIdSchema,
  messageStatusSchema,
  sendResultSchema,
} from './response-schemas.js';

/** The version of the HTTP contract described; package.json's version (a test holds them together). */
export const apiVersion = '0.1.0';

type Json = Record<string, unknown>;

/**
 * The OpenAPI 3.1 description of exosend's HTTP API. The request body's schema is generated from
 * the zod schema that validates requests, so the two cannot drift; rules JSON Schema cannot say
 * (at least one recipient, text or html, reserved headers) are in the descriptions.
 * `serverUrl` is where the routes live: the Function App's `https://<app>/api`. `callerAuth` is
 * EXOSEND_CALLER_AUTH: the document describes what this deployment admits (see openapi-security.ts).
 */
export function openApiDocument(serverUrl: string, callerAuth: CallerAuthMode): Json {
  const schemas = componentSchemas();
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (name: string, description: string, headers?: Json) => ({
    description,
    ...(headers && { headers }),
    content: { 'application/json': { schema: ref(name) } },
  });
  const retryAfter = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };
  const security = openApiSecurity(callerAuth);
  // every answer a route gives: its own, the failures it can give, and the host's refusals
  const answers = (route: DescribedRoute, own: Record<string, Json>) => ({
    responses: withFailures(own, { ...failureResponses(route, ref, callerAuth), ...hostRefusals(callerAuth) }),
    security: security.requirements,
  });
  const mailBody = {
    required: true,
    description: [
      'A mail request. Beyond the schema: at least one recipient (to, cc, bcc), at most',
      `${mailLimits.maxRecipients} in all; text or html (or both); \`to\`, \`cc\` and \`bcc\` also accept one address as a`,
      'string; custom headers may not set what exosend sets (addresses, subject, Message-ID, MIME structure,',
      `trace and authentication headers); at most ${mailLimits.maxHeaders} headers; the message as transmitted at most`,
      `${mailLimits.maxMessageBytes / 1024 / 1024} MB. \`from\` must be one of EXOSEND_ALLOWED_SENDERS.`,
      ...(callerAuth === 'key'
        ? []
        : [
            "A caller with a token sends only as its policy's senders, and only to its policy's recipient patterns",
            '(403 SENDER_NOT_ALLOWED, RECIPIENT_NOT_ALLOWED: the whole request is refused).',
          ]),
    ].join(' '),
    content: {
      'application/json': {
        schema: ref('MailRequest'),
        example: {
          to: ['ada@fabrikam.example'],
          subject: 'Hello from exosend',
          text: 'It works.',
          html: '<p>It works.</p>',
        },
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'exosend',
      version: apiVersion,
      summary: 'Send mail through Exchange Online with OAuth 2.0 (SMTP AUTH XOAUTH2)',
      description:
        'Every failure carries a stable diagnosis code with its cause and the fix an admin can act on (`DiagnosisCode`). ' +
        security.description,
    },
    servers: [{ url: serverUrl }],
    security: security.requirements,
    paths: {
      '/send': {
        post: {
          operationId: 'send',
          summary: "Send now and answer with Exchange's reply",
          description:
            'Retries inside the call only what Exchange refused with a 4xx reply. With storage, every send has a record (`GET /messages/{id}`), and one idempotencyKey is one message whichever route it came by: ' +
            'the same content again gets the first outcome, other content 409. A send that failed in a way worth retrying (503, 429) is tried again by the same request.',
          requestBody: mailBody,
          ...answers('send', { '200': json('SendResult', 'Exchange accepted the message.') }),
        },
      },
      '/enqueue': {
        post: {
          operationId: 'enqueue',
          summary: 'Accept durably; the queue sends it',
          description:
            'Validates exactly as /send. At least once in, exactly one outcome out: `GET /messages/{id}` tells it.',
          requestBody: mailBody,
          ...answers('enqueue', {
            '202': json('EnqueueAccepted', 'Stored on the queue.', {
              Location: { description: '/api/messages/{id}', schema: { type: 'string' } },
            }),
          }),
        },
      },
      '/messages/{id}': {
        get: {
          operationId: 'getMessage',
          summary: 'Where a queued request stands',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              description: 'The id /enqueue answered (the idempotencyKey when one was given).',
              schema: schemas['MessageId'],
            },
          ],
          ...answers('getMessage', { '200': json('MessageStatus', "The request's record.") }),
        },
      },
      '/health': {
        get: {
          operationId: 'getHealth',
          summary: 'The last health check and a live preflight (secret, token, claims; nothing is sent)',
          ...answers('getHealth', {
            '200': json('HealthStatus', 'Healthy.'),
            '503': json(
              'HealthStatus',
              "Unhealthy (`error` holds the code and the diagnosis), or degraded: a mailbox's rolling day is spent (`budgetSpent` names it and when it frees; `error.code` DAILY_RECIPIENT_LIMIT_REACHED).",
              retryAfter,
            ),
          }),
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          ...answers('getOpenApiDocument', {
            '200': {
              description: 'The OpenAPI 3.1 description of this API.',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          }),
        },
      },
    },
    components: {
      schemas,
      headers: {
        RetryAfter: { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
        WWWAuthenticate: {
          description:
            'The Bearer challenge of RFC 6750 (section 3): `Bearer` when no credential came, `Bearer error="invalid_token"` when the token was refused, `Bearer error="insufficient_scope"` when it lacks exosend\'s app role (403).',
          schema: { type: 'string', enum: challenges() },
        },
      },
      securitySchemes: security.schemes,
    },
  };
}

export type DescribedRoute = 'send' | 'enqueue' | 'getMessage' | 'getHealth' | 'getOpenApiDocument';

const noMailRequest = 'it reads no mail request';
const neverSends = 'it asks neither Exchange, Entra nor Key Vault: the queue does, later';
const readsNoRequest = Object.fromEntries(Object.keys(rejectionStatus).map((code) => [code, noMailRequest])) as Record<
  RejectionCode,
  string
>;

/**
 * What a route cannot answer, and why. Every other answer in failureAnswers is described for it, so
 * an answer added there is described on every route until someone says here where it cannot happen.
 */
export const cannotAnswer: Record<DescribedRoute, Partial<Record<FailureKind, string>>> = {
  send: { notFound: 'it looks up no id' },
  enqueue: {
    RECIPIENT_SUPPRESSED:
      'the queue drops suppressed recipients when it sends, and dead-letters a message left with none',
    refused: neverSends,
    transient: neverSends,
    budgetSpent: 'a queued message waits for the budget by itself',
    notFound: 'it looks up no id',
  },
  getMessage: {
    ...readsNoRequest,
    refused: neverSends,
    transient: neverSends,
    budgetSpent: neverSends,
  },
  // both still check their caller: a caller refusal, and the policy lookup's storage or settings, can answer them
  getHealth: {
    ...readsNoRequest,
    refused: 'a failing Exchange, Entra or Key Vault is its own 503 (HealthStatus)',
    transient: 'a failing Exchange, Entra or Key Vault is its own 503 (HealthStatus)',
    budgetSpent: "a spent day is its own 503 (HealthStatus's budgetSpent); it sends nothing",
    notFound: 'it looks up no id',
  },
  getOpenApiDocument: {
    ...readsNoRequest,
    refused: 'it asks neither Exchange, Entra nor Key Vault',
    transient: 'it asks neither Exchange, Entra nor Key Vault',
    budgetSpent: 'it sends nothing',
    notFound: 'it looks up no id',
  },
};

/** What each kind of failure answer means for the caller: a kind added to failureAnswers needs its words here. */
const failureDescriptions: Record<FailureKind, string> = {
  ...(Object.fromEntries(
    Object.keys(rejectionStatus).map((code) => [
      code,
      `${code}: the request was refused; nothing was sent or stored. \`details\` names the fields.`,
    ]),
  ) as Record<RejectionCode, string>),
  SENDER_NOT_ALLOWED:
    "SENDER_NOT_ALLOWED: `from` is not one of EXOSEND_ALLOWED_SENDERS, or not one of the caller policy's senders; nothing was sent or stored. `details` names the field.",
  RECIPIENT_NOT_ALLOWED:
    "RECIPIENT_NOT_ALLOWED: a recipient is outside the caller policy's recipient patterns; the whole request was refused, nothing was sent to the others either. `details` names each.",
  IDEMPOTENCY_KEY_REUSED:
    'IDEMPOTENCY_KEY_REUSED: the key already names a request with other content (`existing`); nothing was sent or queued. Also answered while the first send of the same content is still under way (`existing.status` sending): ask `GET /messages/{id}`.',
  refused:
    'Exchange, Entra or Key Vault refused for good: `error.diagnosis` holds the code, cause and fix. Sending it again unchanged fails again (Retry-After only when the refusal ends by itself, such as the daily quota).',
  transient: 'Transient (`error.diagnosis.retryable`): try again after Retry-After.',
  budgetSpent:
    "MAILBOX_BUDGET_SPENT: the mailbox's budget (messages a minute, recipients a day, SMTP sessions), counted across every instance, is spent for now, or the caller's own daily quota (its policy's `--daily-quota`: `error.diagnosis.code` CALLER_DAILY_QUOTA_REACHED, while other callers go on sending); nothing was sent. `error.diagnosis` (BudgetDiagnosis) names the limit; try again after Retry-After, or use /enqueue.",
  storageUnavailable:
    "STORAGE_UNAVAILABLE: exosend's storage (queues, tables, blobs) did not answer or refused its identity; nothing was accepted. Try again after Retry-After.",
  misconfigured: 'CONFIGURATION_INVALID: an app setting is missing or malformed (named, never its value).',
  notFound: 'NOT_FOUND: no request with this id is known.',
  CALLER_UNAUTHENTICATED:
    'CALLER_UNAUTHENTICATED: no credential this deployment takes came (see the security schemes); WWW-Authenticate `Bearer`.',
  CALLER_TOKEN_INVALID:
    "CALLER_TOKEN_INVALID: the token is no valid app-only token of exosend's tenant (unsigned, HS256, signed by a key the tenant never published, a bad signature, or a user's token with `scp`).",
  CALLER_TOKEN_EXPIRED: 'CALLER_TOKEN_EXPIRED: the token has expired (30 s of clock tolerance); get a new one.',
  CALLER_TOKEN_WRONG_AUDIENCE:
    "CALLER_TOKEN_WRONG_AUDIENCE: the token is for another API; ask for `<exosend's Application ID URI>/.default`, an audience EXOSEND_API_AUDIENCE lists.",
  CALLER_TOKEN_WRONG_ISSUER: "CALLER_TOKEN_WRONG_ISSUER: the token was issued by another tenant than exosend's.",
  CALLER_ROLE_MISSING:
    'CALLER_ROLE_MISSING: the calling app holds no app role `Mail.Send.Exosend` on exosend\'s API; an admin assigns it. WWW-Authenticate `Bearer error="insufficient_scope"`. Nothing was read or sent.',
  CALLER_NOT_REGISTERED:
    'CALLER_NOT_REGISTERED: the calling app has no caller policy; the message names the command that gives it one (`npx exosend caller add`). Nothing was read or sent.',
  CALLER_KEYS_UNAVAILABLE:
    "CALLER_KEYS_UNAVAILABLE: exosend could not read its tenant's signing keys to check the token; try again after Retry-After.",
};

/**
 * The failure answers a route can give under an EXOSEND_CALLER_AUTH value, by status, each an
 * Error narrowed to its codes and diagnosis, with the headers that come with it.
 */
export function failureResponses(
  route: DescribedRoute,
  ref: (name: string) => Json,
  callerAuth: CallerAuthMode,
): Record<string, Json> {
  const byStatus = new Map<number, [FailureKind, FailureAnswer][]>();
  for (const [kind, answer] of Object.entries(failureAnswers) as [FailureKind, FailureAnswer][]) {
    if (cannotAnswer[route][kind] || (answer.callerAuth && !answer.callerAuth.includes(callerAuth))) continue;
    byStatus.set(answer.status, [...(byStatus.get(answer.status) ?? []), [kind, answer]]);
  }
  const narrowed = ([, answer]: [FailureKind, FailureAnswer]): Json => {
    const diagnosis = answer.diagnosis && ref(answer.diagnosis === 'budget' ? 'BudgetDiagnosis' : 'Diagnosis');
    const code =
      answer.diagnosis === 'catalogue'
        ? ref('DiagnosisCode')
        : answer.codes.length === 1
          ? { const: answer.codes[0] }
          : { enum: answer.codes };
    const error = {
      type: 'object',
      required: ['code', ...(diagnosis ? ['diagnosis'] : [])],
      properties: { code, ...(diagnosis && { diagnosis }) },
    };
    return { allOf: [ref('Error'), { type: 'object', required: ['error'], properties: { error } }] };
  };
  return Object.fromEntries(
    [...byStatus.entries()].map(([status, kinds]) => {
      const headers = {
        ...(kinds.some(([, a]) => a.retryAfter) && { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } }),
        ...(kinds.some(([, a]) => a.wwwAuthenticate) && {
          'WWW-Authenticate': { $ref: '#/components/headers/WWWAuthenticate' },
        }),
      };
      const schema = kinds.length === 1 ? narrowed(kinds[0]!) : { anyOf: kinds.map(narrowed) };
      const description = kinds.map(([kind]) => failureDescriptions[kind]).join(' Or ');
      return [
        String(status),
        {
          description,
          ...(Object.keys(headers).length > 0 && { headers }),
          content: { 'application/json': { schema } },
        },
      ];
    }),
  );
}

/** A route's own answers with the failures it can give; a status both hold (/health's 503) is either one. */
function withFailures(own: Record<string, Json>, failures: Record<string, Json>): Record<string, Json> {
  const merged = { ...own };
  for (const [status, failure] of Object.entries(failures)) {
    const mine = merged[status];
    if (!mine) {
      merged[status] = failure;
      continue;
    }
    const schemaOf = (answer: Json) =>
      (answer['content'] as Record<string, { schema: Json }> | undefined)?.['application/json']?.schema;
    merged[status] = {
      description: `${String(mine['description'])} Or ${String(failure['description'])}`,
      headers: { ...(mine['headers'] as Json | undefined), ...(failure['headers'] as Json | undefined) },
      content: { 'application/json': { schema: { anyOf: [schemaOf(mine), schemaOf(failure)] } } },
    };
  }
  return merged;
}

/** Every WWW-Authenticate value failureAnswers sends. */
function challenges(): string[] {
  return [
    ...new Set(
      Object.values(failureAnswers).flatMap((a: FailureAnswer) => (a.wwwAuthenticate ? [a.wwwAuthenticate] : [])),
    ),
  ];
}

/** Every schema the document names, from the zod schemas (requests as they are read: `io: 'input'`). */
function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  const named: Record<string, z.ZodType> = {
    MailRequest: mailRequestSchema,
    SendResult: sendResultSchema,
    EnqueueAccepted: enqueueAcceptedSchema,
    MessageStatus: messageStatusSchema,
    MessageId: messageIdSchema,
    HealthStatus: healthStatusSchema,
    Error: errorSchema,
    Diagnosis: diagnosisSchema,
    BudgetDiagnosis: budgetDiagnosisSchema,
    DiagnosisCode: diagnosisCodeSchema,
  };
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
    // a transform cannot be described; what it feeds into can (preprocess), see keepBothSidesOfPipes
    unrepresentable: 'any',
    override: (context) => {
      keepBothSidesOfPipes(context);
      keepCaseInsensitivePatterns(context);
    },
  });
  // each is a component of this document, not a JSON Schema document of its own
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _dialect, $id: _id, ...schema }]) => [id, schema as Json]),
  );
}

/**
 * `a.pipe(b)` with no transform in `a` accepts what both accept, but zod describes only `a` for
 * input: an address (`string().max(320).pipe(email())`) would lose its email format. Adds `b`'s
 * keywords `a` lacks; a keyword both have goes into `allOf`.
 */
function keepBothSidesOfPipes({ zodSchema, jsonSchema }: { zodSchema: unknown; jsonSchema: Json }): void {
  const def = (zodSchema as { _zod: { def: { type: string; in?: z.ZodType; out?: z.ZodType } } })._zod.def;
  if (
    def.type !== 'pipe' ||
    !def.in ||
    !def.out ||
    (def.in as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'transform'
  )
    return;
  const { $schema: _dialect, ...out } = z.toJSONSchema(def.out, { io: 'input', unrepresentable: 'any' }) as Json;
  const conflicting: Json = {};
  for (const [key, value] of Object.entries(out)) {
    if (!(key in jsonSchema)) jsonSchema[key] = value;
    else if (JSON.stringify(jsonSchema[key]) !== JSON.stringify(value)) conflicting[key] = value;
  }
  if (Object.keys(conflicting).length > 0)
    jsonSchema['allOf'] = [...((jsonSchema['allOf'] as unknown[]) ?? []), conflicting];
}

/**
 * JSON Schema patterns have no flags: zod writes `/^[a-z]+$/i` as `^[a-z]+$`, stricter than the
 * validation. Ranges of lower-case letters gain their upper-case twins; a pattern with any other
 * letter is dropped rather than left stricter than what exosend accepts.
 */
function keepCaseInsensitivePatterns({ zodSchema, jsonSchema }: { zodSchema: unknown; jsonSchema: Json }): void {
  const checks =
    (zodSchema as { _zod: { def: { checks?: { _zod: { def: { pattern?: RegExp } } }[] } } })._zod.def.checks ?? [];
  for (const check of checks) {
    const pattern = check._zod.def.pattern;
    if (!pattern?.flags.includes('i')) continue;
    const widened = pattern.source.replace(/a-z/g, 'a-zA-Z');
    const stillCaseSensitive = /[a-zA-Z]/.test(widened.replace(/a-zA-Z|\\[a-zA-Z]/g, ''));
    const fix = (schema: Json) => {
      if (schema['pattern'] !== pattern.source) return;
      if (stillCaseSensitive) delete schema['pattern'];
      else schema['pattern'] = widened;
    };
    fix(jsonSchema);
    for (const part of (jsonSchema['allOf'] as Json[] | undefined) ?? []) fix(part);
  }
}
