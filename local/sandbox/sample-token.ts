import type { CallerApp } from './caller-apps.js';
import type { Sandbox } from './sandbox.js';

export interface SampleToken {
  token: string;
  caller: CallerApp;
  expiresOn: Date;
}

/**
 * A token of the sandbox's sample caller for exosend's API, asked from the identity stand-in's token
 * endpoint as any client-credentials client asks Entra (scope `<Application ID URI>/.default`): a
 * real token, signed with the tenant's key, with the app role. The stand-in keeps it among its
 * known secrets.
 */
export async function sampleCallerToken(sandbox: Sandbox): Promise<SampleToken> {
  const { identity, app, callers } = sandbox;
  const caller = callers.sample;
  const response = await fetch(`${identity.authorityHost}/${app.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: caller.clientId,
      client_secret: caller.secret,
      scope: `${callers.api.appIdUri}/.default`,
    }),
  });
  const body = (await response.json()) as { access_token?: string; expires_in?: number; error?: string };
  if (!response.ok || !body.access_token)
    throw new Error(`the identity stand-in gave the sample caller no token (${response.status} ${body.error ?? ''})`);
  return { token: body.access_token, caller, expiresOn: new Date(Date.now() + (body.expires_in ?? 0) * 1000) };
}
