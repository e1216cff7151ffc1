// What the platform records about the vault and the function app goes to the same Log Analytics
// workspace as the app's telemetry: the vault's audit events (every read and write of the secret or
// certificate, and who made it: AuditEvent) and the Functions host's own log (FunctionAppLogs).
// Without a diagnostic setting neither is kept anywhere an operator can query.
param vaultName string
param functionAppName string
param logAnalyticsId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource vaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'exosend-vault-audit'
  scope: vault
  properties: {
    workspaceId: logAnalyticsId
    logs: [{ category: 'AuditEvent', enabled: true }]
  }
}

resource functionAppLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'exosend-function-app-logs'
  scope: site
  properties: {
    workspaceId: logAnalyticsId
    logs: [{ category: 'FunctionAppLogs', enabled: true }]
  }
}
