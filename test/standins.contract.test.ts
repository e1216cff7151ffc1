// Contract tests of the sandbox stand-ins: their subject is the stand-in, not exosend. Each drives a
// stand-in with the real SDK (or the raw protocol) and checks that it answers as the service it
// stands in for, so that every other test, which trusts the stand-ins, meets the service's behaviour.
// Files named *.contract.test.ts hold them: `npm test -- contract` runs them alone.
// It needs the sandbox CA trusted at process start: NODE_EXTRA_CA_CERTS=.exosend/sandbox/ca.pem
// (scripts/test.mjs creates and sets it).
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createPrivateKey, randomUUID } from 'node:crypto';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { decodeJwt, SignJWT, type JWTPayload } from 'jose';
import nodemailer from 'nodemailer';
import { sandboxScenarios, startSandbox, type Sandbox, type SandboxScenarioName } from '../local/sandbox/index.js';
import { issueClientCertificate, type ClientCertificate } from '../local/sandbox/pki.js';

const exchangeScope = 'https://outlook.office365.com/.default';
let sandbox: Sandbox;

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

function credential(secret = sandbox.app.secret, tenant = sandbox.app.tenantId, clientId = sandbox.app.clientId) {
  return new ClientSecretCredential(tenant, clientId, secret, {
    authorityHost: sandbox.identity.authorityHost,
    disableInstanceDiscovery: true,
  });
}

/** A new credential each time: the SDK caches tokens per instance, and scenarios change what Entra issues. */
async function exchangeToken(): Promise<string> {
  return (await credential().getToken(exchangeScope)).token;
}

function secretClient(cred: ConstructorParameters<typeof SecretClient>[1] = new DefaultAzureCredential()) {
  return new SecretClient(sandbox.vault.url, cred, { disableChallengeResourceVerification: true });
}

async function send(
  options: { from?: string; to?: string[]; user?: string; token?: string | null; pool?: boolean } = {},
) {
  const user = options.user ?? sandbox.app.mailbox;
  const token = options.token === undefined ? await exchangeToken() : options.token;
  const transport = nodemailer.createTransport({
    host: sandbox.exchange.host,
    port: sandbox.exchange.port,
    secure: false,
    requireTLS: true,
    ...(token === null ? {} : { auth: { type: 'OAuth2' as const, user, accessToken: token } }),
  });
  try {
    return await transport.sendMail({
      from: options.from ?? user,
      to: options.to ?? ['ada@fabrikam.example'],
      subject: 'stand-in contract',
      text: 'hello',
    });
  } finally {
    transport.close();
  }
}

async function sendFailure(options: Parameters<typeof send>[0] = {}): Promise<SmtpFailure> {
  try {
    await send(options);
  } catch (error) {
    return error as SmtpFailure;
  }
  assert.fail('the send was expected to fail');
}

/** Speaks SMTP line by line on a clear-text socket, for what nodemailer would not send. */
async function clearTextDialogue(commands: string[]): Promise<string[]> {
  const socket = connect(sandbox.exchange.port, sandbox.exchange.host);
  const replies: string[] = [];
  let buffer = '';
  const nextReply = () =>
    new Promise<string>((resolveReply) => {
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString();
        const complete = /(^|\r\n)\d{3} [^\r\n]*\r\n$/.exec(buffer);
        if (!complete) return;
        socket.off('data', onData);
        const reply = buffer;
        buffer = '';
        resolveReply(reply.trimEnd());
      };
      socket.on('data', onData);
    });
  replies.push(await nextReply());
  for (const command of commands) {
    socket.write(`${command}\r\n`);
    replies.push(await nextReply());
  }
  socket.destroy();
  return replies;
}

before(async () => {
  sandbox = await startSandbox();
  const trusted = process.env.NODE_EXTRA_CA_CERTS;
  assert.ok(
    trusted && resolve(trusted) === resolve(sandbox.ca.path),
    `start this process with NODE_EXTRA_CA_CERTS=${sandbox.ca.path} (now: ${trusted ?? 'unset'})`,
  );
  // MSAL picks its managed-identity source once, from these, when a credential is built.
  for (const name of [
    'AZURE_CLIENT_ID',
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_SECRET',
    'MSI_ENDPOINT',
    'IDENTITY_SERVER_THUMBPRINT',
    'IMDS_ENDPOINT',
  ]) {
    delete process.env[name];
  }
  process.env.IDENTITY_ENDPOINT = sandbox.settings.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = sandbox.settings.IDENTITY_HEADER;
});

