import { decodeJwt } from 'jose';
import { isGuid } from '../config/load-config.js';
import { diagnose } from '../diagnosis/diagnose.js';
import type { DiagnosisCode } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { CheckedClaims, ClaimsExpectation, TokenClaims } from './claims.js';

export const graphMailSendRole = 'Mail.Send';

/** Microsoft Graph's resource URIs (global and national clouds) and its application ID. */
const graphAudiences: ReadonlySet<string> = new Set([
  'https://graph.microsoft.com',
  'https://graph.microsoft.us',
  'https://dod-graph.microsoft.us',
  'https://microsoftgraph.chinacloudapi.cn',
  '00000003-0000-0000-c000-000000000000',
]);

/**
 * The scope for Graph at `endpoint`: a national cloud's own resource, else Microsoft Graph's
 * (a stand-in on loopback is Graph for the identity platform too).
 */
export function graphScopeFor(endpoint: string): string {
  const origin = new URL(endpoint).origin.toLowerCase();
  return `${graphAudiences.has(origin) ? origin : 'https://graph.microsoft.com'}/.default`;
}

/**
 * The Graph token's counterpart of checkClaims: audience Graph, this tenant and app, and in
 * `entra` mode the application permission Mail.Send. In `rbac` mode the app holds no Entra
 * permission: Exchange's role assignment (`Application Mail.Send`, scoped) decides, so no roles claim.
 */
export function checkGraphClaims(token: string, expect: ClaimsExpectation, nowInMs = Date.now()): CheckedClaims {
  const claims = readClaims(token);
  const fail = (code: DiagnosisCode): never => {
    throw new DeliveryFailed(
      diagnose(
        code,
        { tenantId: expect.tenantId, clientId: expect.clientId, mailbox: expect.mailbox, scope: expect.scope },
        { smtp: describe(claims), stage: 'claims' },
      ),
    );
  };
  if (!graphAudiences.has(claims.aud.replace(/\/+$/, '').toLowerCase())) fail('TOKEN_WRONG_AUDIENCE');
  if (isGuid(expect.tenantId) && claims.tid?.toLowerCase() !== expect.tenantId.toLowerCase())
    fail('TOKEN_TENANT_MISMATCH');
  if (claims.appId?.toLowerCase() !== expect.clientId.toLowerCase()) fail('TOKEN_APP_MISMATCH');
  const hasRole = claims.roles.includes(graphMailSendRole);
  if (expect.rolesMode === 'entra' && !hasRole) fail('GRAPH_PERMISSION_MISSING');
  if (claims.exp !== undefined && claims.exp * 1000 <= nowInMs) fail('TOKEN_EXPIRES_SOON');
  const warnings =
    expect.rolesMode === 'rbac' && hasRole
      ? [
          `The Graph token holds ${graphMailSendRole}, which reaches every mailbox of the tenant: with RBAC for Applications remove the Entra permission, so the app reaches only the mailboxes its "Application Mail.Send" assignment scopes.`,
        ]
      : [];
  return { claims, warnings };
}

function readClaims(token: string): TokenClaims {
  let payload: ReturnType<typeof decodeJwt>;
  try {
    payload = decodeJwt(token);
  } catch {
    return { aud: '', tid: undefined, appId: undefined, roles: [], exp: undefined };
  }
  const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  const roles = Array.isArray(payload['roles'])
    ? payload['roles'].filter((r): r is string => typeof r === 'string')
    : [];
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    aud: aud ?? '',
    tid: text(payload['tid']),
    appId: text(payload['appid']) ?? text(payload['azp']),
    roles,
    exp: payload.exp,
  };
}

function describe(c: TokenClaims): string {
  return `Graph token: aud=${c.aud || '(none)'} tid=${c.tid ?? '(none)'} appid=${c.appId ?? '(none)'} roles=[${c.roles.join(', ')}]`;
}
