import { parseArgs } from 'node:util';

export const defaultSecretVariable = 'EXOSEND_CLIENT_SECRET';

export interface DoctorOptions {
  settingsFile?: string;
  /** Against the sandbox `npm start` runs (its settings in EXOSEND_STATE_DIR, its CA trusted). */
  sandbox: boolean;
  to?: string;
  from?: string;
  /** The environment variable that holds a client secret to use instead of the vault's. */
  secretVariable?: string;
  json: boolean;
  help: boolean;
}

/** The command line is wrong: exit code 2, with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const doctorUsage = `usage: exosend doctor [options]        (or: npm run doctor -- [options])

Runs the verification of KB486942 with this app's own settings, one stage at a time:
settings -> Key Vault secret (or certificate, and its dates) -> token from the v2.0 endpoint
-> claims -> SMTP connect and STARTTLS -> AUTH XOAUTH2 -> test send (with --to) -> From check.
On a failure it names the setup step to fix, with the portal blade, az or Exchange PowerShell
command, and shows what Entra ID, Key Vault or Exchange replied. It never prints the client
secret, a private key, an assertion or a token. EXOSEND_CREDENTIAL=federated cannot be tried
outside Azure (no managed identity): the run says so and points at the app's /api/health.

options:
  --settings FILE      read the app settings from FILE (the "Values" of a local.settings.json);
                       a variable set in the environment wins over the file, as with func start
  --sandbox            against the sandbox \`npm start\` runs in this folder (or EXOSEND_STATE_DIR):
                       its settings, and its CA trusted; try \`npm start -- --scenario NAME\`
  --to ADDRESS         send a test message to ADDRESS (its subject and body say it is a test)
  --from ADDRESS       the From of the test message (default: EXOSEND_MAILBOX); must be one of
                       EXOSEND_ALLOWED_SENDERS. When it is not the mailbox, the test send checks
                       that the mailbox may send as it (Send As, KB486942's SendAsDenied row)
  --client-secret-from-env [VAR]
                       (EXOSEND_CREDENTIAL=secret only) use the client secret in the
                       environment variable VAR (default
                       ${defaultSecretVariable}) instead of reading Key Vault: tests a secret before
                       it is stored in the vault. Type it without echo, so that it stays out of
                       your screen and your shell history:
                         bash:       read -rs ${defaultSecretVariable} && export ${defaultSecretVariable}
                         PowerShell: $env:${defaultSecretVariable} = [Net.NetworkCredential]::new('', (Read-Host -AsSecureString)).Password
  --json               print one JSON report on stdout instead of the stage lines
  -h, --help           show this help

exit code: 0 when every stage passed (skipped ones aside), 1 when a stage failed, 2 on a usage error.`;

const secretFlag = '--client-secret-from-env';
const looksLikeAddress = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export function parseDoctorArgs(args: readonly string[]): DoctorOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: withDefaultSecretVariable(args),
      options: {
        settings: { type: 'string' },
        sandbox: { type: 'boolean', default: false },
        to: { type: 'string' },
        from: { type: 'string' },
        'client-secret-from-env': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // a stray argument may be a secret typed on the command line: do not repeat it
    const { code, message } = error as NodeJS.ErrnoException;
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'unexpected argument: the doctor takes only the options below'
        : message,
    );
  }
  for (const option of ['to', 'from'] as const) {
    const address = values[option];
    if (address !== undefined && !looksLikeAddress.test(address))
      throw new UsageError(`--${option} must be an email address`);
  }
  if (values.sandbox && values.settings !== undefined)
    throw new UsageError('--sandbox brings its own settings: leave out --settings');
  const secretVariable = values['client-secret-from-env'];
  if (secretVariable !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(secretVariable)) {
    throw new UsageError(`${secretFlag} takes the name of an environment variable, not a secret`);
  }
  return {
    ...(values.settings !== undefined ? { settingsFile: values.settings } : {}),
    sandbox: values.sandbox,
    ...(values.to !== undefined ? { to: values.to.toLowerCase() } : {}),
    ...(values.from !== undefined ? { from: values.from.toLowerCase() } : {}),
    ...(secretVariable !== undefined ? { secretVariable } : {}),
    json: values.json,
    help: values.help,
  };
}

/** `--client-secret-from-env` takes an optional name, which parseArgs cannot express: supply the default. */
function withDefaultSecretVariable(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const next = args[i + 1];
    return arg === secretFlag && (next === undefined || next.startsWith('-'))
      ? `${secretFlag}=${defaultSecretVariable}`
      : arg;
  });
}