after(() => sandbox.close());

beforeEach(() => {
  sandboxScenarios.healthy(sandbox);
  sandbox.identity.resetCounters();
  sandbox.vault.resetCounters();
  sandbox.exchange.resetCounters();
});

describe('contract of the identity platform stand-in', () => {
  it('when ClientSecretCredential asks for the Exchange scope, then the token carries Exchange app-only v1.0 claims', async () => {
    const { token } = await credential().getToken(exchangeScope);
    const claims = decodeJwt(token);
    const { app } = sandbox;
    assert.equal(claims.aud, 'https://outlook.office365.com');
    assert.equal(claims.iss, `https://sts.windows.net/${app.tenantId}/`);
    assert.equal(claims.tid, app.tenantId);
    assert.equal(claims.appid, app.clientId);
    assert.equal(claims.appidacr, '1');
    assert.equal(claims.idtyp, 'app');
    assert.equal(claims.oid, app.servicePrincipalId);
    assert.equal(claims.sub, app.servicePrincipalId);
    assert.equal(claims.ver, '1.0');
    assert.deepEqual(claims.roles, ['SMTP.SendAsApp']);
    assert.equal(claims.scp, undefined);
    assert.equal(Number(claims.exp) - Math.floor(Date.now() / 1000) > 3500, true);
    assert.deepEqual(await sandbox.identity.verifyToken(token), claims);
    assert.equal(sandbox.identity.counters.tokenRequests, 1);
  });

  it('when the tenant is given by its domain and the scope is Key Vault, then the token is for the vault with no roles', async () => {
    const { token } = await credential(undefined, sandbox.app.tenantDomain).getToken(
      'https://vault.azure.net/.default',
    );
    const claims = decodeJwt(token);
    assert.equal(claims.aud, 'https://vault.azure.net');
    assert.equal(claims.tid, sandbox.app.tenantId);
    assert.equal(claims.roles, undefined);
  });

  for (const [what, make, code] of [
    ['a wrong secret', () => credential('not-the-secret'), 'AADSTS7000215'],
    ['an unknown app', () => credential(undefined, undefined, '11111111-2222-3333-4444-555555555555'), 'AADSTS700016'],
  ] as const) {
    it(`when the credential has ${what}, then getToken throws with ${code} in the message`, async () => {
      await assert.rejects(make().getToken(exchangeScope), (error: Error) => error.message.includes(code));
    });
  }

  it('when the token endpoints are called directly, then they answer with Entra-shaped bodies and statuses', async () => {
    const { authorityHost } = sandbox.identity;
    const { tenantId, clientId, secret } = sandbox.app;
    const post = async (path: string, form: Record<string, string>) => {
      const response = await fetch(`${authorityHost}/${path}`, { method: 'POST', body: new URLSearchParams(form) });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as Record<string, unknown>,
      };
    };
    const grant = { grant_type: 'client_credentials', client_id: clientId, client_secret: secret };

    const v1 = await post(`${tenantId}/oauth2/token`, { ...grant, scope: exchangeScope });
    assert.equal(v1.status, 200);
    assert.equal(decodeJwt(String(v1.body.access_token)).aud, 'https://graph.microsoft.com', 'v1 ignores scope');

    const badScope = await post(`${tenantId}/oauth2/v2.0/token`, {
      ...grant,
      scope: 'https://outlook.office365.com/SMTP.SendAsApp',
    });
    assert.equal(badScope.status, 400);
    assert.equal(badScope.body.error, 'invalid_scope');
    assert.deepEqual(badScope.body.error_codes, [1002012]);

    const noTenant = await post('contoso.invalid/oauth2/v2.0/token', { ...grant, scope: exchangeScope });
    assert.equal(noTenant.status, 400);
    assert.equal(noTenant.body.error, 'invalid_request');
    assert.match(
      String(noTenant.body.error_description),
      /^AADSTS90002: Tenant 'contoso.invalid' not found\..*\r\nTrace ID: \S+\r\nCorrelation ID: \S+\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/s,
    );

    sandbox.identity.updateApp(clientId, { secretExpired: true });
    const expired = await post(`${tenantId}/oauth2/v2.0/token`, { ...grant, scope: exchangeScope });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error, 'invalid_client');
    assert.deepEqual(expired.body.error_codes, [7000222]);

    sandbox.identity.failTokenRequests(1, 503, 2);
    const unavailable = await post(`${tenantId}/oauth2/v2.0/token`, { ...grant, scope: exchangeScope });
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.body.error, 'temporarily_unavailable');
    assert.equal(unavailable.headers.get('retry-after'), '2');
  });
});

