import { randomBytes, randomUUID } from 'node:crypto';
import { sendRole } from '../../src/config/caller-auth.js';
import type { IdentityStandIn } from './identity.js';

/** A calling application of the sandbox tenant: it gets tokens for exosend's API with its own secret. */
export interface CallerApp {
  clientId: string;
  secret: string;
  displayName: string;
}

export interface CallerApps {
  /** exosend's API app registration: its Application ID URI is the scope callers ask for (`<uri>/.default`). */
  api: { clientId: string; appIdUri: string };
  /** Holds the app role and (under `npm start`) a policy: the banner's curl line sends as it. */
  sample: CallerApp;
  /** A second caller with the role, for per-caller records and quotas. */
  other: CallerApp;
  /** Holds the app role but has no policy: exosend answers 403 naming `exosend caller add`. */
  unregistered: CallerApp;
  /** Has no app role on the API: its tokens carry no roles. */
  roleless: CallerApp;
}

/** How long the sample caller's tokens last (the one `npm start` prints). */
export const sampleTokenLifetimeSeconds = 8 * 60 * 60;

/** Registers exosend's API (v1.0 tokens, Entra's default) and the sample callers in the sandbox tenant. */
export function registerCallerApps(identity: IdentityStandIn, tenantId: string): CallerApps {
  const apiClientId = randomUUID();
  const api = identity.registerApi({ clientId: apiClientId, appIdUri: `api://${apiClientId}` });
  const caller = (displayName: string, role: boolean, lifetimeSeconds = 3600): CallerApp => {
    const app = { clientId: randomUUID(), secret: randomBytes(24).toString('base64url'), displayName };
    identity.registerApp({
      clientId: app.clientId,
      tenantId,
      secrets: [app.secret],
      roles: [],
      displayName,
      lifetimeSeconds,
    });
    if (role) identity.assignApiRole(api.clientId, app.clientId, sendRole);
    return app;
  };
  return {
    api: { clientId: api.clientId, appIdUri: api.appIdUri },
    // the banner's token lasts a working session: 8 hours, as a token lifetime policy can set it
    // (Entra allows 10 minutes to 1 day; learn.microsoft.com/graph/api/resources/tokenlifetimepolicy,
    // whose example sets AccessTokenLifetime 8:00:00)
    sample: caller('erp', true, sampleTokenLifetimeSeconds),
    other: caller('reports', true),
    unregistered: caller('unregistered-script', true),
    roleless: caller('no-role-app', false),
  };
}
