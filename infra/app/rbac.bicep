// Least privilege: the app's identity gets the data-plane roles for what the code calls, on the one
// resource it calls, and nothing on the subscription. test/infra.test.ts checks every call has one.
param storageAccountName string
param applicationInsightsName string
param vaultName string
param identityPrincipalId string
@description('The user running azd: may store the client secret (or certificate) in the vault, and read it with exosend doctor.')
param deployerPrincipalId string
param credential string

// built-in role definition IDs (Microsoft Learn, "Azure built-in roles")
var roles = {
  // the Functions host's own use of AzureWebJobsStorage (leases, timers, the deployment package) and
  // exosend's claim-checked requests
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // the intake and poison queues: the trigger, /api/enqueue, exosend enqueue, retries, dead letters
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // the status records of /api/messages and the queue trigger
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // telemetry with local authentication off
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // reads the client secret (and a certificate's private key, which Key Vault serves as a secret)
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // reads a certificate's expiry, for EXOSEND_CREDENTIAL = certificate
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
  // the deploying user: stores and rotates the secret (npx exosend secret set)
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource storageBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// with a federated credential there is nothing in the vault to read
resource vaultSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (credential != 'federated') {
  name: guid(vault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource vaultCertificates 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (credential == 'certificate') {
  name: guid(vault.id, identityPrincipalId, roles.keyVaultCertificateUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificateUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId) && credential == 'secret') {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
  }
}

resource deployerCertificates 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId) && credential == 'certificate') {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificatesOfficer)
    principalId: deployerPrincipalId
  }
}

// Certificates Officer creates, imports and renews the certificate but cannot read its private key:
// its data actions are certificates/*, certificatecas/* and certificatecontacts/write, no secrets/*
// (Microsoft Learn, "Azure built-in roles for Security"). exosend, and so `exosend doctor`, reads the
// certificate through its secret (src/auth/secret-source.ts getSecret), which takes Key Vault
// Secrets User: "Read secret contents including secret portion of a certificate with private key"
// (MicrosoftDocs/azure-security-docs, articles/key-vault/general/rbac-guide.md). Without it the
// deploying user's doctor stops at the vault stage.
resource deployerCertificateSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId) && credential == 'certificate') {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: deployerPrincipalId
  }
}
