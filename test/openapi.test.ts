import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { RestError } from '@azure/core-rest-pipeline';
import functions, { type HttpResponseInit } from '@azure/functions';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { CallerRefused, callerRefusalCodes } from '../src/auth/caller-refused.js';
import { BudgetExhausted, budgetLimits } from '../src/budget/budget.js';
import { callerAuthModes, type CallerAuthMode } from '../src/config/caller-auth.js';
import { ConfigError } from '../src/config/config-error.js';
import { diagnosisCodes, type DiagnosisCode } from '../src/diagnosis/diagnosis.js';
import { catalogue } from '../src/diagnosis/catalogue.js';
import { diagnose } from '../src/diagnosis/diagnose.js';
import { getOpenApiDocument } from '../src/functions/openapi.js';
import { getHealth } from '../src/functions/health-status.js';
import { callerRefusalResponse } from '../src/http/caller-refusal-response.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import {
  errorResponse,
  failureAnswers,
  notFoundResponse,
  rejectionStatus,
  type FailureAnswer,
  type FailureKind,
} from '../src/http/error-response.js';
import { apiVersion, cannotAnswer, openApiDocument, type DescribedRoute } from '../src/http/openapi-document.js';
import { DeliveryFailed } from '../src/diagnosis/failures.js';
import { IdempotencyKeyReused, RequestRejected, type RejectionCode } from '../src/mail/request-rejected.js';
import { createHttpHost } from '../local/host/http-host.js';
import { loadRegistrations, type Registrations } from '../local/host/registrations.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { sandboxScenarios } from '../local/sandbox/index.js';
import { readDocs } from './docs-text.js';
import { responseValidator } from './openapi-responses.js';
import { functionKey, mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

// the package is CommonJS that Node's ESM loader cannot read these names from
const { InvocationContext } = functions;
// ajv-formats is CommonJS with a default export that Node's ESM loader hands over wrapped
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, any>;

/** The document as each EXOSEND_CALLER_AUTH value serves it; `document` is the default's (key). */
const documents = Object.fromEntries(
  callerAuthModes.map((mode) => [mode, openApiDocument('http://127.0.0.1:7071/api', mode)]),
) as Record<CallerAuthMode, Json>;
const document: Json = documents.key;

/** An instance validator for the document's component schemas, resolving their $refs inside the document. */
function schemaValidator(doc: Json) {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'urn:exosend:openapi', components: doc['components'] });
  return (name: string, value: unknown) => {
    const validate = ajv.getSchema(`urn:exosend:openapi#/components/schemas/${name}`);
    assert.ok(validate, `the document has no schema ${name}`);
    const ok = validate(value);
    return { ok: ok === true, errors: ajv.errorsText(validate.errors) };
  };
}
const validate = schemaValidator(document);

const validateResponseIn = Object.fromEntries(
  callerAuthModes.map((mode) => [mode, responseValidator(documents[mode])]),
) as Record<CallerAuthMode, ReturnType<typeof responseValidator>>;
const validateResponse = validateResponseIn.key;

/** The error codes a response's schema names (`const` or `enum` of a `code` property), wherever it is nested. */
function describedCodes(schema: unknown): string[] {
  if (Array.isArray(schema)) return schema.flatMap(describedCodes);
  if (typeof schema !== 'object' || schema === null) return [];
  const object = schema as Json;
  const code = (object['properties'] as Json | undefined)?.['code'] as Json | undefined;
  const own = code ? [...(code['const'] ? [code['const'] as string] : []), ...((code['enum'] as string[]) ?? [])] : [];
  return [...own, ...Object.values(object).flatMap(describedCodes)];
}

/** The operation each route's trigger answers, as the document names its path and method. */
const describedRoutes: Record<DescribedRoute, [path: string, method: string]> = {
  send: ['/send', 'post'],
  enqueue: ['/enqueue', 'post'],
  getMessage: ['/messages/{id}', 'get'],
  getHealth: ['/health', 'get'],
  getOpenApiDocument: ['/openapi.json', 'get'],
};

/**
 * Every failure the edge can be handed, one of each kind errorResponse knows, with every code its
 * source holds: each rejection code (rejectionStatus), each catalogue code both permanent and
 * transient, each budget limit; storage, configuration, the 404 of an unknown id, and each caller
 * refusal (src/auth/caller-refused.ts) as callerRefusalResponse answers it.
 */
