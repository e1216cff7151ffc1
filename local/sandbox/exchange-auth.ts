import { exchangeAudiences, type AccessTokenClaims } from './access-token.js';
import type { ExchangeDirectory, Mailbox } from './exchange-directory.js';
import { exchangeReplies, type SmtpReply } from './exchange-replies.js';
import type { TokenVerifier } from './identity.js';

/** How Exchange judges `AUTH XOAUTH2 user=...` with an app-only token. */

export type AuthOutcome = { ok: true; mailbox: Mailbox; claims: AccessTokenClaims } | { ok: false; reply: SmtpReply };

const looksLikeAddress = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export async function authenticateXOAuth2(
  directory: ExchangeDirectory,
  verifier: TokenVerifier,
  user: string,
  token: string,
  minTokenLifetimeSeconds: number,
): Promise<AuthOutcome> {
  const refuse = (reply: SmtpReply): AuthOutcome => ({ ok: false, reply });
  if (!looksLikeAddress.test(user)) return refuse(exchangeReplies.invalidUser);

  let claims: AccessTokenClaims;
  try {
    claims = await verifier.verifyToken(token);
  } catch {
    return refuse(exchangeReplies.authenticationUnsuccessful);
  }
  if (minTokenLifetimeSeconds > 0 && claims.exp - Date.now() / 1000 < minTokenLifetimeSeconds) {
    return refuse(exchangeReplies.tokenExpiresSoon);
  }

  const mailbox = directory.mailbox(user);
  if (!mailbox || mailbox.tenantId.toLowerCase() !== claims.tid?.toLowerCase()) {
    return refuse(exchangeReplies.authenticationUnsuccessful);
  }
  if (mailbox.smtpAuthDisabled === true) return refuse(exchangeReplies.smtpAuthDisabledForMailbox);
  if (mailbox.smtpAuthDisabled === undefined && directory.tenant(claims.tid).smtpAuthDisabled) {
    return refuse(exchangeReplies.smtpAuthDisabledForTenant);
  }
  if (!exchangeAudiences.includes(claims.aud)) return refuse(exchangeReplies.authenticationUnsuccessful);

  const principal = directory.servicePrincipal(claims.tid, claims.appid);
  if (!principal) return refuse(exchangeReplies.criteriaNotMet);
  if (principal.objectId.toLowerCase() !== claims.oid?.toLowerCase())
    return refuse(exchangeReplies.authenticationUnsuccessful);
  if (!principal.rbac && !claims.roles?.includes('SMTP.SendAsApp'))
    return refuse(exchangeReplies.authenticationUnsuccessful);
  if (!mailbox.fullAccess.has(claims.appid.toLowerCase())) return refuse(exchangeReplies.authenticationUnsuccessful);

  return { ok: true, mailbox, claims };
}