describe('contract of the identity platform stand-in: client assertions', () => {
  const tokenEndpoint = () => `${sandbox.identity.authorityHost}/${sandbox.app.tenantId}/oauth2/v2.0/token`;
  const now = () => Math.floor(Date.now() / 1000);

  /** An assertion as MSAL signs one: PS256, x5t#S256 of the certificate, iss = sub = the client ID, aud = the token endpoint. */
  function certificateAssertion(cert: ClientCertificate, claims: JWTPayload = {}, header: Record<string, string> = {}) {
    const x5tS256 = Buffer.from(cert.thumbprintSha256, 'hex').toString('base64url');
    const { clientId } = sandbox.app;
    return new SignJWT({
      aud: tokenEndpoint(),
      iss: clientId,
      sub: clientId,
      jti: randomUUID(),
      nbf: now(),
      exp: now() + 600,
      ...claims,
    })
      .setProtectedHeader({ alg: 'PS256', 'x5t#S256': x5tS256, ...header })
      .sign(createPrivateKey(cert.keyPem));
  }

  async function redeem(assertion: string) {
    const response = await fetch(tokenEndpoint(), {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: sandbox.app.clientId,
        scope: exchangeScope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });
    const body = (await response.json()) as {
      access_token?: string;
      error?: string;
      error_codes?: number[];
      error_description?: string;
    };
    return { status: response.status, body };
  }

  it('when ClientCertificateCredential signs with the registered certificate, then the token says so (appidacr 2)', async () => {
    const { certPem, keyPem } = sandbox.app.certificate;
    const cred = new ClientCertificateCredential(
      sandbox.app.tenantId,
      sandbox.app.clientId,
      { certificate: `${keyPem}${certPem}` },
      {
        authorityHost: sandbox.identity.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const claims = decodeJwt((await cred.getToken(exchangeScope)).token);
    assert.equal(claims['appidacr'], '2');
    assert.equal(claims['appid'], sandbox.app.clientId);
  });

  const refusals: [string, () => Promise<string>, number, number, RegExp][] = [
    [
      'signed by a certificate the app does not know',
      () => certificateAssertion(issueClientCertificate()),
      401,
      700027,
      /Reason - The key was not found\., Thumbprint of key used by client: '[0-9A-F]{64}'/,
    ],
    [
      "signed by another key under the registered certificate's thumbprint",
      async () => {
        const other = issueClientCertificate();
        return certificateAssertion({ ...other, thumbprintSha256: sandbox.app.certificate.thumbprintSha256 });
      },
      401,
      700027,
      /invalid signature/,
    ],
    [
      'for another audience',
      () =>
        certificateAssertion(sandbox.app.certificate, {
          aud: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
        }),
      401,
      700022,
      /audience/,
    ],
    [
      'about another subject',
      () => certificateAssertion(sandbox.app.certificate, { sub: randomUUID() }),
      401,
      700021,
      /doesn't match 'client_id'/,
    ],
    [
      'expired ten minutes ago',
      () => certificateAssertion(sandbox.app.certificate, { nbf: now() - 1800, exp: now() - 600 }),
      401,
      700024,
      /not within its valid time range/,
    ],
    [
      'valid only from in an hour',
      () => certificateAssertion(sandbox.app.certificate, { nbf: now() + 3600, exp: now() + 4200 }),
      401,
      700024,
      /not within its valid time range/,
    ],
  ];
  for (const [name, make, status, code, text] of refusals) {
    it(`when the assertion is ${name}, then Entra's status, AADSTS${code} and text come back`, async () => {
      const { status: got, body } = await redeem(await make());
      assert.equal(got, status, JSON.stringify(body));
      assert.deepEqual(body.error_codes, [code]);
      assert.match(body.error_description ?? '', new RegExp(`^AADSTS${code}: `));
      assert.match(body.error_description ?? '', text);
    });
  }

  it('when MSAL rounds nbf a second or two ahead, then the assertion is still accepted', async () => {
    const { status, body } = await redeem(await certificateAssertion(sandbox.app.certificate, { nbf: now() + 2 }));
    assert.equal(status, 200, JSON.stringify(body));
  });

  it("when the managed identity's token for the token exchange is the assertion, then it matches the federated credential; for another audience it does not", async () => {
    const identity = new ManagedIdentityCredential({ clientId: sandbox.app.federatedIdentity.clientId });
    const exchangeAssertion = (await identity.getToken('api://AzureADTokenExchange/.default')).token;
    const claims = decodeJwt(exchangeAssertion);
    assert.equal(claims.iss, sandbox.app.federation.issuer);
    assert.equal(claims.sub, sandbox.app.federatedIdentity.objectId);
    assert.equal((await redeem(exchangeAssertion)).status, 200);

    const vaultToken = (await identity.getToken('https://vault.azure.net/.default')).token;
    const refused = await redeem(vaultToken);
    // a v1.0 token names sts.windows.net as issuer: no federated credential has it
    assert.deepEqual(refused.body.error_codes, [700211]);
    assert.equal(refused.status, 400);
  });

  it("when the managed identity's assertion names another audience than the federated credential, or the same in another letter case, then AADSTS700212 names the audience it presented", async () => {
    // Entra matches a federated credential's issuer, subject and audience exactly, case included
    // (Entra's breaking change of 2025, "Federated identity credentials now use case-sensitive
    // matching", quoted in Azure/login issue #517): the audience exosend asks for must be the one registered.
    const identity = new ManagedIdentityCredential({ clientId: sandbox.app.federatedIdentity.clientId });
    const { issuer, subject } = sandbox.app.federation;
    const registerAudience = (audience: string) =>
      sandbox.identity.updateApp(sandbox.app.clientId, {
        federatedCredentials: [{ name: 'exosend-function-app', issuer, subject, audiences: [audience] }],
      });
    const usGov = 'api://AzureADTokenExchangeUSGov';
    const publicCloud = (await identity.getToken('api://AzureADTokenExchange/.default')).token;
    const usGovCloud = (await identity.getToken(`${usGov}/.default`)).token;
    assert.equal(decodeJwt(usGovCloud).aud, usGov);

    registerAudience(usGov);
    assert.equal((await redeem(usGovCloud)).status, 200);
    const refused = await redeem(publicCloud);
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body.error_codes, [700212]);
    assert.match(refused.body.error_description ?? '', /presented assertion audience 'api:\/\/AzureADTokenExchange'/);

    registerAudience('API://AzureADTokenExchange');
    assert.deepEqual((await redeem(publicCloud)).body.error_codes, [700212]);
  });
});

describe('contract of the Key Vault stand-in', () => {
  it('when DefaultAzureCredential runs with IDENTITY_ENDPOINT and IDENTITY_HEADER, then SecretClient reads the seeded secret through the 401 challenge', async () => {
    const secret = await secretClient().getSecret(sandbox.app.secretName);
    assert.equal(secret.value, sandbox.app.secret);
    assert.equal(
      secret.properties.expiresOn?.getTime(),
      Math.floor(sandbox.app.secretExpiresOn.getTime() / 1000) * 1000,
    );
    assert.equal(sandbox.identity.counters.managedIdentityRequests, 1);
    assert.equal(sandbox.identity.counters.tokenRequests, 0);
    assert.equal(sandbox.vault.reads, 1);
  });

  it('when a secret is rotated, then a read without a version gets the newest value', async () => {
    const rotated = sandbox.vault.setSecret(sandbox.app.secretName, 'next-value');
    const secret = await secretClient().getSecret(sandbox.app.secretName);
    assert.equal(secret.value, 'next-value');
    assert.equal(secret.properties.version, rotated.version);
  });

  it('when a user-assigned identity is named by client ID, then its token is the one the vault checks', async () => {
    const assigned = sandbox.identity.addUserAssignedIdentity();
    const cred = new ManagedIdentityCredential({ clientId: assigned.clientId });
    const claims = decodeJwt((await cred.getToken('https://vault.azure.net/.default')).token);
    assert.equal(claims.appid, assigned.clientId);
    assert.equal(claims.oid, assigned.objectId);
    await assert.rejects(secretClient(cred).getSecret(sandbox.app.secretName), { statusCode: 403 });
    sandbox.vault.grantAccess(assigned.objectId);
    assert.equal((await secretClient(cred).getSecret(sandbox.app.secretName)).value, sandbox.app.secret);
  });
});

describe('contract of the Exchange Online SMTP stand-in', () => {
  it('when nodemailer sends with STARTTLS and XOAUTH2, then the message is kept with its mailbox, envelope and claims', async () => {
    const info = await send();
    const [message] = sandbox.exchange.messages.slice(-1);
    assert.ok(message);
    assert.equal(info.response, `250 2.0.0 OK ${info.messageId} [Hostname=${sandbox.exchange.hostname}]`);
    assert.equal(message.messageId, info.messageId);
    assert.equal(message.mailbox, sandbox.app.mailbox);
    assert.deepEqual(message.envelope, { mailFrom: sandbox.app.mailbox, rcptTo: ['ada@fabrikam.example'] });
    assert.equal(message.claims.appid, sandbox.app.clientId);
    assert.match(message.raw.toString(), /^Subject: stand-in contract$/m);
    assert.equal(sandbox.exchange.counters.authSuccesses, 1);
    assert.equal(sandbox.exchange.counters.accepted, 1);
  });

  const smtpScenarios: [SandboxScenarioName, SmtpFailure, { from?: string }?][] = [
    [
      'smtp-auth-disabled',
      {
        responseCode: 535,
        response:
          '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
      },
    ],
    [
      'service-principal-not-registered',
      {
        responseCode: 535,
        response:
          '535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator.',
      },
    ],
    ['missing-role', { responseCode: 535, response: '535 5.7.3 Authentication unsuccessful' }],
    ['graph-audience', { responseCode: 535, response: '535 5.7.3 Authentication unsuccessful' }],
    [
      'send-as-denied',
      {
        responseCode: 554,
        response:
          '554 5.2.252 SendAsDenied; exosend@contoso.example not allowed to send as billing@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.',
      },
      { from: 'billing@contoso.example' },
    ],
    ['throttled', { responseCode: 432, response: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' }],
    [
      'mailbox-full',
      {
        responseCode: 554,
        response:
          '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded',
      },
    ],
  ];
  for (const [name, expected, options] of smtpScenarios) {
    it(`when the sandbox is "${name}", then Exchange answers ${expected.response?.slice(0, 9)}`, async () => {
      sandboxScenarios[name](sandbox);
      const failure = await sendFailure(options);
      assert.equal(failure.responseCode, expected.responseCode);
      assert.equal(failure.response, expected.response);
      assert.deepEqual(sandbox.exchange.counters.replies[0], {
        code: expected.responseCode,
        text: expected.response?.slice(4),
      });
    });
  }

  it('when the "send-as-denied" mailbox sends as itself, then it is still accepted', async () => {
    sandboxScenarios['send-as-denied'](sandbox);
    assert.match((await send()).response, /^250 2\.0\.0 OK/);
  });

  it('when the mailbox has SMTP AUTH disabled, then AUTH names the mailbox', async () => {
    sandbox.exchange.configureMailbox(sandbox.app.mailbox, { smtpAuthDisabled: true });
    const failure = await sendFailure();
    assert.equal(
      failure.response,
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.',
    );
  });

  it('when user= is a mailbox without FullAccess for the app, then AUTH gets 535 5.7.3', async () => {
    sandbox.exchange.addMailbox('ceo@contoso.example', { tenantId: sandbox.app.tenantId });
    const failure = await sendFailure({ user: 'ceo@contoso.example' });
    assert.equal(failure.response, '535 5.7.3 Authentication unsuccessful');
  });

  it('when the token has less left than Exchange wants, then AUTH gets 501 5.5.127', async () => {
    sandbox.identity.updateApp(sandbox.app.clientId, { lifetimeSeconds: 300 });
    sandbox.exchange.setLimits({ minTokenLifetimeSeconds: 600 });
    const failure = await sendFailure();
    assert.equal(failure.response, '501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon');
  });

  it('when MAIL FROM comes without AUTH, then it gets 530 5.7.57', async () => {
    const failure = await sendFailure({ token: null });
    assert.equal(failure.responseCode, 530);
    assert.equal(failure.response, `530 5.7.57 Client not authenticated to send mail. [${sandbox.exchange.hostname}]`);
  });

  it('when a client tries AUTH before STARTTLS, then AUTH is not offered and is refused with 504 5.7.4', async () => {
    const [greeting, ehlo, auth] = await clearTextDialogue(['EHLO client.example', 'AUTH XOAUTH2']);
    assert.match(greeting ?? '', /^220 \S+ Microsoft ESMTP MAIL Service ready/);
    assert.match(ehlo ?? '', /STARTTLS/);
    assert.doesNotMatch(ehlo ?? '', /AUTH/);
    assert.equal(auth, '504 5.7.4 Unrecognized authentication type');
  });

  it('when more messages arrive in a minute than allowed, then the excess gets the 4xx rate reply', async () => {
    sandbox.exchange.setLimits({ messagesPerMinute: 1 });
    await send();
    const failure = await sendFailure();
    assert.equal(failure.response, '450 4.7.0 STOREDRV.ClientSubmit; sender rate limit exceeded');
  });

  it('when a message would pass the rolling 24-hour recipient quota, then DATA gets 554 5.2.0', async () => {
    sandbox.exchange.configureMailbox(sandbox.app.mailbox, { dailyRecipientQuota: 1 });
    const failure = await sendFailure({ to: ['a@fabrikam.example', 'b@fabrikam.example'] });
    assert.equal(
      failure.response,
      '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.',
    );
  });

  it('when a fourth session of the mailbox authenticates, then its MAIL FROM gets 432 4.3.2', async () => {
    const token = await exchangeToken();
    const pool = nodemailer.createTransport({
      pool: true,
      maxConnections: 4,
      host: sandbox.exchange.host,
      port: sandbox.exchange.port,
      requireTLS: true,
      auth: { type: 'OAuth2', user: sandbox.app.mailbox, accessToken: token },
    });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, (_, i) =>
          pool.sendMail({ from: sandbox.app.mailbox, to: 'ada@fabrikam.example', subject: `pooled ${i}`, text: 'x' }),
        ),
      );
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as SmtpFailure).responseCode] : []));
      assert.deepEqual(refused, [432]);
      assert.equal(sandbox.exchange.counters.maxConcurrentSessions[sandbox.app.mailbox], 4);
    } finally {
      pool.close();
    }
  });

  it('when a test injects faults, then the reply is the injected one or the connection drops', async () => {
    sandbox.exchange.failNext('data', '451 4.7.0 Temporary server error. Please try again later. PRX4');
    const temporary = await sendFailure();
    assert.equal(temporary.responseCode, 451);
    assert.equal(temporary.response, '451 4.7.0 Temporary server error. Please try again later. PRX4');

    const seen: string[] = [];
    sandbox.exchange.setFaultInjector((context) => {
      seen.push(context.stage);
      return context.stage === 'mail' ? { drop: true } : undefined;
    });
    const dropped = await sendFailure();
    assert.equal(dropped.responseCode, undefined);
    assert.match(String(dropped.code), /^E(CONNECTION|SOCKET)$/);
    assert.deepEqual(seen, ['auth', 'mail']);
  });
});

