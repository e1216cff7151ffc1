import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import {
  AggregateAuthenticationError,
  AuthenticationError,
  AuthenticationRequiredError,
  CredentialUnavailableError,
} from '@azure/identity';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { catalogue } from '../src/diagnosis/catalogue.js';
import { diagnose } from '../src/diagnosis/diagnose.js';
import { redactSecrets } from '../src/diagnosis/redact-secrets.js';
import { classifyIdentityError, classifySmtpError, classifyVaultError } from '../src/diagnosis/classify.js';
import { diagnosisCodes, type DiagnosisCode, type DiagnosisContext, type Stage } from '../src/diagnosis/diagnosis.js';

const context: DiagnosisContext = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  clientId: '11111111-2222-3333-4444-555555555555',
  mailbox: 'noreply@contoso.com',
  from: 'billing@contoso.com',
  vaultUrl: 'https://contoso-exosend.vault.azure.net',
  secretName: 'exosend-client-secret',
  scope: 'https://outlook.office365.com/.default',
};
const jwt =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const secret = 'Xq8Q~s3cr3t.V4lue_do-not-leak';
const xoauth2 = Buffer.from(`user=noreply@contoso.com\x01auth=Bearer ${jwt}\x01\x01`).toString('base64');
const retryable: DiagnosisCode[] = [
  'TEMPORARY_FAILURE',
  'CONCURRENCY_LIMIT',
  'TOKEN_ENDPOINT_UNAVAILABLE',
  'VAULT_UNREACHABLE',
  'TOKEN_EXPIRES_SOON',
  'GRAPH_THROTTLED',
  'GRAPH_UNAVAILABLE',
];

interface Expected {
  code: DiagnosisCode;
  stage: Stage;
  smtp?: RegExp;
}
const expectDiagnosis = (actual: ReturnType<typeof diagnose>, expected: Expected) => {
  assert.equal(actual.code, expected.code);
  assert.equal(actual.stage, expected.stage);
  assert.equal(actual.retryable, retryable.includes(expected.code));
  if (expected.smtp) assert.match(actual.smtp ?? '', expected.smtp);
  assert.doesNotMatch(`${actual.cause} ${actual.fix}`, /\{\w+\}/);
};

