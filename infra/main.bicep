// exosend on Flex Consumption, as `azd up` provisions it. Laid out like Microsoft's
// functions-quickstart-typescript-azd (subscription scope, app/ modules, abbreviations, a
// parameters file), with local modules only so that `bicep build` needs no registry.
// No secret passes through this template: the client secret is stored in the vault afterwards
// (`npx exosend secret set`, README "Deploy to Azure").
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds the unique names of every resource.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer Flex Consumption.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object ID of the user running azd: it may store the client secret (or certificate) in the vault and read it back with exosend doctor.')
param principalId string = deployer().objectId

@description('Entra tenant of the app registration (default: the subscription\'s tenant).')
param exosendTenantId string = tenant().tenantId

@description('Application (client) ID of the app registration that holds SMTP.SendAsApp.')
param exosendClientId string

@description('The mailbox exosend authenticates as, and the default From.')
param exosendMailbox string

@description('Comma list of From addresses callers may use (default: the mailbox only).')
param exosendAllowedSenders string = ''

@allowed(['entra', 'rbac'])
@description('entra: the token must hold SMTP.SendAsApp; rbac: Exchange RBAC for Applications.')
param exosendRolesMode string = 'entra'

@allowed(['smtp', 'graph', 'auto'])
@description('How mail leaves: smtp (SMTP AUTH XOAUTH2), graph (Microsoft Graph sendMail, application permission Mail.Send), auto (SMTP, and Graph for a mailbox where SMTP AUTH is disabled).')
param exosendTransport string = 'smtp'

@description('Recipient of the health check\'s synthetic send; empty: the check stops after AUTH.')
param exosendHealthTo string = ''

@allowed(['secret', 'certificate', 'federated'])
@description('How the app proves itself to Entra: a vault secret, a vault certificate, or this app\'s managed identity as a federated credential.')
param exosendCredential string = 'secret'

@description('Key Vault certificate (with private key) used when exosendCredential is certificate.')
param exosendClientCertificateName string = 'exosend-client-certificate'

@description('Comma list of further mailboxes the app authenticates as (each also an allowed sender).')
param exosendMailboxes string = ''

@description('Daily recipient budget per mailbox (Exchange allows 10,000).')
param exosendRecipientsPerDay string = '10000'

@allowed(['key', 'entra'])
@description('How callers prove who they are: key (function keys) or entra (a bearer token for exosend\'s API, whose app registration the preprovision hook makes or checks: docs/callers.md, "Deploy"). both also needs EXOSEND_CALLER_KEY, which this template does not set.')
param exosendCallerAuth string = 'key'

@description('With entra: the audiences a caller\'s token may carry, the API\'s Application ID URI and client ID (api://<app id>,<app id>); the preprovision hook sets it.')
param exosendApiAudience string = ''

@description('Where the health alerts are mailed.')
param alertEmail string

@description('Purge protection on the vault: once on it cannot be turned off, and a deleted vault\'s name stays taken for 90 days (see app/vault.bicep).')
@allowed(['true', 'false'])
param exosendVaultPurgeProtection string = 'false'

@description('Anything new gives the vault a new name: for `azd up` again while the old, purge-protected vault still holds its name. Empty keeps the name the environment always had.')
param exosendVaultNameSalt string = ''

@minValue(1)
@maxValue(1000)
@description('Most instances of each function group; see app/api.bicep for why exosend needs few.')
param maximumInstanceCount int = 40

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}exosend-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
// The vault's name is the only one a deletion keeps (soft delete): a salt lets the environment take
// a new one, and an empty salt keeps the name existing environments already have.
var vaultToken = empty(exosendVaultNameSalt) ? resourceToken : toLower(uniqueString(resourceToken, exosendVaultNameSalt))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}exosend-${resourceToken}'
    location: location
    tags: tags
  }
}

// The identity the alert rules query the logs as (app/alerts.bicep): the app's own identity does not
// read logs, and the rules do not depend on any person's access.
module alertsIdentity 'app/identity.bicep' = {
  name: 'alerts-identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}exosend-alerts-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module vault 'app/vault.bicep' = {
  name: 'vault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${vaultToken}'
    location: location
    tags: tags
    purgeProtection: exosendVaultPurgeProtection == 'true'
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    vaultName: vault.outputs.name
    identityPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    credential: exosendCredential
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    vaultUri: vault.outputs.uri
    maximumInstanceCount: maximumInstanceCount
    exosend: {
      tenantId: exosendTenantId
      clientId: exosendClientId
      mailbox: exosendMailbox
      allowedSenders: exosendAllowedSenders
      rolesMode: exosendRolesMode
      transport: exosendTransport
      healthTo: exosendHealthTo
      credential: exosendCredential
      clientCertificateName: exosendClientCertificateName
      mailboxes: exosendMailboxes
      recipientsPerDay: exosendRecipientsPerDay
      callerAuth: exosendCallerAuth
      apiAudience: exosendApiAudience
    }
  }
  // the app starts polling storage and reading the vault at once: its roles must exist first
  dependsOn: [rbac]
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: '${abbrs.insightsScheduledQueryRules}exosend-${resourceToken}'
    actionGroupName: '${abbrs.insightsActionGroups}exosend-${resourceToken}'
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    alertEmail: alertEmail
    identityId: alertsIdentity.outputs.resourceId
    identityPrincipalId: alertsIdentity.outputs.principalId
  }
}

module diagnostics 'app/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    vaultName: vault.outputs.name
    functionAppName: api.outputs.name
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_URL string = api.outputs.url
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output AZURE_KEY_VAULT_URL string = vault.outputs.uri
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
// azd writes the outputs into the environment, where azure.yaml's postprovision hook reads the kind
// of credential chosen even when EXOSEND_CREDENTIAL was left to its default
output EXOSEND_CREDENTIAL string = exosendCredential
// with exosendCredential = federated: add these to the app registration's federated credentials
output EXOSEND_FEDERATED_ISSUER string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
output EXOSEND_FEDERATED_SUBJECT string = identity.outputs.principalId
output EXOSEND_FEDERATED_AUDIENCE string = 'api://AzureADTokenExchange'