function everyFailureAnswer(): { what: string; answer: HttpResponseInit }[] {
  const context = new InvocationContext({
    functionName: 'openapi-test',
    invocationId: 'x',
    logHandler: () => undefined,
  });
  const answer = (what: string, error: unknown) => ({ what, answer: errorResponse(error, context, 'id-1') });
  return [
    ...(Object.keys(rejectionStatus) as RejectionCode[]).map((code) =>
      answer(
        code,
        code === 'IDEMPOTENCY_KEY_REUSED'
          ? new IdempotencyKeyReused({ id: 'id-1', status: 'queued' })
          : new RequestRejected(code, 'refused', [{ path: 'to[0]', message: 'must be an email address' }]),
      ),
    ),
    ...(Object.keys(catalogue) as DiagnosisCode[]).flatMap((code) => {
      const diagnosis = diagnose(code, { mailbox: 'exosend@contoso.example' });
      return [
        answer(
          `${code}, permanent`,
          new DeliveryFailed({ ...diagnosis, retryable: false, retryAfterSeconds: undefined }),
        ),
        answer(
          `${code}, permanent until a wait ends`,
          new DeliveryFailed({ ...diagnosis, retryable: false, retryAfterSeconds: 3600 }),
        ),
        answer(`${code}, transient`, new DeliveryFailed({ ...diagnosis, retryable: true })),
      ];
    }),
    ...budgetLimits.map((limit) =>
      answer(`budget ${limit}`, new BudgetExhausted('exosend@contoso.example', limit, 17)),
    ),
    answer('storage down', new RestError('unavailable', { statusCode: 503 })),
    answer('storage refused its identity', new RestError('forbidden', { statusCode: 403 })),
    answer('no token for storage', Object.assign(new Error('no identity'), { name: 'CredentialUnavailableError' })),
    answer('a bad setting', new ConfigError([{ variable: 'EXOSEND_MAILBOX', message: 'is required' }])),
    { what: 'an unknown id', answer: notFoundResponse('none') },
    ...callerRefusalCodes.map((code) => ({
      what: code,
      answer: callerRefusalResponse(new CallerRefused(code, 'refused'), context, true),
    })),
  ];
}
const assertValid = (name: string, value: unknown, what: string) => {
  const { ok, errors } = validate(name, value);
  assert.ok(ok, `${what} does not match ${name}: ${errors}\n${JSON.stringify(value).slice(0, 500)}`);
};

// the entry is imported once per process: a second import would register nothing
let learned: Promise<Registrations> | undefined;
const appRegistrations = () => (learned ??= loadRegistrations('.'));