describe('catalogue', () => {
  // the words of each cause and fix are pinned by test/diagnosis-catalogue.snapshot.md
  test('when any code is looked up, then exactly the transient ones are retryable', () => {
    for (const code of diagnosisCodes) assert.equal(catalogue[code].retryable, retryable.includes(code), code);
  });

  test("when the context is known, then every placeholder names the admin's app, mailbox and vault", () => {
    for (const code of diagnosisCodes)
      assert.doesNotMatch(JSON.stringify(diagnose(code, context)), /\{\w+\}|<client id>|<mailbox>/, code);
    const sendAs = diagnose('SEND_AS_DENIED', context);
    assert.match(
      sendAs.fix,
      /Add-RecipientPermission -Identity billing@contoso\.com -Trustee noreply@contoso\.com -AccessRights SendAs/,
    );
    assert.match(diagnose('VAULT_ACCESS_DENIED', context).fix, /Key vaults > contoso-exosend > Access control/);
  });

  test('when a federated credential does not match, then the fix is the one az command with this app, issuer, subject and audience', () => {
    const d = diagnose('FEDERATED_CREDENTIAL_MISMATCH', {
      ...context,
      subject: '99999999-8888-7777-6666-555555555555',
      audience: 'api://AzureADTokenExchange',
    });
    assert.ok(
      d.fix.includes(
        `az ad app federated-credential create --id ${context.clientId} --parameters '{"name":"exosend-function-app","issuer":"https://login.microsoftonline.com/${context.tenantId}/v2.0","subject":"99999999-8888-7777-6666-555555555555","audiences":["api://AzureADTokenExchange"]}'`,
      ),
      d.fix,
    );
  });

  test('when the context is empty, then the fix still reads, with named stand-ins', () => {
    const d = diagnose('APP_NOT_REGISTERED_IN_EXCHANGE');
    assert.match(
      d.fix,
      /New-ServicePrincipal -AppId <client id> -ObjectId <Object ID from Entra admin center > Enterprise applications/,
    );
    for (const code of diagnosisCodes) assert.doesNotMatch(JSON.stringify(diagnose(code)), /\{\w+\}/, code);
  });

  test('when 535 5.7.3 is diagnosed, then the fix is the five-step checklist with its commands', () => {
    const { fix } = diagnose('AUTH_UNSUCCESSFUL', context);
    for (const step of [
      '1. Audience',
      '2. Permission',
      '3. Service principal',
      '4. Mailbox permission',
      '5. SMTP AUTH',
    ])
      assert.ok(fix.includes(step), step);
    assert.match(fix, /Add-MailboxPermission -Identity noreply@contoso\.com -User <.*> -AccessRights FullAccess/);
    assert.match(fix, /Set-CASMailbox -Identity noreply@contoso\.com -SmtpClientAuthenticationDisabled \$false/);
    assert.match(fix, /SMTP\.SendAsApp.*Grant admin consent/);
  });

  test('when the daily quota is exceeded, then it is not retried now but says when it can be', () => {
    assert.deepEqual(
      [diagnose('DAILY_QUOTA_EXCEEDED').retryable, diagnose('DAILY_QUOTA_EXCEEDED').retryAfterSeconds],
      [false, 3600],
    );
    assert.equal(diagnose('VAULT_UNREACHABLE', {}, { retryAfterSeconds: 12 }).retryAfterSeconds, 12);
    assert.equal(diagnose('TEMPORARY_FAILURE').retryAfterSeconds, undefined);
  });
});

const smtpError = (response: string | undefined, code: string, command: string, extra: object = {}) =>
  Object.assign(new Error(response ? `Invalid login: ${response}` : 'Connection closed unexpectedly'), {
    code,
    command,
    ...(response ? { response, responseCode: Number(response.slice(0, 3)) } : {}),
    ...extra,
  });

