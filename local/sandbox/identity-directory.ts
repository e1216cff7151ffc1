import { randomUUID } from 'node:crypto';

/** What the identity stand-in knows: tenants, app registrations and managed identities. */

export interface TenantRegistration {
  tenantId: string;
  domain?: string;
}

export interface AppRegistration {
  clientId: string;
  tenantId: string;
  /** Secret values; any of them authenticates (rotation keeps two for a while). */
  secrets: string[];
  /** The presented (correct) secret is past its end date: AADSTS7000222. */
  secretExpired: boolean;
  /** Application permissions granted on Exchange Online (e.g. SMTP.SendAsApp); tokens for other resources carry none. */
  roles: string[];
  /** Application permissions granted on Microsoft Graph (Mail.Send, Mail.ReadWrite): only Graph's tokens carry them. */
  graphRoles?: string[];
  /** Forces the audience of every token issued to this app, whatever the scope asked (e.g. Graph). */
  audience?: string;
  /**
   * Puts another tenant's or app's ID into this app's tokens (tid and iss, appid), as a token of
   * the wrong tenant or app registration would carry: what exosend's claims check must stop.
   */
  issueTokensAs?: { tenantId?: string; appId?: string };
  lifetimeSeconds: number;
  /** Public parts of the certificates uploaded under Certificates & secrets > Certificates (PEM). */
  certificates: string[];
  /** Federated identity credentials: a token from `issuer` about `subject` for one of `audiences` is a client assertion. */
  federatedCredentials: FederatedCredential[];
  /** Object ID of the Enterprise application (service principal): the tokens' oid and sub. */
  servicePrincipalId: string;
  displayName?: string;
}

export type AppRegistrationInput = Pick<AppRegistration, 'clientId' | 'tenantId' | 'secrets' | 'roles'> &
  Partial<Omit<AppRegistration, 'clientId' | 'tenantId' | 'secrets' | 'roles'>>;

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

/**
 * An app registration that exposes an API (exosend's own): its Application ID URI, the access
 * token version it asks for (`requestedAccessTokenVersion`, 1 when null), and the app roles
 * assigned to each calling app's service principal.
 */
export interface ApiRegistration {
  clientId: string;
  tenantId: string;
  appIdUri: string;
  accessTokenVersion: 1 | 2;
  /** Calling app's client ID -> the app roles assigned to it on this API. */
  roleAssignments: Map<string, string[]>;
}

export interface ManagedIdentity {
  clientId: string;
  objectId: string;
  resourceId: string;
  tenantId: string;
  systemAssigned: boolean;
  /** Assigned to the Function App: only then does its identity endpoint hand out the identity's tokens. */
  assigned: boolean;
}

export class IdentityDirectory {
  private readonly tenants = new Map<string, TenantRegistration>();
  private readonly apps = new Map<string, AppRegistration>();
  readonly managedIdentities: ManagedIdentity[] = [];
  readonly apis: ApiRegistration[] = [];

  registerApi(input: Omit<ApiRegistration, 'roleAssignments'>): ApiRegistration {
    const api = { ...input, roleAssignments: new Map<string, string[]>() };
    this.apis.push(api);
    return api;
  }

  /** The API a token request's resource names: its Application ID URI or its client ID. */
  findApi(tenantId: string, resource: string): ApiRegistration | undefined {
    const wanted = resource.toLowerCase();
    return this.apis.find(
      (api) =>
        api.tenantId.toLowerCase() === tenantId.toLowerCase() &&
        [api.appIdUri.toLowerCase(), api.clientId.toLowerCase()].includes(wanted),
    );
  }

  registerTenant(tenant: TenantRegistration): TenantRegistration {
    const entry = { ...this.tenants.get(tenant.tenantId.toLowerCase()), ...tenant };
    this.tenants.set(tenant.tenantId.toLowerCase(), entry);
    return entry;
  }

  /** Entra accepts the tenant as its GUID or as any verified domain. */
  findTenant(nameOrId: string): TenantRegistration | undefined {
    const key = nameOrId.toLowerCase();
    return this.tenants.get(key) ?? [...this.tenants.values()].find((t) => t.domain?.toLowerCase() === key);
  }

  registerApp(input: AppRegistrationInput): AppRegistration {
    if (!this.findTenant(input.tenantId)) throw new Error(`register tenant ${input.tenantId} before its apps`);
    const app: AppRegistration = {
      secretExpired: false,
      lifetimeSeconds: 3600,
      certificates: [],
      federatedCredentials: [],
      servicePrincipalId: randomUUID(),
      ...input,
      secrets: [...input.secrets],
      roles: [...input.roles],
    };
    this.apps.set(appKey(app.tenantId, app.clientId), app);
    return app;
  }

  updateApp(clientId: string, patch: Partial<Omit<AppRegistration, 'clientId' | 'tenantId'>>): AppRegistration {
    const app = [...this.apps.values()].find((a) => a.clientId === clientId);
    if (!app) throw new Error(`no app ${clientId}`);
    Object.assign(app, patch);
    return app;
  }

  findApp(tenantId: string, clientId: string): AppRegistration | undefined {
    return this.apps.get(appKey(tenantId, clientId));
  }

  addManagedIdentity(tenantId: string, systemAssigned: boolean, name = 'exosend', assigned = true): ManagedIdentity {
    const identity: ManagedIdentity = {
      clientId: randomUUID(),
      objectId: randomUUID(),
      resourceId: systemAssigned
        ? `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/exosend/providers/Microsoft.Web/sites/${name}`
        : `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/exosend/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
      tenantId,
      systemAssigned,
      assigned,
    };
    this.managedIdentities.push(identity);
    return identity;
  }
}

function appKey(tenantId: string, clientId: string): string {
  return `${tenantId.toLowerCase()}/${clientId.toLowerCase()}`;
}