describe('contract of the sandbox scenarios that stop the app before SMTP', () => {
  for (const [name, expected] of [
    ['wrong-secret', 'AADSTS7000215'],
    ['expired-secret', 'AADSTS7000222'],
  ] as const) {
    it(`when the sandbox is "${name}", then the secret read from the vault gets ${expected}`, async () => {
      sandboxScenarios[name](sandbox);
      const secret = await secretClient().getSecret(sandbox.app.secretName);
      await assert.rejects(credential(secret.value).getToken(exchangeScope), (error: Error) =>
        error.message.includes(expected),
      );
    });
  }

  for (const [name, statusCode, code] of [
    ['secret-missing', 404, 'SecretNotFound'],
    ['vault-denied', 403, 'Forbidden'],
  ] as const) {
    it(`when the sandbox is "${name}", then SecretClient throws a RestError ${statusCode} ${code}`, async () => {
      sandboxScenarios[name](sandbox);
      await assert.rejects(secretClient().getSecret(sandbox.app.secretName), { name: 'RestError', statusCode, code });
    });
  }
});

describe('contract of the Application Insights ingestion stand-in', () => {
  function post(payload: Buffer, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    return new Promise((resolvePost, reject) => {
      const req = request(new URL('v2.1/track', sandbox.appInsights.url), { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolvePost({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  const envelope = (iKey: string) => ({
    name: 'Microsoft.ApplicationInsights.Event',
    time: new Date().toISOString(),
    iKey,
    data: { baseType: 'EventData', baseData: { name: 'x' } },
  });

  it('when a gzipped batch arrives, then it is accepted and kept; an envelope for another key is refused by index', async () => {
    sandbox.appInsights.clear();
    const batch = [envelope(sandbox.appInsights.instrumentationKey), envelope('00000000-0000-0000-0000-000000000000')];
    const reply = await post(gzipSync(JSON.stringify(batch)), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });

    assert.equal(reply.status, 206);
    assert.deepEqual(
      { ...reply.body, errors: reply.body.errors.map((e: { index: number }) => e.index) },
      { itemsReceived: 2, itemsAccepted: 1, errors: [1] },
    );
    assert.equal(sandbox.appInsights.envelopes.length, 1);
  });
});
