// The Flex Consumption plan and the function app (Node 22), running as the user-assigned identity,
// with the app settings of exosend's contract (README, "Settings"). Flex reads neither
// FUNCTIONS_WORKER_RUNTIME nor WEBSITE_RUN_FROM_PACKAGE (functionAppConfig.runtime and .deployment
// say the same), so neither is set.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param vaultUri string
param maximumInstanceCount int
@description('exosend\'s own settings, from main.bicep\'s parameters.')
param exosend object

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

// Every name here is one the code reads (src/config/settings.ts, src/config/storage-connection.ts,
// src/telemetry/telemetry.ts); test/infra.test.ts fails when one the configuration requires is missing.
var appSettings = {
  EXOSEND_TENANT_ID: exosend.tenantId
  EXOSEND_CLIENT_ID: exosend.clientId
  EXOSEND_KEY_VAULT_URL: vaultUri
  EXOSEND_CLIENT_SECRET_NAME: 'exosend-client-secret'
  EXOSEND_MAILBOX: exosend.mailbox
  EXOSEND_ALLOWED_SENDERS: exosend.allowedSenders
  EXOSEND_ROLES_MODE: exosend.rolesMode
  EXOSEND_TRANSPORT: exosend.transport
  EXOSEND_HEALTH_TO: exosend.healthTo
  EXOSEND_CREDENTIAL: exosend.credential
  EXOSEND_CLIENT_CERTIFICATE_NAME: exosend.clientCertificateName
  EXOSEND_MAILBOXES: exosend.mailboxes
  EXOSEND_RECIPIENTS_PER_DAY: exosend.recipientsPerDay
  EXOSEND_QUEUE: 'outbound-mail'
  // who may call: function keys, or Entra tokens for the API registration (docs/callers.md)
  EXOSEND_CALLER_AUTH: exosend.callerAuth
  EXOSEND_API_AUDIENCE: exosend.apiAudience
  // the identity that reads the vault (the Azure SDK's own variable)
  AZURE_CLIENT_ID: identityClientId
  // storage by identity, as the Functions host and exosend both read it: shared keys are off
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  // telemetry with an Entra token: Application Insights has local authentication off
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      // Scale. Flex Consumption scales the HTTP functions, the queue function and the timer on
      // instances of their own, and Exchange's limits (30 messages a minute, 3 SMTP sessions) are
      // per mailbox whatever the instance count. exosend's contract is that every instance takes each
      // send's slot and session lease from storage (README, "The queue"), so more instances mean more
      // callers waiting, never more mail or sessions at Exchange; a limit still counted per process
      // is multiplied by up to maximumInstanceCount per group, and must be divided by it. The cap
      // bounds what a burst costs and how many instances poll the queue; 12 concurrent HTTP calls per
      // instance keep one instance's waiting callers few, and host.json's queue batch (8, refilled at
      // 4) keeps few messages in memory while they wait for their slot.
      // Memory: 2048 MB, the smallest size that holds what one instance may hold at once. Measured
      // (`npm run bench:memory`, docs/instance-memory.md): a worker sending 10,000 small messages
      // peaks at 178 MB, but each request at the 35 MB limit in flight adds about 131 MB (324 MB for
      // one, 736 MB for four: the MIME is built once, as bytes, for whichever transport sends it), so
      // 12 concurrent HTTP calls or the queue's 12 messages need about 1.8 GB; 16 would need 2.3 GB and
      // 512 MB would hold two. test/infra.test.ts recomputes this from host.json and the concurrency below.
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
        triggers: {
          http: { perInstanceConcurrency: 12 }
        }
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  // No basic-auth (user name and password) publishing: FTP and the SCM site's basic auth are off.
  // azd deploys to Flex Consumption with an Entra token, which these policies do not touch.
  resource ftp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }

  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
