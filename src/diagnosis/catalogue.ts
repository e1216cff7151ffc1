import type { DiagnosisCode, Stage } from './diagnosis.js';

/** A code's fixed part: `{placeholders}` in cause and fix are filled from a DiagnosisContext. */
export interface CatalogueEntry {
  stage: Stage;
  retryable: boolean;
  retryAfterSeconds?: number;
  cause: string;
  fix: string;
}

const appRegistrations = 'Entra admin center > App registrations';
const app = `${appRegistrations} > app {clientId}`;
const enterpriseApps = 'Entra admin center > Enterprise applications';
const enterpriseApp = `${enterpriseApps} > app {clientId} > Overview`;
const newServicePrincipal = `New-ServicePrincipal -AppId {clientId} -ObjectId <Object ID from ${enterpriseApp}, not the one under App registrations>`;
const fullAccess =
  'Add-MailboxPermission -Identity {mailbox} -User <the same Enterprise application Object ID> -AccessRights FullAccess';
const grantRole = `${app} > API permissions > Add a permission > APIs my organization uses > Office 365 Exchange Online > Application permissions > SMTP.SendAsApp, then "Grant admin consent" until its status is green`;
const newSecret = `${app} > Certificates & secrets > New client secret; copy its Value (not its Secret ID) into the vault {vaultUrl} as the secret {secretName} (\`az keyvault secret set --vault-name {vaultName} --name {secretName} --file <a file holding the Value>\`, not \`--value\`, which leaves the secret in the shell history). exosend reads the vault again when Entra refuses the secret it holds`;
const uploadCertificate = `\`az ad app credential reset --id {clientId} --keyvault {vaultName} --cert {certificateName} --append\` (it reads the vault's current version and adds its public part; --append keeps the app's other credentials), or ${app} > Certificates & secrets > Certificates > Upload certificate, with the .cer from \`az keyvault certificate download --vault-name {vaultName} --name {certificateName} --file exosend.cer --encoding DER\``;
const newCertificate = `\`az keyvault certificate create --vault-name {vaultName} --name {certificateName} --policy "$(az keyvault certificate get-default-policy)"\` (a new version, RSA, exportable key), then upload its public part: ${uploadCertificate}`;
const grantGraphRole = `${app} > API permissions > Add a permission > Microsoft Graph > Application permissions > Mail.Send, then "Grant admin consent" until its status is green`;
const graphRbac = `\`${newServicePrincipal}\`, \`New-ManagementScope -Name exosend-mailboxes -RecipientRestrictionFilter "PrimarySmtpAddress -eq '{mailbox}'"\`, then \`New-ManagementRoleAssignment -App {clientId} -Role "Application Mail.Send" -CustomResourceScope exosend-mailboxes\``;
const readerScope = `New-ManagementScope -Name exosend-mailboxes -RecipientRestrictionFilter "PrimarySmtpAddress -eq '{mailbox}'"`;
const readerRbac = `\`${newServicePrincipal}\` (once per app), \`${readerScope}\` (or an existing scope that holds the sending mailboxes), then \`New-ManagementRoleAssignment -App {clientId} -Role "Application Mail.Read" -CustomResourceScope exosend-mailboxes\``;
const grantReadRole = `${app} > API permissions > Add a permission > Microsoft Graph > Application permissions > Mail.Read, then "Grant admin consent" until its status is green`;
const vaultRole =
  'Azure portal > Key vaults > {vaultName} > Access control (IAM) > Add role assignment > "Key Vault Secrets User" > Managed identity > the Function App (with the access-policy model: Access policies > Create > Secret permissions: Get)';

