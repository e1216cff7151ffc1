import { EventEmitter } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { AccessTokenClaims } from './access-token.js';
import { envelopeDsn } from './envelope-dsn.js';
import { authenticateXOAuth2 } from './exchange-auth.js';
import {
  ExchangeDirectory,
  type ExchangeTenantSettings,
  type Mailbox,
  type MailboxSettings,
  type ServicePrincipal,
} from './exchange-directory.js';
import { exchangeReplies, replyError, type SmtpReply } from './exchange-replies.js';
import type { TokenVerifier } from './identity.js';
import { judgeSubmission, type AcceptedMessage } from './exchange-submission.js';
import type { TlsMaterial } from './pki.js';
import { exchangeSmtpReplies } from './smtp-reply-rewriter.js';
import { FaultPlan, type FaultContext, type FaultInjector, type FaultStage, type SmtpFault } from './smtp-faults.js';
import { SubmissionLog } from './submission-log.js';

export type { FaultContext, FaultInjector, FaultStage, SmtpFault } from './smtp-faults.js';
export type { SmtpReply } from './exchange-replies.js';
export type { AcceptedMessage } from './exchange-submission.js';

export interface ExchangeStandInOptions {
  tls: TlsMaterial;
  identity: TokenVerifier;
  /** Each accepted message is also written there as `<timestamp>-<id>.eml`. */
  outboxDir?: string;
  /** The front end's name, in the greeting and in `[Hostname=...]`. */
  hostname?: string;
}

export interface ExchangeLimits {
  /** Concurrently authenticated sessions per mailbox; the next one gets 432 4.3.2 at MAIL FROM. */
  maxSessionsPerMailbox: number;
  /** Accepted messages per mailbox in any 60 s; 0 = no limit. */
  messagesPerMinute: number;
  /** The window `messagesPerMinute` is counted over: 60 s, as Exchange counts; shorter only to keep a benchmark short. */
  rateWindowInMs: number;
  /** The rolling day the recipient quota is counted over: 24 h, as Exchange counts; shorter in tests and the bench. */
  dayWindowInMs: number;
  /** Refuse tokens with less left than this (501 5.5.127); 0 = off. */
  minTokenLifetimeSeconds: number;
}

export interface ExchangeCounters {
  connections: number;
  authAttempts: number;
  authSuccesses: number;
  accepted: number;
  /** Every 4xx and 5xx reply sent, in order. */
  replies: SmtpReply[];
  /** Highest number of concurrently authenticated sessions seen, per mailbox. */
  maxConcurrentSessions: Record<string, number>;
}

export interface ExchangeStandIn {
  host: '127.0.0.1';
  port: number;
  hostname: string;
  messages: AcceptedMessage[];
  /** Emits 'message' (AcceptedMessage) once a message is accepted. */
  events: EventEmitter;
  counters: ExchangeCounters;
  readonly limits: ExchangeLimits;
  /** Tenants, mailboxes and permissions: the Graph stand-in judges by the same ones. */
  readonly directory: ExchangeDirectory;
  /** Accepted submissions per mailbox, whichever way they came: Exchange counts its limits per mailbox. */
  readonly submissions: SubmissionLog;
  /** Takes a message another front door accepted (Graph's sendMail) into the same outbox and counts. */
  deliver(message: AcceptedMessage): Promise<void>;
  setLimits(limits: Partial<ExchangeLimits>): void;
  configureTenant(tenantId: string, settings: Partial<ExchangeTenantSettings>): void;
  addMailbox(address: string, settings: Pick<MailboxSettings, 'tenantId'> & Partial<MailboxSettings>): Mailbox;
  configureMailbox(address: string, settings: Partial<Omit<MailboxSettings, 'tenantId'>>): void;
  /** New-ServicePrincipal -AppId -ObjectId (the Enterprise application's object ID). */
  registerServicePrincipal(principal: Omit<ServicePrincipal, 'rbac'> & { rbac?: boolean }): ServicePrincipal;
  removeServicePrincipal(tenantId: string, appId: string): void;
  /** Add-MailboxPermission -AccessRights FullAccess for the service principal of `appId`. */
  grantFullAccess(mailbox: string, appId: string): void;
  revokeFullAccess(mailbox: string, appId: string): void;
  /** Add-RecipientPermission -AccessRights SendAs: `mailbox` may send as `address`. */
  grantSendAs(mailbox: string, address: string): void;
  revokeSendAs(mailbox: string, address: string): void;
  setFaultInjector(injector: FaultInjector | undefined): void;
  failNext(stage: FaultStage, fault: SmtpFault | string, count?: number): void;
  /** Ends every open SMTP session from Exchange's side, between commands: as a front end does that restarts or ends an idle session. */
  endSessions(): void;
  /** Forgets faults, rate windows and quotas (not messages or configuration). */
  resetUsage(): void;
  resetCounters(): void;
  close(): Promise<void>;
}

