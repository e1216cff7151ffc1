import { isExchangeAudience } from '../src/auth/claims.js';
import { loadConfig, type ExosendConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/config/config-error.js';

/** A setting the doctor can tell is wrong without a network call: named, never quoted. */
export interface SettingProblem {
  variable: string;
  message: string;
}

export interface SettingsVerdict {
  config?: ExosendConfig;
  problems: SettingProblem[];
}

export interface SettingsCheckOptions {
  from?: string;
  secretVariable?: string;
}

/** Where an admin finds the right value: the setup step behind each setting. */
const whereToFind: Record<string, string> = {
  EXOSEND_TENANT_ID: 'the Directory (tenant) ID from Entra admin center > Overview, or a verified domain of the tenant',
  EXOSEND_CLIENT_ID: 'the Application (client) ID from Entra admin center > App registrations > (your app) > Overview',
  EXOSEND_KEY_VAULT_URL:
    'the Vault URI from Azure portal > Key vaults > (your vault) > Overview, https://NAME.vault.azure.net',
  EXOSEND_CLIENT_SECRET_NAME: 'the name of the secret under Azure portal > Key vaults > (your vault) > Secrets',
  EXOSEND_CREDENTIAL:
    "secret (a client secret in Key Vault), certificate (a Key Vault certificate) or federated (the Function App's managed identity)",
  EXOSEND_CLIENT_CERTIFICATE_NAME:
    'the name of the certificate under Azure portal > Key vaults > (your vault) > Certificates',
  EXOSEND_FEDERATED_AUDIENCE:
    'api://AzureADTokenExchange (api://AzureADTokenExchangeUSGov or api://AzureADTokenExchangeChina in those clouds)',
  EXOSEND_MAILBOX:
    'the mailbox the app got FullAccess on (Add-MailboxPermission): it authenticates as user= and is the default From',
  EXOSEND_ALLOWED_SENDERS:
    'addresses the mailbox may send as (Add-RecipientPermission -Identity <address> -Trustee <EXOSEND_MAILBOX> -AccessRights SendAs: the mailbox is the trustee, not the app)',
  EXOSEND_SCOPE: 'https://outlook.office365.com/.default',
  AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com, or a national cloud's login host",
};

const defaultScope = 'https://outlook.office365.com/.default';

/**
 * The checks that cost nothing, run before any network call: every setting's shape (loadConfig),
 * a scope that is Exchange's, a From the app would accept, and the secret variable when asked for.
 */
export function checkSettings(env: Record<string, string | undefined>, options: SettingsCheckOptions): SettingsVerdict {
  const problems: SettingProblem[] = [];
  let config: ExosendConfig | undefined;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems.map((p) => withWhereToFind(p)));
  }
  // the checks below read the raw settings too, so one run names every mistake it can see
  const flagged = (...variables: string[]) => problems.some((p) => variables.includes(p.variable));
  const setting = (name: string) => env[name]?.trim() || undefined;
  if (options.secretVariable !== undefined && !setting(options.secretVariable)) {
    const name = options.secretVariable;
    problems.push({
      variable: name,
      message: `is not set (--client-secret-from-env): type the secret into it without echo, \`read -rs ${name} && export ${name}\``,
    });
  }
  const credential = setting('EXOSEND_CREDENTIAL') ?? 'secret';
  if (options.secretVariable !== undefined && credential !== 'secret' && !flagged('EXOSEND_CREDENTIAL')) {
    problems.push({
      variable: '--client-secret-from-env',
      message: `tests a client secret, but EXOSEND_CREDENTIAL is ${credential}: leave the option out, or set EXOSEND_CREDENTIAL=secret to test a secret`,
    });
  }
  const scope = setting('EXOSEND_SCOPE') ?? defaultScope;
  if (!flagged('EXOSEND_SCOPE') && !isExchangeAudience(scope)) {
    problems.push({
      variable: 'EXOSEND_SCOPE',
      message: `names another resource than Exchange Online, whose tokens Exchange refuses with 535 5.7.3 (a Microsoft Graph scope is the usual mistake): it must be ${defaultScope}`,
    });
  }
  const mailbox = setting('EXOSEND_MAILBOX')?.toLowerCase();
  const allowed = config?.allowedSenders ??
    setting('EXOSEND_ALLOWED_SENDERS')
      ?.toLowerCase()
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean) ?? [mailbox];
  if (
    options.from !== undefined &&
    mailbox &&
    !flagged('EXOSEND_MAILBOX', 'EXOSEND_ALLOWED_SENDERS') &&
    !allowed.includes(options.from)
  ) {
    problems.push({
      variable: '--from',
      message: `${options.from} is not one of EXOSEND_ALLOWED_SENDERS (unset: the mailbox only), so the app would refuse it as a From: add it there once the mailbox may send as it (\`Add-RecipientPermission -Identity ${options.from} -Trustee ${mailbox} -AccessRights SendAs\`)`,
    });
  }
  return problems.length === 0 && config ? { config, problems } : { problems };
}

function withWhereToFind({ variable, message }: SettingProblem): SettingProblem {
  const where = whereToFind[variable];
  return { variable, message: where ? `${message}: ${where}` : message };
}