describe('classifySmtpError', () => {
  const cases: [string, Error, Expected][] = [
    [
      '535 5.7.139 disabled for the tenant',
      smtpError(
        '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [SN4PR0601CA0005.namprd06.prod.outlook.com 2025-05-01T10:00:00.000Z 08DD7F1E]',
        'EAUTH',
        'AUTH XOAUTH2',
      ),
      { code: 'SMTP_AUTH_DISABLED', stage: 'auth', smtp: /^535 5\.7\.139/ },
    ],
    [
      '535 5.7.139 criteria',
      smtpError(
        '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator. [AM0PR02CA0001.eurprd02.prod.outlook.com]',
        'EAUTH',
        'AUTH XOAUTH2',
      ),
      { code: 'APP_NOT_REGISTERED_IN_EXCHANGE', stage: 'auth' },
    ],
    [
      '535 5.7.3',
      smtpError(
        '535 5.7.3 Authentication unsuccessful [SN4PR0601CA0002.namprd06.prod.outlook.com 2025-05-01T10:00:00.000Z 08DD7F1E]',
        'EAUTH',
        'AUTH XOAUTH2',
      ),
      { code: 'AUTH_UNSUCCESSFUL', stage: 'auth', smtp: /^535 5\.7\.3 / },
    ],
    [
      '550 5.7.30 basic auth',
      smtpError('550 5.7.30 Basic authentication is not supported for Client Submission.', 'EAUTH', 'AUTH PLAIN'),
      { code: 'AUTH_UNSUCCESSFUL', stage: 'auth' },
    ],
    [
      '501 5.5.124 bad user=',
      smtpError('501 5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid', 'EAUTH', 'AUTH XOAUTH2'),
      { code: 'AUTH_UNSUCCESSFUL', stage: 'auth' },
    ],
    [
      '501 5.5.127',
      smtpError('501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon', 'EAUTH', 'AUTH XOAUTH2'),
      { code: 'TOKEN_EXPIRES_SOON', stage: 'auth' },
    ],
    [
      '530 5.7.57',
      smtpError(
        '530 5.7.57 Client not authenticated to send mail. [DM6PR08CA0001.namprd08.prod.outlook.com]',
        'EENVELOPE',
        'MAIL FROM',
      ),
      { code: 'NOT_AUTHENTICATED', stage: 'send' },
    ],
    [
      '530 quoting an earlier 535 5.7.139 disabled',
      smtpError(
        '530 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.',
        'EENVELOPE',
        'MAIL FROM',
      ),
      { code: 'SMTP_AUTH_DISABLED', stage: 'send' },
    ],
    [
      '554 5.2.252 (KB486942)',
      smtpError(
        '554 5.2.252 SendAsDenied; noreply@contoso.com not allowed to send as billing@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.',
        'EMESSAGE',
        'DATA',
      ),
      { code: 'SEND_AS_DENIED', stage: 'send', smtp: /SendAsDenied/ },
    ],
    [
      '554 5.2.0 SendAsDeniedException (older)',
      smtpError(
        '554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception',
        'EMESSAGE',
        'DATA',
      ),
      { code: 'SEND_AS_DENIED', stage: 'send' },
    ],
    [
      '550 5.7.60',
      smtpError('550 5.7.60 SMTP; Client does not have permissions to send as this sender', 'EENVELOPE', 'MAIL FROM'),
      { code: 'SEND_AS_DENIED', stage: 'send' },
    ],
    [
      '432 4.3.2',
      smtpError(
        '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=BY5PR04MB6327]',
        'EENVELOPE',
        'MAIL FROM',
      ),
      { code: 'CONCURRENCY_LIMIT', stage: 'send' },
    ],
    [
      '554 5.2.0 quota',
      smtpError(
        '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.',
        'EMESSAGE',
        'DATA',
      ),
      { code: 'DAILY_QUOTA_EXCEEDED', stage: 'send' },
    ],
    [
      '554 5.2.2',
      smtpError(
        '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded; Failed to process message',
        'EMESSAGE',
        'DATA',
      ),
      { code: 'MAILBOX_FULL', stage: 'send' },
    ],
    [
      '550 5.7.708',
      smtpError(
        '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.',
        'EENVELOPE',
        'MAIL FROM',
      ),
      { code: 'SENDER_BLOCKED', stage: 'send' },
    ],
    [
      '550 5.7.750',
      smtpError(
        '550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains.',
        'EENVELOPE',
        'MAIL FROM',
      ),
      { code: 'SENDER_BLOCKED', stage: 'send' },
    ],
    [
      '550 5.1.8',
      smtpError('550 5.1.8 Access denied, bad outbound sender.', 'EENVELOPE', 'MAIL FROM'),
      { code: 'SENDER_BLOCKED', stage: 'send' },
    ],
    [
      '550 5.7.233',
      smtpError(
        "550 5.7.233 Your message can't be sent because your tenant exceeded its daily limit for sending email to external recipients.",
        'EENVELOPE',
        'RCPT TO',
      ),
      { code: 'SENDER_BLOCKED', stage: 'send' },
    ],
    [
      '421 4.7.66',
      smtpError(
        '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.',
        'ECONNECTION',
        'CONN',
      ),
      { code: 'TLS_REJECTED', stage: 'tls' },
    ],
    [
      'STARTTLS required, not offered',
      smtpError('502 5.5.2 Error: command not recognized', 'ETLS', 'STARTTLS'),
      { code: 'TLS_REJECTED', stage: 'tls' },
    ],
    [
      'an untrusted certificate',
      Object.assign(new Error('Error initiating TLS - self-signed certificate in certificate chain'), {
        code: 'ETLS',
        command: 'STARTTLS',
      }),
      { code: 'TLS_REJECTED', stage: 'tls', smtp: /ETLS/ },
    ],
    [
      '451 4.7.0',
      smtpError('451 4.7.0 Temporary server error. Please try again later. PRX5', 'EMESSAGE', 'DATA'),
      { code: 'TEMPORARY_FAILURE', stage: 'send' },
    ],
    [
      '421 4.3.2 at the greeting',
      smtpError('421 4.3.2 Service not active', 'ECONNECTION', 'CONN'),
      { code: 'TEMPORARY_FAILURE', stage: 'connect' },
    ],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 52.96.0.1:587'), {
        code: 'ESOCKET',
        originalCode: 'ECONNREFUSED',
        command: 'CONN',
      }),
      { code: 'TEMPORARY_FAILURE', stage: 'connect', smtp: /ESOCKET \(ECONNREFUSED\)/ },
    ],
    [
      'a greeting timeout',
      Object.assign(new Error('Greeting never received'), {
        code: 'ETIMEDOUT',
        command: 'CONN',
        timeoutType: 'GREETING_TIMEOUT',
      }),
      { code: 'TEMPORARY_FAILURE', stage: 'connect' },
    ],
    [
      'a DNS failure',
      Object.assign(new Error('getaddrinfo EAI_AGAIN smtp.office365.com'), { code: 'EDNS', command: 'CONN' }),
      { code: 'TEMPORARY_FAILURE', stage: 'connect' },
    ],
    [
      '554 5.2.0 message too large',
      smtpError(
        '554 5.2.0 STOREDRV.Submission.Exception:MessageSubmissionExceededException; Failed to process message',
        'EMESSAGE',
        'DATA',
      ),
      { code: 'SMTP_REJECTED', stage: 'send' },
    ],
    [
      '550 5.1.10 unknown recipient',
      smtpError(
        '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
        'EENVELOPE',
        'RCPT TO',
      ),
      { code: 'SMTP_REJECTED', stage: 'send' },
    ],
  ];
  for (const [name, err, expected] of cases) {
    test(`when nodemailer fails with ${name}, then the diagnosis is ${expected.code} at ${expected.stage}`, () => {
      expectDiagnosis(classifySmtpError(err, context), expected);
    });
  }

  test('when the token cannot be had inside the provisionCallback, then the token failure is diagnosed, not SMTP', () => {
    const err = Object.assign(
      new AuthenticationRequiredError({
        scopes: [],
        message: aadsts('invalid_client', 7000215, 'Invalid client secret provided.'),
      }),
      { code: 'EAUTH', command: 'AUTH XOAUTH2' },
    );
    expectDiagnosis(classifySmtpError(err, context), { code: 'INVALID_CLIENT_SECRET', stage: 'token' });
    const carried = { ...diagnose('VAULT_ACCESS_DENIED', context), stage: 'vault' as const };
    assert.deepEqual(
      classifySmtpError(Object.assign(new Error('x'), { code: 'EAUTH', diagnosis: carried }), context),
      carried,
    );
  });
});

