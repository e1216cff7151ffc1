import { diagnose } from '../diagnosis/diagnose.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { CheckedClaims, ClaimsExpectation } from './claims.js';
import { checkGraphClaims } from './graph-claims.js';

/** Graph's application permissions that let the app read a mailbox's messages and their MIME (`$value`). */
export const graphReadRoles: readonly string[] = ['Mail.Read', 'Mail.ReadWrite'];

/**
 * The delivery reports reader's Graph token: Graph's, this tenant's and this app's, as for
 * sendMail (checkGraphClaims, whose Mail.Send rule the reader does not need), and in `entra` mode
 * holding Mail.Read. In `rbac` mode no roles claim is expected: Exchange's "Application Mail.Read"
 * assignment decides, and a refusal comes back from Graph as 403.
 */
export function checkGraphReadClaims(token: string, expect: ClaimsExpectation, nowInMs = Date.now()): CheckedClaims {
  const { claims } = checkGraphClaims(token, { ...expect, rolesMode: 'rbac' }, nowInMs);
  if (expect.rolesMode === 'entra' && !graphReadRoles.some((role) => claims.roles.includes(role))) {
    const { tenantId, clientId, mailbox, scope } = expect;
    throw new DeliveryFailed(
      diagnose(
        'READER_ACCESS_DENIED',
        { tenantId, clientId, mailbox, scope },
        { smtp: `Graph token roles=[${claims.roles.join(', ')}]: no Mail.Read`, stage: 'claims' },
      ),
    );
  }
  return { claims, warnings: [] };
}
