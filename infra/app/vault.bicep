// The vault that holds the app registration's client secret (or certificate), in RBAC mode: who may
// read or write a secret is a role assignment (app/rbac.bicep), never an access policy.
//
// Soft delete is always on (90 days: a deleted vault or secret can be recovered). Purge protection
// is a choice, off by default: once on it cannot be turned off, and it holds a deleted vault's name
// for the whole 90 days with no purge, so `azd down` then `azd up` with the same environment would
// fail on the name. What the vault holds is a copy of a credential Entra can issue again, so the
// default lets `azd down --purge` free the name; production can turn it on
// (EXOSEND_VAULT_PURGE_PROTECTION) and pick a new name with EXOSEND_VAULT_NAME_SALT (README,
// "Tearing down and up again").
param name string
param location string
param tags object
@description('Purge protection: a deleted vault cannot be purged for 90 days, and its name stays taken.')
param purgeProtection bool

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // the vault API refuses false here: leaving it out (null) is how a vault is made without it
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
