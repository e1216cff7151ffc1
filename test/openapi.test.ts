import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { diagnosisCodes } from '../src/diagnosis/diagnosis.js';
import { catalogue } from '../src/diagnosis/catalogue.js';
import { getOpenApiDocument } from '../src/functions/openapi.js';
import { getHealth } from '../src/functions/health-status.js';
import { enqueueMail } from '../src/functions/enqueue.js';
import { messageStatus } from '../src/functions/message-status.js';
import { apiVersion, openApiDocument } from '../src/http/openapi-document.js';
import { loadRegistrations } from '../src/local-host/registrations.js';
import { mailRequestSchema } from '../src/mail/mail-request.js';
import { sandboxScenarios } from '../src/sandbox/index.js';
import { mailRequest, startHarness, type Harness } from './harness.js';
import { startQueueFixture, type QueueFixture } from './queue-fixture.js';

// ajv-formats is CommonJS with a default export that Node's ESM loader hands over wrapped
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, any>;

const document = openApiDocument('http://127.0.0.1:7071/api') as Json;

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
const assertValid = (name: string, value: unknown, what: string) => {
  const { ok, errors } = validate(name, value);
  assert.ok(ok, `${what} does not match ${name}: ${errors}\n${JSON.stringify(value).slice(0, 500)}`);
};

describe('GET /api/openapi.json', () => {
  it('when validated with an OpenAPI 3.1 validator, then it is a valid document', async () => {
    const result = await new Validator().validate(document as never);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(document['openapi'], '3.1.0');
  });

  it('when the function is called, then it answers the same document with this host as its server', async () => {
    const h = await startHarness(import.meta.url);
    try {
      const reply = await h.http(async (request, context) => {
        const response = await getOpenApiDocument(request, context);
        void context;
        return { ...response, jsonBody: JSON.parse(String(response.body)) };
      }, { method: 'GET', route: 'openapi.json' });
      assert.equal(reply.status, 200);
      assert.match(reply.headers['content-type'] ?? '', /^application\/json/);
      assert.deepEqual(reply.body.servers, [{ url: 'http://127.0.0.1:7071/api' }]);
      assert.deepEqual(reply.body.paths, document['paths']);
    } finally {
      await h.close();
    }
  });

  it('when the app registers its HTTP functions, then each route and method is described, and nothing else', async () => {
    const { http } = await loadRegistrations('.');
    assert.ok(http.length >= 5, `only ${http.length} HTTP functions were learned`);
    const registered = http.flatMap((f) => (f.methods ?? ['GET', 'POST']).map((m) => `${m.toLowerCase()} /${f.route ?? f.name}`)).sort();
    const described = Object.entries(document['paths'] as Json).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)).sort();
    assert.deepEqual(described, registered);
    for (const f of http) assert.equal(f.authLevel, 'function', `${f.name} is described as needing the function key`);
  });

  it('when the security scheme is read, then it is the function key as header x-functions-key or query code', () => {
    const schemes = Object.values(document['components'].securitySchemes as Json).map((s) => `${s.type} ${s.in} ${s.name}`).sort();
    assert.deepEqual(schemes, ['apiKey header x-functions-key', 'apiKey query code']);
    assert.equal((document['security'] as unknown[]).length, 2, 'either of the two is enough');
  });

  it('when the diagnosis codes are read, then they are an enum of exactly the catalogue\'s codes', () => {
    assert.deepEqual(document['components'].schemas.DiagnosisCode.enum, Object.keys(catalogue));
    assert.deepEqual(document['components'].schemas.Diagnosis.properties.code, { $ref: '#/components/schemas/DiagnosisCode' });
    assert.deepEqual([...diagnosisCodes].sort(), Object.keys(catalogue).sort());
  });

  it('when its version is read, then it is the package\'s', () => {
    assert.equal(apiVersion, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('when requests are checked by the document and by exosend, then what the document accepts exosend accepts too', () => {
    const example = document['paths']['/send'].post.requestBody.content['application/json'].example;
    const requests: [string, unknown, boolean][] = [
      ['the document\'s own example', example, true],
      ['a full request', mailRequest({ cc: ['grace@fabrikam.example'], bcc: ['x@fabrikam.example'], replyTo: 'help@contoso.example', html: '<p>x</p>', attachments: [{ filename: 'a.pdf', contentType: 'Application/PDF', contentBase64: 'aGk=' }], headers: { 'X-Ticket': '123' }, idempotencyKey: 'order-42' }), true],
      ['a bad address', mailRequest({ to: ['not an address'] }), false],
      ['an unknown field', mailRequest({ priority: 'high' }), false],
      ['a number as subject', mailRequest({ subject: 42 }), false],
      ['no subject', mailRequest({ subject: undefined }), false],
      ['an attachment without content', mailRequest({ attachments: [{ filename: 'a.txt' }] }), false],
      ['a header name with a colon', mailRequest({ headers: { 'X:Y': '1' } }), false],
      ['an idempotency key with a slash', mailRequest({ idempotencyKey: 'a/b' }), false],
    ];
    for (const [what, request, valid] of requests) {
      assert.equal(validate('MailRequest', request).ok, valid, `the document on ${what}: ${validate('MailRequest', request).errors}`);
      if (valid) assert.equal(mailRequestSchema.safeParse(request).success, true, `exosend on ${what}`);
    }
  });

  it('when the README shows JSON, then every example is marked with its schema and matches it', () => {
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [...readme.matchAll(/(?:<!-- openapi: (\w+) -->\s*\n)?```json\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 5, `only ${blocks.length} JSON examples in the README`);
    const shown = new Set<string>();
    for (const [block, name, text] of blocks) {
      assert.ok(name, `a JSON example in the README says not which schema it shows (<!-- openapi: Name --> before it):\n${block.slice(0, 200)}`);
      assertValid(name, JSON.parse(text!), `the README's ${name} example`);
      shown.add(name);
    }
    for (const name of ['MailRequest', 'SendResult', 'EnqueueAccepted', 'MessageStatus', 'Error']) assert.ok(shown.has(name), `the README shows no ${name}`);
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
    assert.equal(validate('Error', { error: { code: 'X', message: 'y', diagnosis: { ...failed.body.error.diagnosis, code: 'NO_SUCH_CODE' } } }).ok, false);
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

  it('when a request is enqueued and looked up, then the 202, the record and the 404 match their schemas', async () => {
    h.reset(queue.settings);
    const accepted = await h.http(enqueueMail, { route: 'enqueue', body: mailRequest({ idempotencyKey: 'openapi-1' }) });
    assert.equal(accepted.status, 202);
    assertValid('EnqueueAccepted', accepted.body, 'a 202 from /api/enqueue');
    const record = await h.http(messageStatus, { method: 'GET', route: 'messages/openapi-1', params: { id: 'openapi-1' } });
    assert.equal(record.status, 200);
    assertValid('MessageStatus', record.body, 'a 200 from /api/messages/{id}');
    const missing = await h.http(messageStatus, { method: 'GET', route: 'messages/none', params: { id: 'none' } });
    assert.equal(missing.status, 404);
    assertValid('Error', missing.body, 'a 404 from /api/messages/{id}');
  });
});
