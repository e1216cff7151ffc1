import { ClientAssertionCredential, ManagedIdentityCredential, type AccessToken } from '@azure/identity';
import { decodeJwt } from 'jose';
import { isMicrosoftAuthority, type ExosendConfig } from '../config/load-config.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { classifyIdentityError, identityReply, isTransientIdentityError } from '../diagnosis/classify.js';
import type { Diagnosis, DiagnosisContext } from '../diagnosis/diagnosis.js';
import { DeliveryFailed } from '../diagnosis/failures.js';
import type { AppCredential, CredentialState } from './app-credential.js';
import { diagnoseUnknownTenant } from './unknown-tenant.js';

export type FederatedAppCredentialOptions = Pick<
  ExosendConfig,
  | 'tenantId'
  | 'clientId'
  | 'authorityHost'
  | 'mailbox'
  | 'scope'
  | 'managedIdentityClientId'
  | 'federatedAudience'
  | 'functionAppName'
  | 'resourceGroup'
>;

/** What the managed identity's token says of itself: what a federated credential must name. */
interface AssertionFacts {
  issuer?: string;
  subject?: string;
  audience?: string;
}

/**
 * No secret at all: the Function App's managed identity is a federated identity credential of the
 * app registration. Its token for EXOSEND_FEDERATED_AUDIENCE is the client assertion; no vault is read.
 */
export class FederatedAppCredential implements AppCredential {
  readonly kind = 'federated';
  /** One per process: MSAL keeps the identity's token until it nears expiry, so a warm worker asks once. */
  private readonly identity: ManagedIdentityCredential;
  private facts: AssertionFacts = {};

  constructor(private readonly options: FederatedAppCredentialOptions) {
    const clientId = options.managedIdentityClientId;
    this.identity = new ManagedIdentityCredential(clientId ? { clientId } : {});
  }

  prepare(): Promise<CredentialState> {
    return Promise.resolve({ kind: this.kind });
  }

  async requestToken(scope: string): Promise<AccessToken> {
    let identityFailure: Diagnosis | undefined;
    const getAssertion = async () => {
      try {
        const { token } = await this.identity.getToken(`${this.options.federatedAudience}/.default`);
        this.facts = factsOf(token);
        return token;
      } catch (error) {
        identityFailure = this.identityDiagnosis(error);
        throw error;
      }
    };
    const { tenantId, clientId, authorityHost } = this.options;
    const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, {
      authorityHost,
      disableInstanceDiscovery: !isMicrosoftAuthority(authorityHost),
    });
    try {
      return await credential.getToken(scope);
    } catch (error) {
      throw new DeliveryFailed(
        identityFailure ??
          (await diagnoseUnknownTenant(error, this.options, this.context())) ??
          classifyIdentityError(error, this.context()),
      );
    }
  }

  /** The identity endpoint failing or throttling is worth a retry; refusing the identity is setup. */
  private identityDiagnosis(error: unknown): Diagnosis {
    const smtp = identityEndpointReply(error) ?? identityReply(error);
    const details = { stage: 'token' as const, ...(smtp ? { smtp } : {}) };
    return diagnose(
      isTransientIdentityError(error) ? 'TOKEN_ENDPOINT_UNAVAILABLE' : 'MANAGED_IDENTITY_UNAVAILABLE',
      this.context(),
      details,
    );
  }

  private context(): DiagnosisContext {
    const {
      tenantId,
      clientId,
      mailbox,
      scope,
      managedIdentityClientId,
      federatedAudience,
      functionAppName,
      resourceGroup,
    } = this.options;
    return {
      tenantId,
      clientId,
      mailbox,
      scope,
      audience: federatedAudience,
      ...(managedIdentityClientId && { identityClientId: managedIdentityClientId }),
      ...(functionAppName && { functionApp: functionAppName }),
      ...(resourceGroup && { resourceGroup }),
      ...(this.facts.issuer && { issuer: this.facts.issuer }),
      ...(this.facts.subject && { subject: this.facts.subject }),
    };
  }
}

/**
 * MSAL words an identity endpoint's refusal as "Error(s): Not Available - Timestamp: ... -
 * Description: <the endpoint's message> - Correlation ID: ...": the description is the reply.
 */
function identityEndpointReply(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : '';
  const description = /Description: (.*?)(?: - Correlation ID:| - Trace ID:|$)/s.exec(message)?.[1]?.trim();
  const status = (error as { cause?: { status?: unknown } }).cause?.status;
  if (!description) return undefined;
  return `${typeof status === 'number' ? `${status} ` : ''}ManagedIdentityCredential: ${description}`;
}

/** The issuer and subject the identity's token carries: the values to register, never the token. */
function factsOf(token: string): AssertionFacts {
  try {
    const { iss, sub, aud } = decodeJwt(token);
    return {
      ...(iss && { issuer: iss }),
      ...(sub && { subject: sub }),
      ...(typeof aud === 'string' && { audience: aud }),
    };
  } catch {
    return {};
  }
}
