# azd preprovision hook (azure.yaml, windows): exosend's API app registration, for EXOSEND_CALLER_AUTH=entra.
# The same steps as api-registration.sh, which says why they are a hook and why before provisioning.
# Runs under PowerShell 7 (pwsh) or Windows PowerShell 5 (azd falls back to it: Azure/azure-dev,
# cli/azd/pkg/tools/powershell/powershell.go). A native command's failure does not stop a script,
# so each az call's exit code is checked; 'Continue' because Windows PowerShell 5 turns a native
# command's redirected stderr (az's warnings) into errors that 'Stop' would make fatal.
# Strings are compared case-sensitively (-ceq, -cne): -eq would take 'Entra' or 'KEY', which the sh
# hook and main.bicep's @allowed refuse.
$ErrorActionPreference = 'Continue'

function Invoke-Az {
  $output = & az @args
  if ($LASTEXITCODE -ne 0) { throw "az $($args -join ' ') failed ($LASTEXITCODE)" }
  return $output
}

$mode = if ($env:EXOSEND_CALLER_AUTH) { $env:EXOSEND_CALLER_AUTH } else { 'key' }
if ($mode -ceq 'key') { exit 0 }
if ($mode -cne 'entra') {
  Write-Error "EXOSEND_CALLER_AUTH is `"$mode`": the template provisions key or entra (both needs EXOSEND_CALLER_KEY, which it does not set; docs/callers.md, `"Deploy`")"
  exit 1
}

if ($env:EXOSEND_API_REGISTRATION -cne 'create') {
  if ($env:EXOSEND_API_AUDIENCE) {
    Write-Host "Callers authenticate with Entra; their tokens' audience: $env:EXOSEND_API_AUDIENCE"
    exit 0
  }
  [Console]::Error.WriteLine("EXOSEND_CALLER_AUTH=entra needs exosend's API app registration and EXOSEND_API_AUDIENCE. Either let this hook create it:")
  [Console]::Error.WriteLine('  azd env set EXOSEND_API_REGISTRATION create')
  [Console]::Error.WriteLine('or create it as docs/callers.md ("Deploy") says, then:')
  [Console]::Error.WriteLine('  azd env set EXOSEND_API_AUDIENCE "api://<its app id>,<its app id>"')
  exit 1
}

if (-not $env:AZURE_ENV_NAME) { throw 'azd sets AZURE_ENV_NAME' }
$name = "exosend-api-$env:AZURE_ENV_NAME"
$roles = Join-Path $PSScriptRoot 'api-app-roles.json'

# The tenant check, and why AZURE_TENANT_ID is the tenant exosend accepts tokens from: api-registration.sh.
$azTenant = "$(Invoke-Az account show --query tenantId -o tsv)".Trim()
if ($env:AZURE_TENANT_ID) {
  # tenant ids are GUIDs: the same in any case
  if ($azTenant.ToLowerInvariant() -cne $env:AZURE_TENANT_ID.ToLowerInvariant()) {
    [Console]::Error.WriteLine("az is signed in to tenant $azTenant, but exosend accepts caller tokens from tenant $env:AZURE_TENANT_ID (AZURE_TENANT_ID, the subscription's tenant): a registration made in the other tenant would match no caller's token. Sign az in to exosend's tenant, then run azd up again:")
    [Console]::Error.WriteLine("  az login --tenant $env:AZURE_TENANT_ID")
    exit 1
  }
} else {
  Write-Host "AZURE_TENANT_ID is not set (the template sets it after the first provision): the registration goes to az's tenant $azTenant, which must be the subscription's. To have this checked: azd env set AZURE_TENANT_ID <tenant id>"
}

if ($env:EXOSEND_API_APP_ID) {
  # this environment's registration, recorded when the hook made it: updated by its id, never found by name
  $appId = $env:EXOSEND_API_APP_ID
  Invoke-Az ad app update --id $appId --sign-in-audience AzureADMyOrg --app-roles "@$roles" --identifier-uris "api://$appId" | Out-Null
} else {
  # az ad app create would patch an app of this display name that another environment made
  $taken = Invoke-Az ad app list --display-name $name --query '[].appId' -o tsv
  if ($taken) {
    [Console]::Error.WriteLine("An app registration named $name already exists (app id $($taken -join ' ')) and this environment records none (EXOSEND_API_APP_ID): the hook does not change an app it did not make. If it is this environment's:")
    [Console]::Error.WriteLine('  azd env set EXOSEND_API_APP_ID <its app id>')
    [Console]::Error.WriteLine('otherwise use another azd environment name.')
    exit 1
  }
  $appId = Invoke-Az ad app create --display-name $name --sign-in-audience AzureADMyOrg --app-roles "@$roles" --query appId -o tsv
  # recorded at once, so that a run after a later failure updates this app instead of making another
  & azd env set EXOSEND_API_APP_ID $appId
  if ($LASTEXITCODE -ne 0) { throw 'azd env set EXOSEND_API_APP_ID failed' }
  # the Application ID URI names the app id, known only once the app exists: a second call
  Invoke-Az ad app update --id $appId --identifier-uris "api://$appId" | Out-Null
}
$null = & az ad sp show --id $appId --query id -o tsv 2>&1
if ($LASTEXITCODE -ne 0) { Invoke-Az ad sp create --id $appId --query id -o tsv | Out-Null }
$spId = Invoke-Az ad sp show --id $appId --query id -o tsv
# v1.0 tokens carry the URI the caller asked for, v2.0 tokens the client id (docs/callers.md)
& azd env set EXOSEND_API_AUDIENCE "api://$appId,$appId"
if ($LASTEXITCODE -ne 0) { throw 'azd env set EXOSEND_API_AUDIENCE failed' }

$roleId = (Get-Content -Raw $roles | ConvertFrom-Json)[0].id
Write-Host "exosend's API: $name, app id $appId, service principal $spId; callers ask for the scope api://$appId/.default"
Write-Host "Next, for each calling app's managed identity (its principal id): grant it the role, then give it a policy:"
Write-Host "  az rest -m POST -u https://graph.microsoft.com/v1.0/servicePrincipals/$spId/appRoleAssignedTo -b '{`"principalId`":`"<principal id>`",`"resourceId`":`"$spId`",`"appRoleId`":`"$roleId`"}'"
Write-Host "  npx exosend caller add <the identity's client id> --name <name> --senders <from addresses> --recipients '<patterns>'"