describe('classifySmtpError with a real nodemailer and server', () => {
  const servers: { close(cb?: () => void): unknown }[] = [];
  after(() => servers.forEach((s) => s.close()));
  const listen = async (server: net.Server | SMTPServer) => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return ((server as SMTPServer & { server?: net.Server }).server ?? (server as net.Server)).address() as AddressInfo;
  };
  const send = (port: number, options: object) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port, secure: false, connectionTimeout: 3000, ...options })
      .sendMail({ from: context.mailbox, to: 'a@example.com', text: 'x' })
      .then(
        () => assert.fail('the send should fail'),
        (err: unknown) => err,
      );

  test('when Exchange answers AUTH with 535 5.7.3, then AUTH_UNSUCCESSFUL at auth and the token is not in the diagnosis', async () => {
    const { port } = await listen(
      new SMTPServer({
        disabledCommands: ['STARTTLS'],
        allowInsecureAuth: true,
        authMethods: ['XOAUTH2'],
        disableReverseLookup: true,
        onAuth: (_auth, _session, cb) =>
          cb(
            Object.assign(new Error('5.7.3 Authentication unsuccessful [SN4PR0601CA0002.namprd06.prod.outlook.com]'), {
              responseCode: 535,
            }),
          ),
      }),
    );
    const d = classifySmtpError(
      await send(port, { ignoreTLS: true, auth: { type: 'OAuth2', user: context.mailbox, accessToken: jwt } }),
      context,
    );
    expectDiagnosis(d, { code: 'AUTH_UNSUCCESSFUL', stage: 'auth', smtp: /^535 5\.7\.3 Authentication unsuccessful/ });
    assert.ok(!JSON.stringify(d).includes(jwt.slice(0, 40)));
  });

  test('when STARTTLS is required but the server does not offer it, then TLS_REJECTED at tls', async () => {
    const { port } = await listen(
      new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], disableReverseLookup: true }),
    );
    expectDiagnosis(classifySmtpError(await send(port, { requireTLS: true }), context), {
      code: 'TLS_REJECTED',
      stage: 'tls',
    });
  });

  test('when the server drops the connection before its greeting, then TEMPORARY_FAILURE at connect', async () => {
    const { port } = await listen(net.createServer((socket) => socket.destroy()));
    expectDiagnosis(classifySmtpError(await send(port, {}), context), { code: 'TEMPORARY_FAILURE', stage: 'connect' });
  });
});

