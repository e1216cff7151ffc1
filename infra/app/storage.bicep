// The app's storage: shared keys off (every client, the host's and exosend's, signs in with the
// identity), TLS 1.2, no public blobs; the Flex deployment container and what exosend's queue path
// uses (the names are the code's: test/infra.test.ts compares them).
param name string
param location string
param tags object
param deploymentContainerName string

@description('exosend\'s intake queue (EXOSEND_QUEUE) and its poison queue.')
param queueName string = 'outbound-mail'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }

  resource blobs 'blobServices' = {
    name: 'default'
    resource deployment 'containers' = { name: deploymentContainerName }
    // claim-checked requests too large for a queue message (src/storage/storage.ts requestsContainer)
    resource requests 'containers' = { name: 'exosend-requests' }
  }

  resource queues 'queueServices' = {
    name: 'default'
    resource intake 'queues' = { name: queueName }
    resource poison 'queues' = { name: '${queueName}-poison' }
  }

  resource tables 'tableServices' = {
    name: 'default'
    // one record per queued request (src/storage/storage.ts recordsTable)
    resource records 'tables' = { name: 'exosendmessages' }
    // the mailbox's budget, shared by every instance (src/budget/table-budget.ts budgetTable)
    resource budget 'tables' = { name: 'exosendbudget' }
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
