/** Exchange Online's side of the setup (KB486942 steps 4-6): tenants, mailboxes, service principals, permissions. */

export interface ExchangeTenantSettings {
  /** Set-TransportConfig -SmtpClientAuthenticationDisabled */
  smtpAuthDisabled: boolean;
}

export interface MailboxSettings {
  tenantId: string;
  /** Set-CASMailbox -SmtpClientAuthenticationDisabled: undefined follows the tenant, false overrides it. */
  smtpAuthDisabled?: boolean;
  mailboxFull: boolean;
  /** Recipients per rolling 24 hours. */
  dailyRecipientQuota: number;
  /** Sessions other clients hold on this mailbox: they count against the concurrency limit. */
  otherClientSessions: number;
}

export interface Mailbox extends MailboxSettings {
  address: string;
  /** App IDs of service principals with FullAccess (Add-MailboxPermission). */
  fullAccess: Set<string>;
  /** Addresses this mailbox may send as (Add-RecipientPermission -AccessRights SendAs). */
  sendAs: Set<string>;
}

export interface ServicePrincipal {
  tenantId: string;
  appId: string;
  /** The Enterprise application's object ID; registering the App registration's instead is the KB's pitfall. */
  objectId: string;
  /** RBAC for Applications: the token carries no roles claim and needs none. */
  rbac: boolean;
}

export class ExchangeDirectory {
  private readonly tenants = new Map<string, ExchangeTenantSettings>();
  private readonly mailboxes = new Map<string, Mailbox>();
  private readonly principals = new Map<string, ServicePrincipal>();

  configureTenant(tenantId: string, settings: Partial<ExchangeTenantSettings>): void {
    this.tenants.set(tenantId.toLowerCase(), {
      smtpAuthDisabled: false,
      ...this.tenants.get(tenantId.toLowerCase()),
      ...settings,
    });
  }

  tenant(tenantId: string): ExchangeTenantSettings {
    return this.tenants.get(tenantId.toLowerCase()) ?? { smtpAuthDisabled: false };
  }

  addMailbox(address: string, settings: Pick<MailboxSettings, 'tenantId'> & Partial<MailboxSettings>): Mailbox {
    const mailbox: Mailbox = {
      address,
      mailboxFull: false,
      dailyRecipientQuota: 10_000,
      otherClientSessions: 0,
      ...settings,
      fullAccess: new Set(),
      sendAs: new Set(),
    };
    this.mailboxes.set(address.toLowerCase(), mailbox);
    return mailbox;
  }

  mailbox(address: string): Mailbox | undefined {
    return this.mailboxes.get(address.toLowerCase());
  }

  requireMailbox(address: string): Mailbox {
    const mailbox = this.mailbox(address);
    if (!mailbox) throw new Error(`no mailbox ${address} in the Exchange stand-in`);
    return mailbox;
  }

  registerServicePrincipal(principal: Omit<ServicePrincipal, 'rbac'> & { rbac?: boolean }): ServicePrincipal {
    const entry = { rbac: false, ...principal };
    this.principals.set(principalKey(entry.tenantId, entry.appId), entry);
    return entry;
  }

  removeServicePrincipal(tenantId: string, appId: string): void {
    this.principals.delete(principalKey(tenantId, appId));
  }

  servicePrincipal(tenantId: string, appId: string): ServicePrincipal | undefined {
    return this.principals.get(principalKey(tenantId, appId));
  }
}

function principalKey(tenantId: string, appId: string): string {
  return `${tenantId.toLowerCase()}/${appId.toLowerCase()}`;
}