/** The message @azure/identity's AuthenticationRequiredError carries for a token-endpoint error (MSAL's format). */
function aadsts(error: string, code: number, text: string): string {
  return `${error}: Error(s): ${code} - Timestamp: 2025-05-01 10:00:00Z - Description: AADSTS${code}: ${text} Trace ID: 0a1b2c3d-0000-0000-0000-000000000000 Correlation ID: 4e5f6a7b-0000-0000-0000-000000000000 Timestamp: 2025-05-01 10:00:00Z - Correlation ID: 4e5f6a7b-0000-0000-0000-000000000000 - Trace ID: 0a1b2c3d-0000-0000-0000-000000000000`;
}
const required = (message: string) => new AuthenticationRequiredError({ scopes: [context.scope ?? ''], message });

describe('classifyIdentityError', () => {
  const cases: [string, unknown, DiagnosisCode][] = [
    [
      'AADSTS7000215',
      required(
        aadsts(
          'invalid_client',
          7000215,
          "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '11111111-2222-3333-4444-555555555555'.",
        ),
      ),
      'INVALID_CLIENT_SECRET',
    ],
    [
      'AADSTS7000222',
      required(
        aadsts(
          'invalid_client',
          7000222,
          "The provided client secret keys for app '11111111-2222-3333-4444-555555555555' are expired.",
        ),
      ),
      'CLIENT_SECRET_EXPIRED',
    ],
    [
      'AADSTS700016',
      required(
        aadsts(
          'unauthorized_client',
          700016,
          "Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory 'Contoso'.",
        ),
      ),
      'APP_NOT_FOUND_IN_TENANT',
    ],
    [
      'AADSTS7000112',
      required(
        aadsts(
          'unauthorized_client',
          7000112,
          "Application '11111111-2222-3333-4444-555555555555'(exosend) is disabled.",
        ),
      ),
      'APP_NOT_FOUND_IN_TENANT',
    ],
    [
      'AADSTS90002',
      required(aadsts('invalid_request', 90002, "Tenant 'contoso.onmicrosoft.co' not found.")),
      'TENANT_NOT_FOUND',
    ],
    [
      'AADSTS500011',
      required(
        aadsts(
          'invalid_resource',
          500011,
          'The resource principal named https://outlook.office.com was not found in the tenant named Contoso.',
        ),
      ),
      'TOKEN_WRONG_AUDIENCE',
    ],
    [
      'AADSTS1002012',
      required(
        aadsts(
          'invalid_scope',
          1002012,
          'The provided value for scope openid profile https://outlook.office365.com is not valid.',
        ),
      ),
      'TOKEN_WRONG_AUDIENCE',
    ],
    [
      'an AuthenticationError with AADSTS7000222',
      new AuthenticationError(401, {
        error: 'invalid_client',
        error_description:
          'AADSTS7000222: The provided client secret keys are expired.\r\nTrace ID: a\r\nCorrelation ID: b',
        error_codes: [7000222],
      }),
      'CLIENT_SECRET_EXPIRED',
    ],
    [
      'an invalid tenant id',
      new Error(
        'Invalid tenant id provided. You can locate your tenant id by following the instructions listed here: https://learn.microsoft.com/partner-center/find-ids-and-domain-names.',
      ),
      'TENANT_NOT_FOUND',
    ],
    [
      'AADSTS90033 temporarily_unavailable',
      required(
        'temporarily_unavailable: Error(s): 90033 - Timestamp: Not Available - Description: AADSTS90033: A transient error has occurred. Please try again. - Correlation ID: Not Available - Trace ID: Not Available',
      ),
      'TOKEN_ENDPOINT_UNAVAILABLE',
    ],
    [
      'a network_error',
      required('network_error: See https://aka.ms/msal.js.errors#network_error for details'),
      'TOKEN_ENDPOINT_UNAVAILABLE',
    ],
    [
      'an endpoints_resolution_error',
      new CredentialUnavailableError(
        'endpoints_resolution_error: See https://aka.ms/msal.js.errors#endpoints_resolution_error for details',
      ),
      'TOKEN_ENDPOINT_UNAVAILABLE',
    ],
    [
      'a 503 AuthenticationError',
      new AuthenticationError(503, '<html>Service Unavailable</html>'),
      'TOKEN_ENDPOINT_UNAVAILABLE',
    ],
    [
      'AADSTS700027',
      required(
        aadsts(
          'invalid_client',
          700027,
          "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: 'ABC']",
        ),
      ),
      'CERTIFICATE_NOT_REGISTERED',
    ],
    [
      'AADSTS700211',
      required(
        aadsts(
          'invalid_request',
          700211,
          "No matching federated identity record found for presented assertion issuer 'https://login.microsoftonline.com/x/v2.0'.",
        ),
      ),
      'FEDERATED_CREDENTIAL_MISMATCH',
    ],
    [
      'AADSTS700212',
      required(
        aadsts(
          'invalid_request',
          700212,
          "No matching federated identity record found for presented assertion audience 'api://AzureADTokenExchange'.",
        ),
      ),
      'FEDERATED_CREDENTIAL_MISMATCH',
    ],
    [
      'AADSTS700213',
      required(
        aadsts(
          'invalid_request',
          700213,
          "No matching federated identity record found for presented assertion subject '00000000-0000-0000-0000-000000000000'.",
        ),
      ),
      'FEDERATED_CREDENTIAL_MISMATCH',
    ],
    // the undivided code older tenants and older replies still carry
    [
      'AADSTS70021',
      new AuthenticationError(400, {
        error: 'invalid_request',
        error_description:
          "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: 'https://login.microsoftonline.com/x/v2.0'. Assertion Subject: 'y'. Assertion Audience: 'api://AzureADTokenExchange'.\r\nTrace ID: a",
        error_codes: [70021],
      }),
      'FEDERATED_CREDENTIAL_MISMATCH',
    ],
  ];
  for (const [name, err, code] of cases) {
    test(`when Entra fails with ${name}, then the diagnosis is ${code}`, () => {
      const d = classifyIdentityError(err, context);
      expectDiagnosis(d, { code, stage: 'token' });
      assert.doesNotMatch(d.smtp ?? '', /Trace ID|Correlation ID/);
    });
  }

  test('when the secret is refused, then the reply keeps the AADSTS line and its OAuth error', () => {
    const d = classifyIdentityError(cases[0]?.[1], context);
    assert.match(
      d.smtp ?? '',
      /^invalid_client: AADSTS7000215: Invalid client secret provided\. .* for a secret added to app '11111111-2222-3333-4444-555555555555'\.$/,
    );
    assert.match(d.fix, /app 11111111-2222-3333-4444-555555555555 > Certificates & secrets > New client secret/);
  });
});

