import type { ExosendConfig } from '../config/load-config.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { identityReply } from '../diagnosis/classify.js';
import type { Diagnosis, DiagnosisContext } from '../diagnosis/diagnosis.js';

export type TenantLookupOptions = Pick<ExosendConfig, 'authorityHost' | 'tenantId'> & { timeoutInMs?: number };

const tenantNotFound = /^AADSTS(90002|900023)\b/;

/**
 * MSAL reports a tenant the identity platform does not know as `endpoints_resolution_error`,
 * without Entra's AADSTS code: it reads like an outage, and would be retried as one. One look at
 * the tenant's OpenID configuration tells the two apart (Entra answers 400 invalid_tenant,
 * AADSTS90002). Undefined when the error is another one, or the tenant is known or unreachable.
 */
export async function diagnoseUnknownTenant(
  error: unknown,
  options: TenantLookupOptions,
  context: DiagnosisContext,
): Promise<Diagnosis | undefined> {
  const message = error instanceof Error ? error.message : String(error);
  if (!message.includes('endpoints_resolution_error')) return undefined;
  const url = `${options.authorityHost}/${encodeURIComponent(options.tenantId)}/v2.0/.well-known/openid-configuration`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutInMs ?? 5_000) });
    if (response.status !== 400) return undefined;
    const body = (await response.json()) as { error?: unknown; error_description?: unknown };
    const description = typeof body.error_description === 'string' ? body.error_description : '';
    if (body.error !== 'invalid_tenant' && !tenantNotFound.test(description)) return undefined;
    const smtp = identityReply({ errorResponse: { error: body.error, errorDescription: description } });
    return diagnose('TENANT_NOT_FOUND', context, { stage: 'token', ...(smtp ? { smtp } : {}) });
  } catch {
    return undefined;
  }
}
