#!/bin/sh
# azd preprovision hook (azure.yaml, posix): exosend's API app registration, for EXOSEND_CALLER_AUTH=entra.
# With key (the default) it does nothing. With entra it needs EXOSEND_API_AUDIENCE, or the opt-in
# EXOSEND_API_REGISTRATION=create, which creates the registration (or updates the one EXOSEND_API_APP_ID
# records) in the tenant exosend accepts tokens from, and sets the audience.
#
# Why a hook and not the Microsoft Graph Bicep extension: the extension is fetched from
# mcr.microsoft.com when the template is built, which CI and this repository's tests cannot reach
# (bicep build: BCP192), and it cannot set identifierUris to api://<appId> in the resource that
# creates the app (docs/callers.md, "Deploy").
# Why before provisioning: azd reads infra/main.parameters.json when it deploys the template, after
# the preprovision hooks, and reloads the environment after each hook (Azure/azure-dev,
# cli/azd/pkg/ext/hooks_runner.go RunHooks; cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go
# loadParameters): the audience set here reaches the Function App's settings in the same `azd up`.
# The same steps for PowerShell: api-registration.ps1. test/api-registration.test.ts runs this one.
set -eu

mode="${EXOSEND_CALLER_AUTH:-key}"
case "$mode" in
  key) exit 0 ;;
  entra) ;;
  *)
    echo "EXOSEND_CALLER_AUTH is \"$mode\": the template provisions key or entra (both needs EXOSEND_CALLER_KEY, which it does not set; docs/callers.md, \"Deploy\")" >&2
    exit 1
    ;;
esac

if [ "${EXOSEND_API_REGISTRATION:-}" != create ]; then
  if [ -n "${EXOSEND_API_AUDIENCE:-}" ]; then
    echo "Callers authenticate with Entra; their tokens' audience: $EXOSEND_API_AUDIENCE"
    exit 0
  fi
  echo "EXOSEND_CALLER_AUTH=entra needs exosend's API app registration and EXOSEND_API_AUDIENCE. Either let this hook create it:" >&2
  echo "  azd env set EXOSEND_API_REGISTRATION create" >&2
  echo "or create it as docs/callers.md (\"Deploy\") says, then:" >&2
  echo "  azd env set EXOSEND_API_AUDIENCE \"api://<its app id>,<its app id>\"" >&2
  exit 1
fi

name="exosend-api-${AZURE_ENV_NAME:?azd sets AZURE_ENV_NAME}"
roles="$(dirname "$0")/api-app-roles.json"

# The registration must be in the tenant whose tokens exosend accepts: EXOSEND_TENANT_ID, which the
# template sets from exosendTenantId. infra/main.parameters.json does not map that parameter, so it is
# always its default, the subscription's tenant (tenant().tenantId), which main.bicep also outputs as
# AZURE_TENANT_ID and azd writes into the environment after provisioning. azd itself only reads
# AZURE_TENANT_ID (Azure/azure-dev, cli/azd/pkg/environment/environment.go TenantIdEnvVarName;
# cli/azd/pkg/prompt/tenant_helper.go filterByTenantEnvVar): before the first provision it is known
# only when the deployer set it. `az` has its own sign-in, apart from azd's, possibly in another tenant.
az_tenant=$(az account show --query tenantId -o tsv)
if [ -n "${AZURE_TENANT_ID:-}" ]; then
  # tenant ids are GUIDs: the same in any case
  if [ "$(echo "$az_tenant" | tr A-F a-f)" != "$(echo "$AZURE_TENANT_ID" | tr A-F a-f)" ]; then
    echo "az is signed in to tenant $az_tenant, but exosend accepts caller tokens from tenant $AZURE_TENANT_ID (AZURE_TENANT_ID, the subscription's tenant): a registration made in the other tenant would match no caller's token. Sign az in to exosend's tenant, then run azd up again:" >&2
    echo "  az login --tenant $AZURE_TENANT_ID" >&2
    exit 1
  fi
else
  echo "AZURE_TENANT_ID is not set (the template sets it after the first provision): the registration goes to az's tenant $az_tenant, which must be the subscription's. To have this checked: azd env set AZURE_TENANT_ID <tenant id>"
fi

if [ -n "${EXOSEND_API_APP_ID:-}" ]; then
  # this environment's registration, recorded when the hook made it: updated by its id, never found
  # by name (az ad app update takes the same --sign-in-audience, --app-roles and --identifier-uris as
  # create: Azure/azure-cli, src/azure-cli/azure/cli/command_modules/role/_params.py, 'ad app')
  app_id="$EXOSEND_API_APP_ID"
  az ad app update --id "$app_id" --sign-in-audience AzureADMyOrg --app-roles "@$roles" --identifier-uris "api://$app_id"
else
  # az ad app create patches the one app that already has this display name (Azure/azure-cli,
  # src/azure-cli/azure/cli/command_modules/role/custom.py, create_application): another team's
  # environment of the same name, or one this environment lost the record of. Not ours to change.
  taken=$(az ad app list --display-name "$name" --query "[].appId" -o tsv)
  if [ -n "$taken" ]; then
    # shellcheck disable=SC2086 # unquoted: one line however many apps
    echo "An app registration named $name already exists (app id" $taken") and this environment records none (EXOSEND_API_APP_ID): the hook does not change an app it did not make. If it is this environment's:" >&2
    echo "  azd env set EXOSEND_API_APP_ID <its app id>" >&2
    echo "otherwise use another azd environment name." >&2
    exit 1
  fi
  app_id=$(az ad app create --display-name "$name" --sign-in-audience AzureADMyOrg --app-roles "@$roles" --query appId -o tsv)
  # recorded at once, so that a run after a later failure updates this app instead of making another
  azd env set EXOSEND_API_APP_ID "$app_id"
  # the Application ID URI names the app id, known only once the app exists: a second call
  az ad app update --id "$app_id" --identifier-uris "api://$app_id"
fi
if ! az ad sp show --id "$app_id" --query id -o tsv >/dev/null 2>&1; then
  az ad sp create --id "$app_id" --query id -o tsv >/dev/null
fi
sp_id=$(az ad sp show --id "$app_id" --query id -o tsv)
# v1.0 tokens carry the URI the caller asked for, v2.0 tokens the client id (docs/callers.md)
azd env set EXOSEND_API_AUDIENCE "api://$app_id,$app_id"

role_id=$(sed -n 's/.*"id": "\([0-9a-f-]*\)".*/\1/p' "$roles")
echo "exosend's API: $name, app id $app_id, service principal $sp_id; callers ask for the scope api://$app_id/.default"
echo "Next, for each calling app's managed identity (its principal id): grant it the role, then give it a policy:"
echo "  az rest -m POST -u https://graph.microsoft.com/v1.0/servicePrincipals/$sp_id/appRoleAssignedTo -b '{\"principalId\":\"<principal id>\",\"resourceId\":\"$sp_id\",\"appRoleId\":\"$role_id\"}'"
echo "  npx exosend caller add <the identity's client id> --name <name> --senders <from addresses> --recipients '<patterns>'"