const restError = (
  message: string,
  statusCode: number | undefined,
  code: string | undefined,
  headers: Record<string, string> = {},
) => {
  const request = createPipelineRequest({ url: `${context.vaultUrl}/secrets/exosend-client-secret/?api-version=7.6` });
  const response =
    statusCode === undefined ? undefined : { request, status: statusCode, headers: createHttpHeaders(headers) };
  return new RestError(message, {
    ...(code ? { code } : {}),
    ...(statusCode ? { statusCode } : {}),
    request,
    ...(response ? { response } : {}),
  });
};

describe('classifyVaultError', () => {
  const now = Date.parse('2025-05-01T10:00:00Z');
  const cases: [string, unknown, DiagnosisCode, number?][] = [
    [
      '404 SecretNotFound',
      restError(
        'A secret with (name/id) exosend-client-secret was not found in this key vault.',
        404,
        'SecretNotFound',
      ),
      'VAULT_SECRET_NOT_FOUND',
    ],
    [
      '403 Forbidden',
      restError(
        "Caller is not authorized to perform action on resource.\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
        403,
        'Forbidden',
      ),
      'VAULT_ACCESS_DENIED',
    ],
    ['401 after the challenge', restError('AKV10032: Invalid issuer.', 401, 'Unauthorized'), 'VAULT_ACCESS_DENIED'],
    [
      '429 with Retry-After seconds',
      restError('Request was not processed because too many requests were received.', 429, 'Throttled', {
        'retry-after': '12',
      }),
      'VAULT_UNREACHABLE',
      12,
    ],
    [
      '503 with a Retry-After date',
      restError('Unexpected status code: 503', 503, undefined, { 'retry-after': 'Thu, 01 May 2025 10:00:30 GMT' }),
      'VAULT_UNREACHABLE',
      30,
    ],
    ['ECONNREFUSED', restError('connect ECONNREFUSED 10.0.0.4:443', undefined, 'ECONNREFUSED'), 'VAULT_UNREACHABLE'],
    [
      'ENOTFOUND',
      restError('getaddrinfo ENOTFOUND contoso-exosend.vault.azure.net', undefined, 'ENOTFOUND'),
      'VAULT_UNREACHABLE',
    ],
    ['REQUEST_SEND_ERROR', restError('socket hang up', undefined, 'REQUEST_SEND_ERROR'), 'VAULT_UNREACHABLE'],
    [
      'a secret without a value',
      Object.assign(new Error('The secret has no value.'), { statusCode: 404, code: 'SecretNotFound' }),
      'VAULT_SECRET_NOT_FOUND',
    ],
    [
      'no managed identity (IMDS unreachable)',
      new CredentialUnavailableError(
        'ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details',
      ),
      'VAULT_ACCESS_DENIED',
    ],
    [
      'DefaultAzureCredential finding no credential',
      new AggregateAuthenticationError(
        [
          new CredentialUnavailableError('EnvironmentCredential is unavailable.'),
          new CredentialUnavailableError('ManagedIdentityCredential: Network unreachable.'),
        ],
        'ChainedTokenCredential authentication failed.',
      ),
      'VAULT_ACCESS_DENIED',
    ],
    [
      'the identity endpoint failing with 503',
      new AuthenticationError(503, { error: 'server_error', error_description: 'The identity endpoint is busy.' }),
      'VAULT_UNREACHABLE',
    ],
    [
      'an unknown user-assigned identity',
      new AuthenticationError(400, { error: 'invalid_request', error_description: 'Identity not found' }),
      'VAULT_ACCESS_DENIED',
    ],
  ];
  for (const [name, err, code, retryAfterSeconds] of cases) {
    test(`when the vault read fails with ${name}, then the diagnosis is ${code}`, () => {
      const d = classifyVaultError(err, context, now);
      expectDiagnosis(d, { code, stage: 'vault' });
      assert.equal(d.retryAfterSeconds, retryAfterSeconds);
    });
  }

  test('when the managed identity is missing, then the fix names the Function App identity and AZURE_CLIENT_ID', () => {
    const d = classifyVaultError(cases[9]?.[1], context, now);
    assert.match(d.fix, /Function App > Settings > Identity/);
    assert.match(d.fix, /AZURE_CLIENT_ID/);
    assert.match(d.smtp ?? '', /ManagedIdentityCredential: Network unreachable/);
  });
});