/** The local host (local/host) serving the app's own registrations on a free port (never 80). */
async function startLocalHost(): Promise<{
  port: number;
  registrations: Registrations;
  server: Server;
  close: () => Promise<void>;
}> {
  const registrations = await appRegistrations();
  const server = createHttpHost({ functions: registrations.http, functionKey, log: () => undefined });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  assert.notEqual(port, 80);
  return { port, registrations, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A GET to the local host on 127.0.0.1 with this Host header, as a browser at http://<host>/ sends it. */
function getWithHost(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, headers: { 'x-functions-key': functionKey, ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('GET /api/openapi.json', () => {
  it('when validated with an OpenAPI 3.1 validator under each EXOSEND_CALLER_AUTH value, then it is a valid document', async () => {
    for (const mode of callerAuthModes) {
      const result = await new Validator().validate(documents[mode]);
      assert.equal(result.valid, true, `${mode}: ${JSON.stringify(result.errors, null, 2)}`);
      assert.equal(documents[mode]['openapi'], '3.1.0');
    }
  });

  it('when the function is called, then it answers the same document with this host as its server', async () => {
    const h = await startHarness(import.meta.url);
    try {
      const reply = await h.http(
        async (request, context) => {
          const response = await getOpenApiDocument(request, context);
          void context;
          return Promise.resolve({ ...response, jsonBody: JSON.parse(response.body as string) });
        },
        { method: 'GET', route: 'openapi.json' },
      );
      assert.equal(reply.status, 200);
      assert.match(reply.headers['content-type'] ?? '', /^application\/json/);
      assert.deepEqual(reply.body.servers, [{ url: 'http://127.0.0.1:7071/api' }]);
      assert.deepEqual(reply.body.paths, document['paths']);
    } finally {
      await h.close();
    }
  });

  it('when the local host serves it on a port that is not 80, under 127.0.0.1 or localhost, then its server carries that port and a client reaches the app there', async () => {
    // Regression: the local host built request.url on a fixed base without the port, so the
    // document named http://127.0.0.1/api and a client generated from it called port 80.
    const host = await startLocalHost();
    try {
      for (const name of ['127.0.0.1', 'localhost']) {
        const reply = await getWithHost(host.port, '/api/openapi.json', { host: `${name}:${host.port}` });
        assert.equal(reply.status, 200, reply.body);
        const served = JSON.parse(reply.body) as Json;
        assert.deepEqual(served['servers'], [{ url: `http://${name}:${host.port}/api` }]);
      }
      // a generated client joins the server URL and a path: it must land on this app
      const served = JSON.parse(
        (await getWithHost(host.port, '/api/openapi.json', { host: `127.0.0.1:${host.port}` })).body,
      ) as Json;
      const again = await fetch(`${served['servers'][0].url}/openapi.json`, {
        headers: { 'x-functions-key': functionKey },
      });
      assert.equal(again.status, 200);
      assert.deepEqual(((await again.json()) as Json)['paths'], served['paths']);
      // a forwarded host is no part of the address: any caller can set it (see src/functions/openapi.ts)
      const forwarded = await getWithHost(host.port, '/api/openapi.json', {
        host: `127.0.0.1:${host.port}`,
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
      });
      assert.deepEqual((JSON.parse(forwarded.body) as Json)['servers'], [{ url: `http://127.0.0.1:${host.port}/api` }]);
      const badHost = await getWithHost(host.port, '/api/openapi.json', { host: 'a/b' });
      assert.equal(badHost.status, 400, 'a Host that is no host is refused, as Kestrel does');
    } finally {
      await host.close();
    }
  });

  it('when the app registers its HTTP functions, then each route and method is described, and nothing else', async () => {
    const { http } = await appRegistrations();
    assert.ok(http.length >= 5, `only ${http.length} HTTP functions were learned`);
    const registered = http
      .flatMap((f) => (f.methods ?? ['GET', 'POST']).map((m) => `${m.toLowerCase()} /${f.route ?? f.name}`))
      .sort();
    const described = Object.entries(document['paths'] as Json)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`))
      .sort();
    assert.deepEqual(described, registered);
    for (const f of http) assert.equal(f.authLevel, 'function', `${f.name} is described as needing the function key`);
  });

  it('when the security schemes are read under each EXOSEND_CALLER_AUTH value, then they are what it admits, and every route says any one of them is enough', () => {
    const expected: Record<CallerAuthMode, string[]> = {
      key: ['apiKey header x-functions-key', 'apiKey query code'],
      entra: ['http bearer JWT'],
      both: ['apiKey header x-functions-key', 'apiKey query code', 'http bearer JWT'],
    };
    for (const mode of callerAuthModes) {
      const doc = documents[mode];
      const schemes = doc['components'].securitySchemes as Json;
      const described = Object.values(schemes)
        .map((s) => (s.type === 'http' ? `${s.type} ${s.scheme} ${s.bearerFormat}` : `${s.type} ${s.in} ${s.name}`))
        .sort();
      assert.deepEqual(described, expected[mode], mode);
      // each requirement one scheme alone: any one of them is enough
      const requirements = (doc['security'] as Json[]).map((r) => Object.keys(r));
      assert.deepEqual(requirements.flat().sort(), Object.keys(schemes).sort(), mode);
      assert.ok(
        requirements.every((r) => r.length === 1),
        `${mode}: each alternative names one scheme`,
      );
      for (const [path, item] of Object.entries(doc['paths'] as Json))
        for (const [method, operation] of Object.entries(item as Json))
          assert.deepEqual((operation as Json)['security'], doc['security'], `${mode} ${method} ${path}`);
      if (schemes['bearer']) {
        assert.match(schemes['bearer'].description, /EXOSEND_API_AUDIENCE/);
        assert.match(schemes['bearer'].description, /`Mail\.Send\.Exosend`/);
      }
    }
    assert.match(documents.both['components'].securitySchemes.functionKeyHeader.description, /EXOSEND_CALLER_KEY/);
  });

  it('when a caller refusal code exists (src/auth/caller-refused.ts), then under entra and both every route describes it with the status the edge answers, and under key, where the host checks the key, none does', () => {
    for (const mode of callerAuthModes) {
      for (const [path, method] of Object.values(describedRoutes)) {
        const responses = documents[mode]['paths'][path][method].responses as Json;
        const where = (code: string) =>
          Object.entries(responses)
            .filter(([, response]) => describedCodes(response).includes(code))
            .map(([status]) => Number(status));
        for (const code of callerRefusalCodes) {
          const context = new InvocationContext({ functionName: 'openapi-test', logHandler: () => undefined });
          const answered = callerRefusalResponse(new CallerRefused(code, 'refused'), context, true).status;
          if (mode === 'key') {
            assert.deepEqual(where(code), [], `key ${method} ${path} describes ${code}, which only exosend answers`);
            continue;
          }
          assert.deepEqual(where(code), [answered], `${mode} ${method} ${path}: ${code} is answered ${answered}`);
        }
        // every route lists who-are-you and not-allowed answers
        assert.ok(responses['401'], `${mode} ${method} ${path} describes no 401`);
        if (mode === 'key') {
          assert.equal(responses['401'].content, undefined, "the host's 401 has no body");
          continue;
        }
        assert.ok(responses['403'], `${mode} ${method} ${path} describes no 403`);
        assert.ok(responses['401'].headers?.['WWW-Authenticate'], `${mode} ${method} ${path}: no WWW-Authenticate`);
      }
    }
  });

  it("when the diagnosis codes are read, then they are an enum of exactly the catalogue's codes", () => {
    assert.deepEqual(document['components'].schemas.DiagnosisCode.enum, Object.keys(catalogue));
    assert.deepEqual(document['components'].schemas.Diagnosis.properties.code, {
      $ref: '#/components/schemas/DiagnosisCode',
    });
    assert.deepEqual([...diagnosisCodes].sort(), Object.keys(catalogue).sort());
  });

  it('when the edge answers any failure it can produce, then under each EXOSEND_CALLER_AUTH value every route that can give it describes its status, its code, its body, its Retry-After and its WWW-Authenticate', () => {
    // Regression: /api/send's 429 (MAILBOX_BUDGET_SPENT, with a budget's diagnosis) was missing from
    // the document, which was written beside the edge rather than generated from it; so were the
    // caller refusals (401, 403, 503 CALLER_*), answered beside failureAnswers rather than from it.
    const produced = new Set<FailureKind>();
    const answers = everyFailureAnswer();
    for (const mode of callerAuthModes) {
      const challenges = documents[mode]['components'].headers.WWWAuthenticate.schema.enum as string[];
      for (const { what, answer } of answers) {
        const status = answer.status ?? 200;
        const body = answer.jsonBody as { error: { code: string } };
        const headers = new Headers(answer.headers);
        // the table the document is generated from holds what the code answered
        const kinds = (Object.entries(failureAnswers) as [FailureKind, FailureAnswer][]).filter(
          ([, a]) => a.status === status && a.codes.includes(body.error.code),
        );
        assert.equal(kinds.length, 1, `${what}: ${status} ${body.error.code} is not one answer of failureAnswers`);
        const [kind, entry] = kinds[0]!;
        if (entry.callerAuth && !entry.callerAuth.includes(mode)) continue;
        produced.add(kind);
        if (headers.has('retry-after'))
          assert.ok(entry.retryAfter, `${what}: Retry-After sent, but failureAnswers.${kind} says never`);
        if (entry.retryAfter === 'always')
          assert.ok(headers.has('retry-after'), `${what}: no Retry-After, but failureAnswers.${kind} says always`);
        assert.equal(headers.get('www-authenticate') ?? undefined, entry.wwwAuthenticate, `${what}: WWW-Authenticate`);
        // design.md: a 503 says when to try again; RFC 6750 section 3: a 401 to a bearer caller carries a challenge
        if (status === 503) assert.ok(headers.has('retry-after'), `${what}: a 503 without Retry-After`);
        if (status === 401) assert.ok(headers.has('www-authenticate'), `${what}: a 401 without WWW-Authenticate`);
        for (const [route, [path, method]] of Object.entries(describedRoutes) as [DescribedRoute, [string, string]][]) {
          if (cannotAnswer[route][kind]) continue;
          const result = validateResponseIn[mode](path, method, status, body);
          assert.ok(result.described, `${mode} ${what}: ${result.errors}`);
          assert.ok(
            result.ok,
            `${mode} ${what}: ${method} ${path} ${status} does not describe ${JSON.stringify(body).slice(0, 300)}: ${result.errors}`,
          );
          if (headers.has('retry-after'))
            assert.ok(
              result.headers['Retry-After'],
              `${mode} ${what}: ${method} ${path} ${status} does not describe Retry-After`,
            );
          if (headers.has('www-authenticate')) {
            assert.ok(
              result.headers['WWW-Authenticate'],
              `${mode} ${what}: ${method} ${path} ${status} does not describe WWW-Authenticate`,
            );
            assert.ok(challenges.includes(headers.get('www-authenticate')!), `${what}: challenge not described`);
          }
        }
      }
    }
    assert.deepEqual(
      [...produced].sort(),
      Object.keys(failureAnswers).sort(),
      'every kind of answer in failureAnswers was produced by errorResponse above',
    );
    // and a narrowed answer is not one that accepts anything
    assert.equal(
      validateResponse('/send', 'post', 429, { error: { code: 'SMTP_AUTH_DISABLED', message: 'x' } }).ok,
      false,
    );
    assert.equal(validateResponse('/send', 'post', 400, { error: { code: 'NO_SUCH_CODE', message: 'x' } }).ok, false);
  });

  it("when its version is read, then it is the package's", () => {
    assert.equal(apiVersion, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('when requests are checked by the document and by exosend, then what the document accepts exosend accepts too', () => {
    const example = document['paths']['/send'].post.requestBody.content['application/json'].example;
    const requests: [string, unknown, boolean][] = [
      ["the document's own example", example, true],
      [
        'a full request',
        mailRequest({
          cc: ['grace@fabrikam.example'],
          bcc: ['x@fabrikam.example'],
          replyTo: 'help@contoso.example',
          html: '<p>x</p>',
          attachments: [{ filename: 'a.pdf', contentType: 'Application/PDF', contentBase64: 'aGk=' }],
          headers: { 'X-Ticket': '123' },
          idempotencyKey: 'order-42',
        }),
        true,
      ],
      ['a bad address', mailRequest({ to: ['not an address'] }), false],
      ['an unknown field', mailRequest({ priority: 'high' }), false],
      ['a number as subject', mailRequest({ subject: 42 }), false],
      ['no subject', mailRequest({ subject: undefined }), false],
      ['an attachment without content', mailRequest({ attachments: [{ filename: 'a.txt' }] }), false],
      ['a header name with a colon', mailRequest({ headers: { 'X:Y': '1' } }), false],
      ['an idempotency key with a slash', mailRequest({ idempotencyKey: 'a/b' }), false],
    ];
    for (const [what, request, valid] of requests) {
      assert.equal(
        validate('MailRequest', request).ok,
        valid,
        `the document on ${what}: ${validate('MailRequest', request).errors}`,
      );
      if (valid) assert.equal(mailRequestSchema.safeParse(request).success, true, `exosend on ${what}`);
    }
  });

  it('when the README or docs/ show JSON, then every example is marked with its schema and matches it', () => {
    const readme = readDocs();
    const blocks = [...readme.matchAll(/(?:<!-- openapi: (\w+) -->\s*\n)?```json\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 5, `only ${blocks.length} JSON examples in the README`);
    const shown = new Set<string>();
    for (const [block, name, text] of blocks) {
      assert.ok(
        name,
        `a JSON example in the README says not which schema it shows (<!-- openapi: Name --> before it):\n${block.slice(0, 200)}`,
      );
      assertValid(name, JSON.parse(text!), `the README's ${name} example`);
      shown.add(name);
    }
    for (const name of ['MailRequest', 'SendResult', 'EnqueueAccepted', 'MessageStatus', 'Error'])
      assert.ok(shown.has(name), `the README shows no ${name}`);
  });
});

describe('the answers the functions give', () => {
  let h: Harness;
  let queue: QueueFixture;
  before(async () => {
    h = await startHarness(import.meta.url);
    queue = await startQueueFixture(h);
  });
  after(async () => {
    await queue?.close();
    await h?.close();
  });

  it('when /api/send succeeds, refuses or fails, then each answer matches its documented schema', async () => {
    h.reset();
    const sent = await h.send(mailRequest({ html: '<p>x</p>' }));
    assert.equal(sent.status, 200);
    assertValid('SendResult', sent.body, 'a 200 from /api/send');
    assert.ok(document['paths']['/send'].post.responses['200']);

    const refused = await h.send(mailRequest({ to: ['ada@fabrikam.example', 'nope'] }));
    assert.equal(refused.status, 400);
    assertValid('Error', refused.body, 'a 400 from /api/send');

    sandboxScenarios['smtp-auth-disabled'](h.sandbox);
    h.restartApp();
    const failed = await h.send(mailRequest());
    assert.equal(failed.status, 502);
    assertValid('Error', failed.body, 'a 502 from /api/send');
    assert.equal(failed.body.error.diagnosis.code, 'SMTP_AUTH_DISABLED');

    // and the document is not a schema that accepts anything
    assert.equal(validate('SendResult', { id: 'x' }).ok, false);
    assert.equal(
      validate('Error', {
        error: { code: 'X', message: 'y', diagnosis: { ...failed.body.error.diagnosis, code: 'NO_SUCH_CODE' } },
      }).ok,
      false,
    );
  });

  it('when /api/health is healthy or not, then both answers match HealthStatus', async () => {
    h.reset();
    const healthy = await h.http(getHealth, { method: 'GET', route: 'health' });
    assert.equal(healthy.status, 200);
    assertValid('HealthStatus', healthy.body, 'a 200 from /api/health');
    sandboxScenarios['missing-role'](h.sandbox);
    h.restartApp();
    const unhealthy = await h.http(getHealth, { method: 'GET', route: 'health' });
    assert.equal(unhealthy.status, 503);
    assertValid('HealthStatus', unhealthy.body, 'a 503 from /api/health');
  });

  it('when the local host serves a spent budget and /api/health, then the 429 with Retry-After and the health with budgets match the document', async () => {
    // Regression: the document had no 429 for /api/send and no `budgets` in /api/health, though the
    // running app answered both.
    const host = await startLocalHost();
    const resetApp = host.registrations.entry['resetRuntime'] as () => void;
    try {
      h.reset({ EXOSEND_RATE_PER_MINUTE: '1' });
      resetApp();
      const base = `http://127.0.0.1:${host.port}/api`;
      const call = (route: string, init: RequestInit = {}) =>
        fetch(`${base}/${route}`, {
          ...init,
          headers: { 'x-functions-key': functionKey, 'content-type': 'application/json', ...init.headers },
        });
      const send = () => call('send', { method: 'POST', body: JSON.stringify(mailRequest()) });
      assert.equal((await send()).status, 200);
      const spent = await send();
      const body = (await spent.json()) as Json;
      assert.equal(spent.status, 429, JSON.stringify(body));
      assert.ok(Number(spent.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
      const described = validateResponse('/send', 'post', 429, body);
      assert.ok(described.ok, `the 429 does not match the document: ${described.errors}\n${JSON.stringify(body)}`);
      assert.ok(described.headers['Retry-After'], 'the document describes its Retry-After');
      assert.equal(body.error.diagnosis.code, 'MINUTE_LIMIT_REACHED');

      const health = await call('health');
      const status = (await health.json()) as Json;
      assert.equal(health.status, 200, JSON.stringify(status));
      assert.equal(status.budgets.length, 1);
      assert.equal(status.budgets[0].minute.used, 1);
      const healthy = validateResponse('/health', 'get', 200, status);
      assert.ok(healthy.ok, `/api/health does not match the document: ${healthy.errors}`);
      // the document holds budgets to their shape: one without its minute is refused
      assert.equal(
        validateResponse('/health', 'get', 200, { ...status, budgets: [{ ...status.budgets[0], minute: undefined }] })
          .ok,
        false,
      );
    } finally {
      resetApp();
      await host.close();
    }
  });

  it('when a request is enqueued and looked up, then the 202, the record and the 404 match their schemas', async () => {
    h.reset(queue.settings);
    const accepted = await h.http(enqueueMail, {
      route: 'enqueue',
      body: mailRequest({ idempotencyKey: 'openapi-1' }),
    });
    assert.equal(accepted.status, 202);
    assertValid('EnqueueAccepted', accepted.body, 'a 202 from /api/enqueue');
    const record = await h.http(messageStatus, {
      method: 'GET',
      route: 'messages/openapi-1',
      params: { id: 'openapi-1' },
    });
    assert.equal(record.status, 200);
    assertValid('MessageStatus', record.body, 'a 200 from /api/messages/{id}');
    const missing = await h.http(messageStatus, { method: 'GET', route: 'messages/none', params: { id: 'none' } });
    assert.equal(missing.status, 404);
    assertValid('Error', missing.body, 'a 404 from /api/messages/{id}');
  });
});
