import { parseArgs } from 'node:util';
import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { isAzureVault } from '../src/config/load-config.js';
import { readSettingsFile, SettingsFileError, valuesNotInEnvironment } from './settings-file.js';

const usage = `usage: exosend secret set --expires YYYY-MM-DD [--vault URL] [--name NAME] [--settings local.settings.json]

Stores the app registration's client secret in Key Vault as a new version of the secret, with the
expiry date Entra shows for it (the health check and the doctor warn as it nears). The value is
typed at a prompt that does not echo it, or piped on standard input
(\`pbpaste | exosend secret set ...\`): never an argument, so it stays out of shell history and
process lists. The running app picks the new version up without a restart. Vault and name default
to EXOSEND_KEY_VAULT_URL and EXOSEND_CLIENT_SECRET_NAME (exosend-client-secret). Signs in as you
(az login, or any identity DefaultAzureCredential finds); you need Key Vault Secrets Officer.`;

/** `exosend secret set`: the one way a client secret enters the vault without passing through a template, a log or history. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        vault: { type: 'string' },
        name: { type: 'string' },
        expires: { type: 'string' },
        settings: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const [action, ...rest] = parsed.positionals;
  if (parsed.values.help) {
    console.error(usage);
    return 0;
  }
  if (action !== 'set' || rest.length > 0) {
    console.error(
      rest.length > 0
        ? `exosend secret set takes no value as an argument: type it at the prompt or pipe it in.\n\n${usage}`
        : usage,
    );
    return 2;
  }
  try {
    const fileValues = parsed.values.settings ? readSettingsFile(parsed.values.settings) : {};
    const env = { ...process.env, ...valuesNotInEnvironment(fileValues, process.env) };
    const vaultUrl = (parsed.values.vault ?? env['EXOSEND_KEY_VAULT_URL'] ?? '').trim().replace(/\/+$/, '');
    const name = (parsed.values.name ?? env['EXOSEND_CLIENT_SECRET_NAME'] ?? 'exosend-client-secret').trim();
    const problems = [
      !/^https:\/\/\S+$/.test(vaultUrl) && "--vault (or EXOSEND_KEY_VAULT_URL) must be the vault's https:// URL",
      !/^[0-9a-zA-Z-]{1,127}$/.test(name) && '--name must be a Key Vault secret name (letters, digits, dashes)',
      parseExpiry(parsed.values.expires) === undefined &&
        "--expires must be the secret's expiry date in Entra (YYYY-MM-DD), today or later",
    ].filter((p): p is string => Boolean(p));
    if (problems.length > 0) {
      console.error(`${problems.join('\n')}\n\n${usage}`);
      return 2;
    }
    const expiresOn = parseExpiry(parsed.values.expires)!;
    const value = process.stdin.isTTY ? await promptHidden('Client secret (typing is not shown): ') : await readStdin();
    if (!value || /\s/.test(value) || value.length > 1024) {
      console.error(
        "The client secret must be one line without spaces (Entra's secrets are 40 characters); nothing was stored.",
      );
      return 2;
    }
    const credential = new DefaultAzureCredential(
      env['AZURE_CLIENT_ID'] ? { managedIdentityClientId: env['AZURE_CLIENT_ID'] } : {},
    );
    const client = new SecretClient(vaultUrl, credential, {
      disableChallengeResourceVerification: !isAzureVault(vaultUrl),
    });
    const stored = await client.setSecret(name, value, {
      expiresOn,
      contentType: 'client secret of the exosend app registration',
    });
    const days = Math.floor((expiresOn.getTime() - Date.now()) / 86_400_000);
    console.log(
      `stored ${name} (version ${stored.properties.version}) in ${vaultUrl}; expires ${expiresOn.toISOString().slice(0, 10)}, in ${days} days`,
    );
    return 0;
  } catch (error) {
    if (error instanceof SettingsFileError) {
      console.error(error.message);
      return 2;
    }
    const status = (error as { statusCode?: number }).statusCode;
    const reason =
      status === 403
        ? 'the vault refused: you need the Key Vault Secrets Officer role on it (azd up grants it to the user who ran it)'
        : status === 401
          ? "you are not signed in to the vault's tenant (az login --tenant <tenant>)"
          : `${(error as Error).name}${status ? ` ${status}` : ''}`;
    // never the error's own message: a service could echo what was sent
    console.error(`The secret was not stored: ${reason}.`);
    return 1;
  }
}

/** The end of the expiry day (UTC), or undefined when the date is malformed or past. */
function parseExpiry(text: string | undefined): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text?.trim() ?? '');
  if (!match) return undefined;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), 23, 59, 59));
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text?.trim() || date.getTime() < Date.now())
    return undefined;
  return date;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Reads one line from the terminal with echo off (raw mode): nothing of the value reaches the screen or scrollback. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  let value = '';
  return new Promise((resolve, reject) => {
    const finish = () => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n') {
          finish();
          return resolve(value);
        }
        if (character === '\u0003' || character === '\u0004') {
          finish();
          return reject(new Error('cancelled'));
        }
        value = character === '\u007f' || character === '\b' ? value.slice(0, -1) : value + character;
      }
    };
    stdin.on('data', onData);
  });
}