const smtpAuthCommand = 'AUTH';

export async function startExchangeStandIn(options: ExchangeStandInOptions): Promise<ExchangeStandIn> {
  const hostname = options.hostname ?? 'SANDBOX01.exosend.prod.outlook.local';
  const directory = new ExchangeDirectory();
  const faults = new FaultPlan();
  const submissions = new SubmissionLog();
  const limits: ExchangeLimits = {
    maxSessionsPerMailbox: 3,
    messagesPerMinute: 30,
    rateWindowInMs: 60_000,
    dayWindowInMs: 24 * 60 * 60 * 1000,
    minTokenLifetimeSeconds: 0,
  };
  const counters: ExchangeCounters = {
    connections: 0,
    authAttempts: 0,
    authSuccesses: 0,
    accepted: 0,
    replies: [],
    maxConcurrentSessions: {},
  };
  const messages: AcceptedMessage[] = [];
  const events = new EventEmitter();
  const authenticated = new Map<string, Set<string>>();
  let nextMessageIndex = 0;
  if (options.outboxDir) await mkdir(options.outboxDir, { recursive: true });

  type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;
  interface SessionState {
    connection: Connection;
    mailbox?: Mailbox;
    claims?: AccessTokenClaims;
    messageIndex: number;
  }
  const sessions = new Map<string, SessionState>();

  /** A test's fault for this command: its reply, or 'dropped' once the connection is cut without one. */
  function takeFault(context: FaultContext): SmtpReply | 'dropped' | undefined {
    const action = faults.take(context);
    if (action && 'drop' in action) {
      sessions.get(context.sessionId)?.connection._socket.destroy();
      return 'dropped';
    }
    return action?.reply;
  }

  /** A reply refuses the command, none accepts it, 'dropped' leaves it unanswered (the socket is gone). */
  function answer(callback: (err?: Error | null) => void, verdict: SmtpReply | 'dropped' | undefined): void {
    if (verdict === 'dropped') return;
    callback(verdict ? replyError(verdict) : null);
  }

  function rememberSession(mailbox: Mailbox, sessionId: string): void {
    const address = mailbox.address.toLowerCase();
    const set = authenticated.get(address) ?? new Set<string>();
    set.add(sessionId);
    authenticated.set(address, set);
    counters.maxConcurrentSessions[address] = Math.max(counters.maxConcurrentSessions[address] ?? 0, set.size);
  }

  async function onAuth(user: string, token: string, sessionId: string): Promise<SmtpReply | 'dropped' | undefined> {
    counters.authAttempts += 1;
    const state = sessions.get(sessionId);
    if (!state) return exchangeReplies.authenticationUnsuccessful;
    const fault = takeFault({ stage: 'auth', mailbox: user, messageIndex: nextMessageIndex, sessionId });
    if (fault) return fault;
    const outcome = await authenticateXOAuth2(directory, options.identity, user, token, limits.minTokenLifetimeSeconds);
    if (!outcome.ok) return outcome.reply;
    state.mailbox = outcome.mailbox;
    state.claims = outcome.claims;
    rememberSession(outcome.mailbox, sessionId);
    counters.authSuccesses += 1;
    return undefined;
  }

  function onMailFrom(sessionId: string): SmtpReply | 'dropped' | undefined {
    const state = sessions.get(sessionId);
    if (!state?.mailbox) return exchangeReplies.notAuthenticated(hostname);
    state.messageIndex = nextMessageIndex++;
    const mailbox = state.mailbox;
    const fault = takeFault({ stage: 'mail', mailbox: mailbox.address, messageIndex: state.messageIndex, sessionId });
    if (fault) return fault;
    const order =
      mailbox.otherClientSessions + [...(authenticated.get(mailbox.address.toLowerCase()) ?? [])].indexOf(sessionId);
    if (limits.maxSessionsPerMailbox > 0 && order >= limits.maxSessionsPerMailbox)
      return exchangeReplies.threadLimitExceeded;
    return rateExceeded(mailbox);
  }

  /** Counted at MAIL FROM and again at the end of DATA: sessions in parallel must not slip past it together. */
  function rateExceeded(mailbox: Mailbox): SmtpReply | undefined {
    if (
      limits.messagesPerMinute > 0 &&
      submissions.messagesSince(mailbox.address, limits.rateWindowInMs) >= limits.messagesPerMinute
    ) {
      return exchangeReplies.rateLimitExceeded;
    }
    return undefined;
  }

  async function accept(message: AcceptedMessage): Promise<void> {
    // counted before anything is awaited: the limits are judged on it at once
    submissions.record(message.mailbox, message.envelope.rcptTo.length);
    if (options.outboxDir) {
      const stamp = message.receivedAt.toISOString().replace(/[:.]/g, '-');
      await writeFile(join(options.outboxDir, `${stamp}-${message.id}.eml`), message.raw);
    }
    message.transport ??= 'smtp';
    messages.push(message);
    counters.accepted += 1;
    events.emit('message', message);
  }

  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<SmtpReply | 'dropped'> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const state = sessions.get(session.id);
    if (!state?.mailbox || !state.claims) return exchangeReplies.notAuthenticated(hostname);
    const raw = Buffer.concat(chunks);
    const fault = takeFault({
      stage: 'data',
      mailbox: state.mailbox.address,
      messageIndex: state.messageIndex,
      sessionId: session.id,
      raw,
    });
    if (fault) return fault;
    const rate = rateExceeded(state.mailbox);
    if (rate) return rate;
    submissions.dayInMs = limits.dayWindowInMs;
    const verdict = judgeSubmission(
      {
        mailbox: state.mailbox,
        claims: state.claims,
        sessionId: session.id,
        envelope: session.envelope,
        raw,
        sizeExceeded: stream.sizeExceeded,
        hostname,
      },
      submissions,
    );
    if ('code' in verdict) return verdict;
    const dsn = envelopeDsn(session.envelope);
    await accept(dsn ? { ...verdict, dsn } : verdict);
    return exchangeReplies.queued(verdict.messageId, hostname);
  }

  const server = new SMTPServer({
    secure: false,
    key: options.tls.keyPem,
    cert: options.tls.certPem,
    minVersion: 'TLSv1.2',
    name: hostname,
    heloResponse: '%s Hello %s',
    authMethods: ['XOAUTH2'],
    // MAIL before AUTH must reach onMailFrom, which answers as Exchange does (530 5.7.57).
    authOptional: true,
    disableReverseLookup: true,
    size: 35 * 1024 * 1024,
    hideREQUIRETLS: true,
    // Exchange Online offers DSN (RFC 3461) and honours RET, ENVID and NOTIFY
    hideDSN: false,
    logger: false,
    onConnect(session, callback) {
      counters.connections += 1;
      const connection = [...server.connections].find((c) => c.session === session);
      if (!connection) return callback(new Error('stand-in lost track of the connection'));
      exchangeSmtpReplies(connection, hostname, (reply) => counters.replies.push(reply));
      // Exchange offers AUTH only once TLS is up.
      session.disabledCommands = [smtpAuthCommand];
      sessions.set(session.id, { connection, messageIndex: nextMessageIndex });
      callback();
    },
    onSecure(_socket, session, callback) {
      session.disabledCommands = undefined;
      callback();
    },
    onAuth(auth, session, callback) {
      onAuth(auth.username ?? '', auth.accessToken ?? '', session.id).then(
        (verdict) => {
          if (verdict === undefined) callback(null, { user: sessions.get(session.id)?.mailbox?.address });
          else answer(callback, verdict);
        },
        (error: unknown) =>
          callback(replyError({ code: 454, text: `4.7.0 Temporary authentication failure: ${String(error)}` })),
      );
    },
    onMailFrom: (_address, session, callback) => answer(callback, onMailFrom(session.id)),
    onRcptTo(_address, session, callback) {
      const state = sessions.get(session.id);
      const mailbox = state?.mailbox?.address ?? '';
      answer(
        callback,
        takeFault({ stage: 'rcpt', mailbox, messageIndex: state?.messageIndex ?? -1, sessionId: session.id }),
      );
    },
    onData(stream, session, callback) {
      onData(stream, session).then(
        (reply) => {
          if (reply === 'dropped') return;
          // The 250 goes out as a message, every other reply as an error.
          if (reply.code === 250) callback(null, reply.text);
          else callback(replyError(reply));
        },
        // The client went away mid-message, or the outbox could not be written.
        (error: unknown) =>
          callback(replyError({ code: 451, text: `4.3.0 Stand-in could not take the message: ${String(error)}` })),
      );
    },
    onClose(session) {
      const state = sessions.get(session.id);
      if (state?.mailbox) authenticated.get(state.mailbox.address.toLowerCase())?.delete(session.id);
      sessions.delete(session.id);
    },
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    hostname,
    messages,
    events,
    counters,
    limits,
    directory,
    submissions,
    deliver: accept,
    setLimits: (patch) => void Object.assign(limits, patch),
    configureTenant: (tenantId, settings) => directory.configureTenant(tenantId, settings),
    addMailbox: (address, settings) => directory.addMailbox(address, settings),
    configureMailbox: (address, settings) => void Object.assign(directory.requireMailbox(address), settings),
    registerServicePrincipal: (principal) => directory.registerServicePrincipal(principal),
    removeServicePrincipal: (tenantId, appId) => directory.removeServicePrincipal(tenantId, appId),
    grantFullAccess: (mailbox, appId) => void directory.requireMailbox(mailbox).fullAccess.add(appId.toLowerCase()),
    revokeFullAccess: (mailbox, appId) => void directory.requireMailbox(mailbox).fullAccess.delete(appId.toLowerCase()),
    grantSendAs: (mailbox, address) => void directory.requireMailbox(mailbox).sendAs.add(address.toLowerCase()),
    revokeSendAs: (mailbox, address) => void directory.requireMailbox(mailbox).sendAs.delete(address.toLowerCase()),
    setFaultInjector: (injector) => faults.setInjector(injector),
    failNext: (stage, fault, count) => faults.failNext(stage, fault, count),
    endSessions() {
      for (const { connection } of sessions.values()) connection.close();
    },
    resetUsage() {
      faults.clear();
      submissions.clear();
    },
    resetCounters() {
      Object.assign(counters, {
        connections: 0,
        authAttempts: 0,
        authSuccesses: 0,
        accepted: 0,
        maxConcurrentSessions: {},
      });
      counters.replies.length = 0;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of server.connections) {
        connection.send(exchangeReplies.serviceNotActive.code, exchangeReplies.serviceNotActive.text);
        connection._socket.destroySoon();
      }
      await closed;
    },
  };
}
