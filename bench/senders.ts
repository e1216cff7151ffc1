import { randomUUID } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import functions, { type HttpRequest, type InvocationContext } from '@azure/functions';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { sendMail } from '../src/functions/send.js';
import { benchMail, benchRequest } from './message.js';
import type { StandInInfo } from './stand-ins.js';

// the package is CommonJS that Node's ESM loader cannot read these names from
const { HttpRequest: Request, InvocationContext: Context } = functions;

/**
 * One way of sending the benchmark message. `prepare` builds what arrives with the call (the host's
 * HttpRequest, or the message object); `send` resolves once Exchange has accepted the message.
 */
export interface Sender<T = unknown> {
  name: 'exosend' | 'floor' | 'baseline';
  prepare(index: number): T;
  send(prepared: T): Promise<void>;
  close(): void;
}

const exchangeScope = 'https://outlook.office365.com/.default';

/** What the Functions host hands /api/send: an HttpRequest (undici underneath) and an InvocationContext. */
export function hostInvocation(index: number): { request: HttpRequest; context: InvocationContext } {
  return {
    request: new Request({
      method: 'POST',
      url: 'http://127.0.0.1:7071/api/send',
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify(benchRequest(index)) },
    }),
    context: new Context({ functionName: 'send', invocationId: randomUUID(), logHandler: () => undefined }),
  };
}

/** exosend as the Functions host drives it: the real /api/send handler, warm, logs discarded. */
export function exosendSender(): Sender<ReturnType<typeof hostInvocation>> {
  return {
    name: 'exosend',
    prepare: hostInvocation,
    async send({ request, context }) {
      const response = await sendMail(request, context);
      if (response.status !== 200)
        throw new Error(`exosend answered ${response.status}: ${JSON.stringify(response.jsonBody)}`);
    },
    close: () => undefined,
  };
}

/**
 * The floor: nodemailer's pool with one token fetched up front; no exosend code in the path. It gets
 * the sessions exosend's sends get (Exchange's 3, less the one exosend keeps for its health check).
 */
export async function floorSender(info: StandInInfo): Promise<Sender<SendMailOptions>> {
  const credential = new ClientSecretCredential(info.tenantId, info.clientId, info.secret, {
    authorityHost: info.authorityHost,
    disableInstanceDiscovery: true,
  });
  const { token } = await credential.getToken(exchangeScope);
  const mailbox = info.mailboxes.floor;
  const transport = nodemailer.createTransport({ ...smtpOptions(info, mailbox, token), pool: true, maxConnections: 2 });
  return {
    name: 'floor',
    prepare: (index) => benchMail(mailbox, index),
    send: async (mail) => void (await transport.sendMail(mail)),
    close: () => transport.close(),
  };
}

/**
 * The baseline: what the support article's script does for every message -- a new credential asks
 * Entra for a token, then a new SMTP session: connect, STARTTLS, AUTH XOAUTH2, send, QUIT.
 */
export function baselineSender(info: StandInInfo): Sender<SendMailOptions> {
  const mailbox = info.mailboxes.baseline;
  return {
    name: 'baseline',
    prepare: (index) => benchMail(mailbox, index),
    async send(mail) {
      const credential = new ClientSecretCredential(info.tenantId, info.clientId, info.secret, {
        authorityHost: info.authorityHost,
        disableInstanceDiscovery: true,
      });
      const { token } = await credential.getToken(exchangeScope);
      const transport = nodemailer.createTransport(smtpOptions(info, mailbox, token));
      try {
        await transport.sendMail(mail);
      } finally {
        transport.close();
      }
    },
    close: () => undefined,
  };
}

/** The references' SMTP settings: STARTTLS required and XOAUTH2 with a fixed token, as the article's script does. */
function smtpOptions(info: StandInInfo, mailbox: string, token: string) {
  return {
    host: info.smtp.host,
    port: info.smtp.port,
    secure: false,
    requireTLS: true,
    auth: { type: 'OAuth2' as const, user: mailbox, accessToken: token },
  };
}
