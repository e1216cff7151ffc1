import { z } from 'zod';
import { mailLimits, mailRequestSchema } from '../mail/mail-request.js';
import type { RejectionCode } from '../mail/request-rejected.js';
import { failureAnswers, rejectionStatus, type FailureAnswer, type FailureKind } from './error-response.js';
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
 * `serverUrl` is where the routes live: the Function App's `https://<app>/api`.
 */
export function openApiDocument(serverUrl: string): Json {
  const schemas = componentSchemas();
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (name: string, description: string, headers?: Json) => ({
    description,
    ...(headers && { headers }),
    content: { 'application/json': { schema: ref(name) } },
  });
  const retryAfter = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };
  const failures = (route: DescribedRoute) => failureResponses(route, ref);
  const unauthorized = { '401': { description: 'No function key, or a wrong one.' } };
  const mailBody = {
    required: true,
    description: [
      'A mail request. Beyond the schema: at least one recipient (to, cc, bcc), at most',
      `${mailLimits.maxRecipients} in all; text or html (or both); \`to\`, \`cc\` and \`bcc\` also accept one address as a`,
      'string; custom headers may not set what exosend sets (addresses, subject, Message-ID, MIME structure,',
      `trace and authentication headers); at most ${mailLimits.maxHeaders} headers; the message as transmitted at most`,
      `${mailLimits.maxMessageBytes / 1024 / 1024} MB. \`from\` must be one of EXOSEND_ALLOWED_SENDERS.`,
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
        'Every route needs a function key: the `x-functions-key` header or the `code` query parameter.',
    },
    servers: [{ url: serverUrl }],
    security: [{ functionKeyHeader: [] }, { functionKeyQuery: [] }],
    paths: {
      '/send': {
        post: {
          operationId: 'send',
          summary: "Send now and answer with Exchange's reply",
          description:
            'Retries inside the call only what Exchange refused with a 4xx reply. With storage, every send has a record (`GET /messages/{id}`), and one idempotencyKey is one message whichever route it came by: ' +
            'the same content again gets the first outcome, other content 409. A send that failed in a way worth retrying (503, 429) is tried again by the same request.',
          requestBody: mailBody,
          responses: {
            '200': json('SendResult', 'Exchange accepted the message.'),
            ...failures('send'),
            ...unauthorized,
          },
        },
      },
      '/enqueue': {
        post: {
          operationId: 'enqueue',
          summary: 'Accept durably; the queue sends it',
          description:
            'Validates exactly as /send. At least once in, exactly one outcome out: `GET /messages/{id}` tells it.',
          requestBody: mailBody,
          responses: {
            '202': json('EnqueueAccepted', 'Stored on the queue.', {
              Location: { description: '/api/messages/{id}', schema: { type: 'string' } },
            }),
            ...failures('enqueue'),
            ...unauthorized,
          },
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
          responses: {
            '200': json('MessageStatus', "The request's record."),
            ...failures('getMessage'),
            ...unauthorized,
          },
        },
      },
      '/health': {
        get: {
          operationId: 'getHealth',
          summary: 'The last health check and a live preflight (secret, token, claims; nothing is sent)',
          responses: {
            '200': json('HealthStatus', 'Healthy.'),
            '503': json(
              'HealthStatus',
              "Unhealthy (`error` holds the code and the diagnosis), or degraded: a mailbox's rolling day is spent (`budgetSpent` names it and when it frees; `error.code` DAILY_RECIPIENT_LIMIT_REACHED).",
              retryAfter,
            ),
            ...unauthorized,
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          responses: {
            '200': {
              description: 'The OpenAPI 3.1 description of this API.',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
            ...unauthorized,
          },
        },
      },
    },
    components: {
      schemas,
      headers: { RetryAfter: { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } },
      securitySchemes: {
        functionKeyHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'x-functions-key',
          description: 'A function key (or the host key) of the Function App.',
        },
        functionKeyQuery: {
          type: 'apiKey',
          in: 'query',
          name: 'code',
          description: 'The same key as a query parameter.',
        },
      },
    },
  };
}

export type DescribedRoute = 'send' | 'enqueue' | 'getMessage';

const noMailRequest = 'it reads no mail request';
const neverSends = 'it asks neither Exchange, Entra nor Key Vault: the queue does, later';

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
    ...(Object.fromEntries(Object.keys(rejectionStatus).map((code) => [code, noMailRequest])) as Record<
      RejectionCode,
      string
    >),
    refused: neverSends,
    transient: neverSends,
    budgetSpent: neverSends,
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
  IDEMPOTENCY_KEY_REUSED:
    'IDEMPOTENCY_KEY_REUSED: the key already names a request with other content (`existing`); nothing was sent or queued. Also answered while the first send of the same content is still under way (`existing.status` sending): ask `GET /messages/{id}`.',
  refused:
    'Exchange, Entra or Key Vault refused for good: `error.diagnosis` holds the code, cause and fix. Sending it again unchanged fails again (Retry-After only when the refusal ends by itself, such as the daily quota).',
  transient: 'Transient (`error.diagnosis.retryable`): try again after Retry-After.',
  budgetSpent:
    "MAILBOX_BUDGET_SPENT: the mailbox's budget (messages a minute, recipients a day, SMTP sessions), counted across every instance, is spent for now; nothing was sent. `error.diagnosis` (BudgetDiagnosis) names the limit; try again after Retry-After, or use /enqueue.",
  storageUnavailable:
    "STORAGE_UNAVAILABLE: exosend's storage (queues, tables, blobs) did not answer or refused its identity; nothing was accepted. Try again after Retry-After.",
  misconfigured: 'CONFIGURATION_INVALID: an app setting is missing or malformed (named, never its value).',
  notFound: 'NOT_FOUND: no request with this id is known.',
};

/** The failure answers a route can give, by status, each an Error narrowed to its codes and diagnosis. */
export function failureResponses(route: DescribedRoute, ref: (name: string) => Json): Record<string, Json> {
  const byStatus = new Map<number, [FailureKind, FailureAnswer][]>();
  for (const [kind, answer] of Object.entries(failureAnswers) as [FailureKind, FailureAnswer][]) {
    if (cannotAnswer[route][kind]) continue;
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
      const retryAfter = kinds.some(([, a]) => a.retryAfter) && {
        'Retry-After': { $ref: '#/components/headers/RetryAfter' },
      };
      const schema = kinds.length === 1 ? narrowed(kinds[0]!) : { anyOf: kinds.map(narrowed) };
      const description = kinds.map(([kind]) => failureDescriptions[kind]).join(' Or ');
      return [
        String(status),
        { description, ...(retryAfter && { headers: retryAfter }), content: { 'application/json': { schema } } },
      ];
    }),
  );
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