export const catalogue: Record<DiagnosisCode, CatalogueEntry> = {
  VAULT_SECRET_NOT_FOUND: {
    stage: 'vault',
    retryable: false,
    cause:
      'The vault {vaultUrl} has no secret named {secretName} (or the secret has no value): the name or the vault URL is wrong, or the secret was deleted.',
    fix: "Check EXOSEND_KEY_VAULT_URL ({vaultUrl}) and EXOSEND_CLIENT_SECRET_NAME ({secretName}) against Azure portal > Key vaults > {vaultName} > Secrets. A deleted secret can be restored under Secrets > Manage deleted secrets > Recover (`az keyvault secret recover --vault-name {vaultName} --name {secretName}`); otherwise store the client secret's Value there.",
  },
  VAULT_ACCESS_DENIED: {
    stage: 'vault',
    retryable: false,
    cause:
      'Key Vault {vaultUrl} refused to hand the secret {secretName} to the Function App: its managed identity is off or not found, holds no role on the vault, the vault firewall blocks the app, or the secret is disabled.',
    fix: `Turn the identity on in Azure portal > Function App > Settings > Identity (System assigned: On); for a user-assigned identity set AZURE_CLIENT_ID to that identity's client ID. Grant it read access: ${vaultRole}. If the reply mentions the firewall, allow the app under Key vaults > {vaultName} > Networking (or a private endpoint). Role assignments can take a few minutes to apply.`,
  },
  VAULT_UNREACHABLE: {
    stage: 'vault',
    retryable: true,
    cause:
      'Key Vault {vaultUrl} could not be reached or answered with a server error or throttling (DNS, network, 5xx, 429).',
    fix: 'exosend retries on its own. If it persists, check that EXOSEND_KEY_VAULT_URL ({vaultUrl}) is spelled right, that the Function App can resolve and reach it (VNet integration, private endpoint DNS, outbound firewall), and Azure status for Key Vault.',
  },
  VAULT_CERTIFICATE_NOT_FOUND: {
    stage: 'vault',
    retryable: false,
    cause:
      'The vault {vaultUrl} has no certificate named {certificateName} (exosend reads a certificate, private key and all, through the secret of the same name): the name or the vault URL is wrong, or the certificate was deleted.',
    fix: `Check EXOSEND_KEY_VAULT_URL ({vaultUrl}) and EXOSEND_CLIENT_CERTIFICATE_NAME ({certificateName}) against Azure portal > Key vaults > {vaultName} > Certificates. A deleted certificate can be restored (\`az keyvault certificate recover --vault-name {vaultName} --name {certificateName}\`); otherwise import yours with its private key (\`az keyvault certificate import --vault-name {vaultName} --name {certificateName} --file exosend.pfx\`) or create one: ${newCertificate}.`,
  },
  CERTIFICATE_NO_PRIVATE_KEY: {
    stage: 'vault',
    retryable: false,
    cause:
      'The certificate {certificateName} in {vaultUrl} comes without a usable private key (imported as a .cer, a key that is not exportable, or a secret that is no PEM or PKCS#12 certificate): exosend cannot sign a client assertion with it.',
    fix: `Import the certificate with its private key: \`az keyvault certificate import --vault-name {vaultName} --name {certificateName} --file exosend.pfx\` (a PFX, or a PEM holding the key and the certificate), or create one whose key is exportable: ${newCertificate}. The key must be RSA: Entra's client assertions are signed PS256.`,
  },
  CERTIFICATE_EXPIRED: {
    stage: 'certificate',
    retryable: false,
    cause:
      'The certificate {certificateName} in {vaultUrl} (thumbprint {thumbprint}) expired on {notAfter}: Entra refuses assertions it signs. exosend checked its dates before asking Entra.',
    fix: `Create the next version: ${newCertificate}. exosend reads the vault again after a refusal, so no restart is needed; remove the expired certificate from ${app} > Certificates & secrets once the new one works. A lifetime action in the certificate's policy (Key vaults > {vaultName} > Certificates > {certificateName} > Issuance Policy) renews it before it expires.`,
  },
  CERTIFICATE_NOT_YET_VALID: {
    stage: 'certificate',
    retryable: false,
    cause:
      "The certificate {certificateName} in {vaultUrl} (thumbprint {thumbprint}) is not valid before {notBefore}: it was made for a later date, or this host's clock is behind. exosend checked its dates before asking Entra.",
    fix: `Check the host's clock. Otherwise store a certificate valid now: ${newCertificate}; or wait until {notBefore}.`,
  },
  CERTIFICATE_NOT_REGISTERED: {
    stage: 'token',
    retryable: false,
    cause:
      'Entra ID does not accept the certificate that signed the client assertion of app {clientId} (AADSTS700027, its thumbprint in the reply): its public part was never uploaded to the app registration, was removed or has expired there, or belongs to another app.',
    fix: `Upload the public part of {certificateName}: ${uploadCertificate}. exosend reads the vault again after this refusal, so a new version there is picked up without a restart.`,
  },
  FEDERATED_CREDENTIAL_MISMATCH: {
    stage: 'token',
    retryable: false,
    cause:
      "App {clientId} has no federated identity credential that matches the managed identity's token (AADSTS700211: issuer, AADSTS700213: subject, AADSTS700212: audience; AADSTS70021 in older replies). It needs one with issuer {issuer}, subject {subject} (the identity's principal ID) and audience {audience}.",
    fix: `Register it: \`az ad app federated-credential create --id {clientId} --parameters '{"name":"exosend-function-app","issuer":"{issuer}","subject":"{subject}","audiences":["{audience}"]}'\` (or ${app} > Certificates & secrets > Federated credentials > Add credential > Managed Identity). Check with \`az ad app federated-credential list --id {clientId}\`: the subject is the identity's Object (principal) ID, not its client ID, and the audience must equal EXOSEND_FEDERATED_AUDIENCE.`,
  },
  MANAGED_IDENTITY_UNAVAILABLE: {
    stage: 'token',
    retryable: false,
    cause:
      "The Function App's managed identity gave no token for {audience}: AZURE_CLIENT_ID ({identityClientId}) names a user-assigned identity that is not assigned to the app, or the app has no managed identity at all (outside Azure there is none).",
    fix: 'Assign the identity to the Function App: Azure portal > Function App {functionApp} > Settings > Identity > User assigned > Add, or `az functionapp identity assign --name {functionApp} --resource-group {resourceGroup} --identities "$(az identity list --query "[?clientId==\'{identityClientId}\'].id" -o tsv)"`; AZURE_CLIENT_ID must be that identity\'s Client ID (`az identity list --query "[].{name:name, clientId:clientId}" -o table`). A federated credential cannot be tried from a laptop: check the deployed app\'s GET /api/health, which runs the same preflight.',
  },
  INVALID_CLIENT_SECRET: {
    stage: 'token',
    retryable: false,
    cause:
      'Entra ID refused the client secret of app {clientId} (AADSTS7000215): the vault holds the Secret ID instead of its Value, a secret of another app, or a secret that was deleted.',
    fix: `Create a new secret: ${newSecret}.`,
  },
  CLIENT_SECRET_EXPIRED: {
    stage: 'token',
    retryable: false,
    cause: 'The client secret of app {clientId} has expired (AADSTS7000222).',
    fix: `${newSecret}. Set the secret's expiry date in the vault too: exosend's health check then reports the days left before the next one.`,
  },
  APP_NOT_FOUND_IN_TENANT: {
    stage: 'token',
    retryable: false,
    cause:
      'Tenant {tenantId} has no enabled application with client ID {clientId} (AADSTS700016; AADSTS7000112 when it is disabled): the ID is wrong (an Object ID copied instead of the Application (client) ID), the app lives in another tenant, or it was deleted or disabled.',
    fix: `Copy the Application (client) ID from ${appRegistrations} > (your app) > Overview into EXOSEND_CLIENT_ID, and check that EXOSEND_TENANT_ID ({tenantId}) is the tenant it is registered in. If it is disabled: ${enterpriseApps} > (your app) > Properties > "Enabled for users to sign-in?" Yes.`,
  },
  TENANT_NOT_FOUND: {
    stage: 'token',
    retryable: false,
    cause:
      'The identity platform does not know the tenant {tenantId} (AADSTS90002 or AADSTS900023): EXOSEND_TENANT_ID is mistyped, or the tenant lives in another cloud than AZURE_AUTHORITY_HOST.',
    fix: 'Set EXOSEND_TENANT_ID to the Tenant ID shown in Entra admin center > Overview (or a verified domain of that tenant). For a national cloud set AZURE_AUTHORITY_HOST to its login host.',
  },
  TOKEN_ENDPOINT_UNAVAILABLE: {
    stage: 'token',
    retryable: true,
    cause:
      'No token could be had from the identity platform for tenant {tenantId}: it could not be reached, failed (5xx), throttled (429) or answered with an error exosend does not recognise (see the reply).',
    fix: 'exosend retries on its own. If it persists, check that the Function App can reach AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com) over HTTPS, Azure status, and Entra admin center > Sign-in logs > Service principal sign-ins for app {clientId}. A mistyped EXOSEND_TENANT_ID ({tenantId}) can fail this way too (endpoints_resolution_error).',
  },
  TOKEN_ROLE_MISSING: {
    stage: 'claims',
    retryable: false,
    cause:
      'The token for app {clientId} carries no SMTP.SendAsApp role: the permission was not added or admin consent was not granted, so Exchange would answer 535 5.7.3.',
    fix: `${grantRole}. If the tenant uses Exchange RBAC for Applications instead (no Entra permission), set EXOSEND_ROLES_MODE=rbac.`,
  },
  TOKEN_WRONG_AUDIENCE: {
    stage: 'claims',
    retryable: false,
    cause:
      'The token was not issued for Exchange Online (scope {scope}): EXOSEND_SCOPE names another resource (such as Microsoft Graph), or the tenant has no Exchange Online resource (AADSTS500011, AADSTS1002012).',
    fix: 'Set EXOSEND_SCOPE to https://outlook.office365.com/.default (now {scope}) and make sure AZURE_AUTHORITY_HOST is the v2.0 identity platform host. If the scope is right and Entra says the resource principal is not found, the tenant {tenantId} needs an Exchange Online licence.',
  },
  TOKEN_TENANT_MISMATCH: {
    stage: 'claims',
    retryable: false,
    cause:
      'The token was issued by another tenant than {tenantId}: Exchange accepts only tokens of the tenant that holds the mailbox {mailbox}.',
    fix: "Set EXOSEND_TENANT_ID to the Tenant ID of the mailbox's tenant (Entra admin center > Overview); a multi-tenant app needs consent in that tenant.",
  },
  TOKEN_APP_MISMATCH: {
    stage: 'claims',
    retryable: false,
    cause:
      'The token belongs to another application than {clientId}: EXOSEND_CLIENT_ID and the secret in {secretName} are from different app registrations.',
    fix: `Check EXOSEND_CLIENT_ID against ${app} > Overview > Application (client) ID, and that the secret in the vault was created under that same app.`,
  },
  SMTP_AUTH_DISABLED: {
    stage: 'auth',
    retryable: false,
    cause:
      'SMTP AUTH is disabled for the mailbox {mailbox} or the whole tenant (535 5.7.139); that blocks OAuth as well as passwords.',
    fix:
      'In Exchange Online PowerShell, for this mailbox only: `Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false`; or tenant-wide: `Set-TransportConfig -SmtpClientAuthenticationDisabled $false` (check with `Get-CASMailbox -Identity {mailbox} | Format-List SmtpClientAuthenticationDisabled`). Changes can take up to an hour. Where SMTP AUTH must stay off (a security baseline), send through Microsoft Graph instead: set EXOSEND_TRANSPORT=graph (or auto) and grant ' +
      grantGraphRole +
      '.',
  },
  APP_NOT_REGISTERED_IN_EXCHANGE: {
    stage: 'auth',
    retryable: false,
    cause:
      'Exchange does not know app {clientId} as a service principal (535 5.7.139, "the request did not meet the criteria"); also reported when a Conditional Access policy blocks the app.',
    fix: `In Exchange Online PowerShell: \`${newServicePrincipal}\`, then \`${fullAccess}\`. Check with \`Get-ServicePrincipal | Where-Object AppId -eq {clientId}\`. If it is registered, look for a Conditional Access failure in Entra admin center > Sign-in logs > Service principal sign-ins.`,
  },
  AUTH_UNSUCCESSFUL: {
    stage: 'auth',
    retryable: false,
    cause:
      'Exchange refused the token for mailbox {mailbox} (535 5.7.3). It gives this same reply for five different setup mistakes; exosend cannot tell which one from the reply.',
    fix: [
      'Check in order:',
      '1. Audience: EXOSEND_SCOPE must be https://outlook.office365.com/.default (now {scope}), from the v2.0 token endpoint; a Graph token is refused.',
      `2. Permission: ${grantRole} (or EXOSEND_ROLES_MODE=rbac with an Exchange RBAC for Applications role).`,
      `3. Service principal: \`Get-ServicePrincipal | Where-Object AppId -eq {clientId}\` must show the Object ID from ${enterpriseApp}; if missing or different (the App registration's Object ID), \`Remove-ServicePrincipal\` it and run \`${newServicePrincipal}\`.`,
      `4. Mailbox permission: {mailbox} (EXOSEND_MAILBOX, or one of EXOSEND_MAILBOXES) is the user= address and must be the mailbox's primary SMTP address: \`${fullAccess}\` (with RBAC for Applications, a management scope that includes {mailbox}).`,
      '5. SMTP AUTH for the mailbox: `Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false`.',
      "exosend checks the token's audience, and with EXOSEND_ROLES_MODE=entra its SMTP.SendAsApp role, before it connects: when those pass, look at 3 to 5 first. Exchange permissions can take up to an hour to apply.",
    ].join('\n'),
  },
  NOT_AUTHENTICATED: {
    stage: 'send',
    retryable: false,
    cause:
      'The session is not authenticated: the server at EXOSEND_SMTP_HOST refused the AUTH XOAUTH2 command or was asked to send before a successful AUTH (530 5.7.57). It offers no AUTH XOAUTH2 (no STARTTLS, or not Exchange Online); exosend never sends without AUTH.',
    fix: 'Set EXOSEND_SMTP_HOST=smtp.office365.com and EXOSEND_SMTP_PORT=587, and make sure no proxy or relay between the Function App and Exchange strips STARTTLS or AUTH.',
  },
  // The trustee is the mailbox in `user=`, not the app's service principal. Exchange's reply names
  // the mailbox as the one refused ("<mailbox> not allowed to send as <from>", KB486942's
  // SendAsDenied row); Microsoft's page says only "grant SendAs permissions to the sender"
  // (MicrosoftDocs/office-developer-exchange-docs,
  // docs/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth.md);
  // and an admin who granted SendAs to the service principal alone still got SendAsDenied until the
  // authenticating mailbox had it (github.com/Notifuse/notifuse/issues/250).
  SEND_AS_DENIED: {
    stage: 'send',
    retryable: false,
    cause:
      "The mailbox {mailbox} may not send as {from} (554 5.2.252 SendAsDenied / 550 5.7.60): the From address differs from the mailbox that authenticated (user={mailbox}), and that mailbox has no Send As right on {from}. Exchange checks the mailbox's right, not the app's: Send As granted to the app's service principal does not count here.",
    fix: 'Send from {mailbox}, or in Exchange Online PowerShell: `Add-RecipientPermission -Identity {from} -Trustee {mailbox} -AccessRights SendAs` (the trustee is the mailbox exosend authenticates as, not the Enterprise application; it can take up to an hour). Keep EXOSEND_ALLOWED_SENDERS to addresses that have it.',
  },
  CONCURRENCY_LIMIT: {
    stage: 'send',
    retryable: true,
    cause:
      'More than 3 SMTP connections were open for the mailbox {mailbox} at once (432 4.3.2), counting every application and device that uses it.',
    fix: 'exosend retries with a new connection. Lower EXOSEND_MAX_CONNECTIONS (at most 3, less if other senders share {mailbox}), or give each application its own mailbox.',
  },
  DAILY_QUOTA_EXCEEDED: {
    // Not retryable: the quota frees only as its rolling 24-hour window moves, so the usual
    // seconds-to-minutes backoff would spend every attempt; retryAfterSeconds tells a scheduler
    // that can wait hours when one more try is worth it.
    stage: 'send',
    retryable: false,
    retryAfterSeconds: 3600,
    cause:
      "The mailbox {mailbox} reached Exchange Online's limit of 10,000 recipients in a rolling 24 hours (554 5.2.0 SubmissionQuotaExceededException).",
    fix: 'Send again after the window has rolled (hours). Spread the volume over several mailboxes (one per application), lower EXOSEND_RATE_PER_MINUTE, or move bulk mail to a service made for it; Exchange Online is not a bulk sender.',
  },
  MAILBOX_FULL: {
    stage: 'send',
    retryable: false,
    cause:
      'The mailbox {mailbox} is full (554 5.2.2); every message it sends is kept in its Sent Items, which fill it up.',
    fix: 'Empty Sent Items of {mailbox} (`Get-MailboxFolderStatistics -Identity {mailbox} -FolderScope SentItems` shows its size) and add a retention policy that deletes Sent Items after a few days (Microsoft Purview > Data lifecycle management), or raise the mailbox quota.',
  },
  TOKEN_EXPIRES_SOON: {
    stage: 'auth',
    retryable: true,
    cause: 'Exchange refused a token that was too close to its expiry (501 5.5.127 "Token will expire soon").',
    fix: 'exosend retries with a fresh token; it renews tokens ten minutes before expiry. If it repeats, check the Function App host clock.',
  },
  SENDER_BLOCKED: {
    stage: 'send',
    retryable: false,
    cause:
      'Microsoft 365 blocks {from} or the tenant from sending (550 5.1.8 restricted sender, 5.7.7xx tenant blocked, unregistered domain or tenant block list, 5.7.233 external recipient limit), usually after outbound spam.',
    fix: 'Microsoft Defender portal > Email & collaboration > Review > Restricted entities: release {mailbox} after securing it (5.1.8). For 5.7.750 add and verify the From domain in Microsoft 365 admin center > Settings > Domains; for 5.7.705/5.7.708/5.7.703 or 5.7.233 open a Microsoft support request from the admin center.',
  },
  TLS_REJECTED: {
    stage: 'tls',
    retryable: false,
    cause:
      'The TLS step failed: the server did not offer STARTTLS or refused it, the handshake failed (TLS 1.0/1.1 is refused, 421 4.7.66), or the certificate was not trusted.',
    fix: 'Use EXOSEND_SMTP_HOST=smtp.office365.com with EXOSEND_SMTP_PORT=587 (STARTTLS, TLS 1.2 or newer). A proxy that intercepts TLS needs its CA in NODE_EXTRA_CA_CERTS, or an exception for port 587.',
  },
  TEMPORARY_FAILURE: {
    stage: 'connect',
    retryable: true,
    cause:
      'Exchange answered with a temporary error (4xx such as 451 4.7.0 or 421 4.3.2), or the connection could not be opened, timed out or dropped.',
    fix: 'exosend retries on its own. If it persists, check that the Function App reaches EXOSEND_SMTP_HOST on EXOSEND_SMTP_PORT (outbound port 587 open in its VNet/NSG/firewall) and the Microsoft 365 service health.',
  },
  SMTP_REJECTED: {
    stage: 'send',
    retryable: false,
    cause:
      'Exchange refused the message for good with a reply exosend has no specific entry for (see the reply): often a message over the size limit (35 MB by default, base64 adds a third), more than 500 recipients, or an invalid address.',
    fix: 'Read the reply: fix the message (size, recipients, addresses), or the Exchange setting it names (Exchange admin center > Mailboxes > {mailbox} for per-mailbox limits). Sending it again unchanged will fail again.',
  },
  // Graph's error shapes: { "error": { "code", "message" } } with the HTTP status
  // (microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/user-sendmail.md and concepts/errors.md)
  GRAPH_PERMISSION_MISSING: {
    stage: 'claims',
    retryable: false,
    cause:
      'The Microsoft Graph token for app {clientId} carries no Mail.Send role: the application permission was not added or admin consent was not granted, so Graph would answer 403 ErrorAccessDenied (EXOSEND_TRANSPORT sends through Graph).',
    fix: `${grantGraphRole}. If the tenant scopes the app to some mailboxes with Exchange RBAC for Applications instead (no Entra permission), set EXOSEND_ROLES_MODE=rbac and in Exchange Online PowerShell run ${graphRbac}.`,
  },
  GRAPH_ACCESS_DENIED: {
    stage: 'auth',
    retryable: false,
    cause:
      "Microsoft Graph refused app {clientId} access to the mailbox {mailbox} (403 ErrorAccessDenied): Mail.Send is not granted or not consented, the mailbox is outside the app's RBAC for Applications scope, or an application access policy excludes it.",
    fix: [
      'Check in order:',
      `1. Permission: ${grantGraphRole}.`,
      `2. RBAC for Applications: \`Test-ServicePrincipalAuthorization -Identity {clientId} -Resource {mailbox}\` must show "Application Mail.Send" with InScope True; if not: ${graphRbac}.`,
      "3. Application access policy: `Test-ApplicationAccessPolicy -Identity {mailbox} -AppId {clientId}` must say Granted; add the mailbox to the policy's group, or `Remove-ApplicationAccessPolicy` when RBAC for Applications replaces it.",
      'Exchange permissions can take up to an hour to apply.',
    ].join('\n'),
  },
  GRAPH_MAILBOX_NOT_FOUND: {
    stage: 'send',
    retryable: false,
    cause:
      'Microsoft Graph knows no mailbox {mailbox} in tenant {tenantId} (404 ErrorInvalidUser or ResourceNotFound): the address is mistyped, not the primary SMTP address or user principal name, or the mailbox lives in another tenant.',
    fix: "Set EXOSEND_MAILBOX (and EXOSEND_MAILBOXES) to the mailbox's user principal name or primary SMTP address: `Get-Mailbox -Identity {mailbox} | Format-List UserPrincipalName,PrimarySmtpAddress`; and EXOSEND_TENANT_ID ({tenantId}) to the tenant that holds it.",
  },
  GRAPH_MAILBOX_NOT_ENABLED: {
    stage: 'send',
    retryable: false,
    cause:
      'The mailbox {mailbox} cannot be used through Microsoft Graph (MailboxNotEnabledForRESTAPI): it has no Exchange Online licence, is on-premises (hybrid), inactive or soft-deleted.',
    fix: 'Assign the mailbox an Exchange Online licence in Microsoft 365 admin center > Users > Active users > {mailbox} > Licenses and apps (a shared mailbox needs none but must be in Exchange Online: `Get-Mailbox -Identity {mailbox} | Format-List RecipientTypeDetails,IsInactiveMailbox`); an on-premises mailbox must be migrated first, or keep EXOSEND_TRANSPORT=smtp for it.',
  },
  GRAPH_MESSAGE_TOO_LARGE: {
    stage: 'send',
    retryable: false,
    cause:
      'Microsoft Graph refused the message for its size (ErrorMessageSizeExceeded, or 413): a sendMail request carries about 4 MB at most (base64 included), and the mailbox {mailbox} takes no more than its MaxSendSize (35 MB by default) in any case.',
    fix: "Send smaller attachments, or links to them. exosend sends through sendMail only: a message between about 4 MB and the mailbox's limit goes by SMTP (EXOSEND_TRANSPORT=smtp, where SMTP AUTH is allowed). Check the mailbox's limit with `Get-Mailbox -Identity {mailbox} | Format-List MaxSendSize`.",
  },
  GRAPH_INVALID_MIME: {
    stage: 'send',
    retryable: false,
    cause:
      'Microsoft Graph could not read the message exosend posted (400 ErrorMimeContentInvalidBase64String or another invalid-MIME error): the body was not the base64 of a MIME message, or a proxy between the Function App and Graph changed it.',
    fix: "exosend composes and encodes the MIME itself: report the reply to exosend's maintainers. If EXOSEND_GRAPH_ENDPOINT points through a proxy, make sure it passes text/plain bodies unchanged.",
  },
  GRAPH_THROTTLED: {
    stage: 'send',
    retryable: true,
    cause:
      'Microsoft Graph throttled app {clientId} on the mailbox {mailbox} (429 ApplicationThrottled / MailboxConcurrency): more than 4 concurrent requests, 10,000 requests in 10 minutes, or 150 MB uploaded in 5 minutes, counting every app instance and every other tool that uses this app registration.',
    fix: "exosend waits as long as Graph's Retry-After says and tries again. If it persists, lower EXOSEND_RATE_PER_MINUTE, and make sure no other workload uses app {clientId} against {mailbox}.",
  },
  GRAPH_UNAVAILABLE: {
    stage: 'connect',
    retryable: true,
    cause:
      'Microsoft Graph could not be reached or answered with a server error (5xx, 503 with Retry-After), or gave no answer in time: a request with no answer may have been accepted.',
    fix: 'exosend retries on its own where that cannot send twice. If it persists, check that the Function App reaches EXOSEND_GRAPH_ENDPOINT (default https://graph.microsoft.com) over HTTPS (outbound 443 in its VNet, NSG or firewall) and the Microsoft 365 service health.',
  },
  GRAPH_REJECTED: {
    stage: 'send',
    retryable: false,
    cause:
      'Microsoft Graph refused the message for good with an answer exosend has no specific entry for (see the reply): often an invalid recipient address, more than 500 recipients, or a request Graph does not take.',
    fix: 'Read the reply: fix the message (recipients, addresses, size), or the mailbox setting it names (Exchange admin center > Mailboxes > {mailbox}). Sending it again unchanged will fail again.',
  },
  // the delivery reports reader (src/pipeline/read-delivery-reports.ts): it reads the sending
  // mailboxes' Inbox and never sends, so this failure stops no message
  READER_ACCESS_DENIED: {
    stage: 'auth',
    retryable: false,
    cause:
      'Microsoft Graph refused app {clientId} read access to the Inbox of {mailbox} (403 ErrorAccessDenied, or a Graph token without Mail.Read): exosend cannot read delivery reports back, so recipients stay pending until the horizon makes them unknown, and addresses that bounce are not suppressed. Sending goes on unaffected.',
    fix: [
      `RBAC for Applications (reaches only the mailboxes you scope; EXOSEND_ROLES_MODE=rbac), in Exchange Online PowerShell: ${readerRbac}.`,
      `Or the Entra permission (reaches every mailbox of the tenant): ${grantReadRole}.`,
      'Check with `Test-ServicePrincipalAuthorization -Identity {clientId} -Resource {mailbox}`: "Application Mail.Read" must show InScope True. Exchange permissions can take up to an hour to apply. Or set EXOSEND_DELIVERY_TRACKING=off to stop reading.',
    ].join('\n'),
  },
};
