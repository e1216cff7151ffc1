import type { AppCredential } from '../src/auth/app-credential.js';
import { checkGraphClaims, graphMailSendRole, graphScopeFor } from '../src/auth/graph-claims.js';
import { TokenProvider } from '../src/auth/token-provider.js';
import type { ExosendConfig } from '../src/config/load-config.js';
import { DeliveryFailed } from '../src/diagnosis/failures.js';
import { GraphClient } from '../src/transport/graph-client.js';
import { graphMailReadWriteRole } from '../src/transport/graph-upload-send.js';
import type { DoctorStageResult } from './doctor-report.js';

/** The Graph side of the doctor: the same token cache and client a Graph send uses. */
export interface DoctorGraph {
  scope: string;
  tokens: TokenProvider;
  client: GraphClient;
}

export function doctorGraph(config: ExosendConfig, credential: AppCredential): DoctorGraph {
  const scope = graphScopeFor(config.graphEndpoint);
  const tokens = new TokenProvider(credential, { expect: { ...config, scope }, check: checkGraphClaims });
  return { scope, tokens, client: new GraphClient({ endpoint: config.graphEndpoint, tokens }) };
}

/** The two ways to give the app Graph's Mail.Send, in the words of the catalogue's fixes. */
export function grantMailSend(config: Pick<ExosendConfig, 'clientId' | 'mailbox'>): string {
  return (
    `grant Microsoft Graph's application permission ${graphMailSendRole} (Entra admin center > App registrations > ${config.clientId} > API permissions > Add a permission > Microsoft Graph > Application permissions > Mail.Send, then "Grant admin consent"), ` +
    `or scope it to the mailbox with RBAC for Applications and EXOSEND_ROLES_MODE=rbac: \`New-ManagementRoleAssignment -App ${config.clientId} -Role "Application Mail.Send" -CustomResourceScope <scope holding ${config.mailbox}>\``
  );
}

/**
 * SMTP AUTH is off (535 5.7.139) and EXOSEND_TRANSPORT=smtp: the way out that keeps the tenant as
 * it is, as a step of its own. The doctor asks Entra for a Graph token to say whether the app
 * already holds Mail.Send (then one setting is left), or what to grant.
 */
export async function graphWayOut(config: ExosendConfig, graph: DoctorGraph): Promise<DoctorStageResult> {
  const started = performance.now();
  const durationMs = () => Math.round((performance.now() - started) * 10) / 10;
  const set = 'set EXOSEND_TRANSPORT=graph (or auto: SMTP while it works, Graph for a mailbox where it is closed)';
  try {
    const { claims } = await graph.tokens.getToken();
    const holds = claims.roles.includes(graphMailSendRole)
      ? `its Graph token holds ${graphMailSendRole}`
      : 'its Graph token was issued (EXOSEND_ROLES_MODE=rbac: Exchange\'s "Application Mail.Send" assignment decides)';
    return {
      stage: 'graph',
      ok: true,
      durationMs: durationMs(),
      advice: `Where SMTP AUTH must stay off, send through Microsoft Graph: app ${config.clientId} is ready, ${holds}; ${set}, then run exosend doctor again.`,
    };
  } catch (error) {
    const code = error instanceof DeliveryFailed ? error.diagnosis.code : 'the Graph token could not be had';
    return {
      stage: 'graph',
      ok: true,
      durationMs: durationMs(),
      advice: `Where SMTP AUTH must stay off, send through Microsoft Graph instead: ${set} and ${grantMailSend(config)}. (Graph token now: ${code}.)`,
    };
  }
}

/**
 * Whether a message above sendMail's 4 MB can go through Graph: its draft path needs Mail.ReadWrite
 * (src/transport/graph-upload-send.ts). In rbac mode the token carries no roles: only Exchange's
 * assignment knows, so the doctor says it cannot tell.
 */
export function largeMessagesNote(
  config: Pick<ExosendConfig, 'clientId' | 'rolesMode'>,
  roles: readonly string[],
): string {
  const rbac = `\`New-ManagementRoleAssignment -App ${config.clientId} -Role "Application Mail.ReadWrite" -CustomResourceScope <scope holding the mailbox>\``;
  if (roles.includes(graphMailReadWriteRole))
    return `messages above Graph's 4 MB can go (${graphMailReadWriteRole}: a draft and upload sessions)`;
  if (config.rolesMode === 'rbac')
    return `messages above Graph's 4 MB: cannot tell here (EXOSEND_ROLES_MODE=rbac: they need Exchange's "Application Mail.ReadWrite" assignment, ${rbac}; without it they are refused 413)`;
  return `messages above Graph's 4 MB cannot go (refused 413): they need the application permission ${graphMailReadWriteRole} (App registrations > ${config.clientId} > API permissions > Microsoft Graph > Application permissions > Mail.ReadWrite, then "Grant admin consent"), or with EXOSEND_ROLES_MODE=rbac ${rbac}`;
}