describe('secrets never reach a diagnosis', () => {
  const leaks: [string, () => ReturnType<typeof diagnose>][] = [
    [
      'an SMTP reply quoting a bearer token',
      () =>
        classifySmtpError(
          smtpError(`535 5.7.3 Authentication unsuccessful auth=Bearer ${jwt}`, 'EAUTH', 'AUTH XOAUTH2'),
          context,
        ),
    ],
    [
      'an XOAUTH2 blob',
      () => classifySmtpError(smtpError(`535 5.7.3 bad ${xoauth2}`, 'EAUTH', 'AUTH XOAUTH2'), context),
    ],
    [
      'a token request body',
      () =>
        classifyIdentityError(
          required(
            `invalid_request: client_id=${context.clientId}&client_secret=${secret}&grant_type=client_credentials`,
          ),
          context,
        ),
    ],
    [
      'a JSON body with tokens',
      () =>
        classifyIdentityError(
          new AuthenticationError(400, {
            error: 'invalid_request',
            error_description: `AADSTS900144: The request body must contain the following parameter: 'grant_type'. Body: {"access_token":"${jwt}","client_secret":"${secret}"}`,
          }),
          context,
        ),
    ],
    [
      'an AADSTS text quoting a JWT',
      () =>
        classifyIdentityError(
          required(aadsts('invalid_client', 7000215, `Assertion ${jwt} client_secret=${secret}`)),
          context,
        ),
    ],
    [
      'a vault error quoting a JWT',
      () =>
        classifyVaultError(restError(`Token ${jwt} rejected; client_secret: ${secret}`, 401, 'Unauthorized'), context),
    ],
  ];
  for (const [name, run] of leaks) {
    test(`when an error carries ${name}, then neither the token nor the secret appears in the diagnosis`, () => {
      const out = JSON.stringify(run());
      for (const leak of [jwt, jwt.split('.')[1] ?? jwt, secret, xoauth2.slice(0, 24)])
        assert.ok(!out.includes(leak), out);
    });
  }

  test('when text is redacted, then ordinary reply text stays readable', () => {
    assert.equal(
      redactSecrets('535 5.7.3 Authentication unsuccessful [SN4PR0601CA0002]'),
      '535 5.7.3 Authentication unsuccessful [SN4PR0601CA0002]',
    );
    assert.equal(redactSecrets(`x client_secret=${secret}&scope=s`), 'x client_secret=[redacted]&scope=s');
    assert.equal(
      redactSecrets(`{"access_token":"${jwt}","client_secret":"${secret}"}`),
      '{"access_token":"[redacted]","client_secret":"[redacted]"}',
    );
  });
});
