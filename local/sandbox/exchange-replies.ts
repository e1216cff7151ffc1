/** An SMTP reply: code, and text that starts with the enhanced status code, as Exchange Online writes it. */
export interface SmtpReply {
  code: number;
  text: string;
}

/** Exchange Online's texts (reference/exchange-online.md); `[Hostname=...]` and `[...]` name the front end. */
export const exchangeReplies = {
  smtpAuthDisabledForTenant: {
    code: 535,
    text: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
  },
  smtpAuthDisabledForMailbox: {
    code: 535,
    text: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.',
  },
  criteriaNotMet: {
    code: 535,
    text: '5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator.',
  },
  authenticationUnsuccessful: { code: 535, text: '5.7.3 Authentication unsuccessful' },
  invalidUser: { code: 501, text: '5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid' },
  tokenExpiresSoon: { code: 501, text: '5.5.127 Invalid XOAUTH2 auth data - Token will expire soon' },
  /** AUTH before STARTTLS: Exchange does not offer AUTH on a clear-text session. */
  unrecognizedAuthenticationType: { code: 504, text: '5.7.4 Unrecognized authentication type' },
  notAuthenticated: (hostname: string): SmtpReply => ({
    code: 530,
    text: `5.7.57 Client not authenticated to send mail. [${hostname}]`,
  }),
  threadLimitExceeded: { code: 432, text: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' },
  /**
   * The stand-in's choice: Exchange documents the per-minute limit but not one reply text for it
   * (current docs say excess is delayed). A 4xx so a client retries later.
   */
  rateLimitExceeded: { code: 450, text: '4.7.0 STOREDRV.ClientSubmit; sender rate limit exceeded' },
  sendAsDenied: (mailbox: string, from: string): SmtpReply => ({
    code: 554,
    text: `5.2.252 SendAsDenied; ${mailbox} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.`,
  }),
  mailboxFull: {
    code: 554,
    text: '5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded',
  },
  recipientQuotaExceeded: {
    code: 554,
    text: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.',
  },
  messageTooLarge: { code: 552, text: '5.3.4 Message size exceeds fixed maximum message size' },
  senderOk: { code: 250, text: '2.1.0 Sender OK' },
  recipientOk: { code: 250, text: '2.1.5 Recipient OK' },
  startMailInput: { code: 354, text: 'Start mail input; end with <CRLF>.<CRLF>' },
  queued: (messageId: string, hostname: string): SmtpReply => ({
    code: 250,
    text: `2.0.0 OK ${messageId} [Hostname=${hostname}]`,
  }),
  serviceNotActive: { code: 421, text: '4.3.2 Service not active' },
} as const;

/** "451 4.7.0 Temporary server error. Please try again later. PRX4" -> { code: 451, text: "4.7.0 ..." } */
export function parseReply(line: string): SmtpReply {
  const match = /^([2-5]\d\d)[ -](.*)$/s.exec(line.trim());
  if (!match) throw new Error(`not an SMTP reply: ${line}`);
  return { code: Number(match[1]), text: match[2] ?? '' };
}

/** smtp-server sends a handler's error as `responseCode` + `message`. */
export function replyError(reply: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(reply.text), { responseCode: reply.code });
}

export const enhancedStatusCode = /^[245]\.\d{1,3}\.\d{1,3}( |$)/;
