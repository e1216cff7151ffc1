import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { readSandboxSettings, stateDir } from './sandbox-settings.js';
import { SettingsFileError } from './settings-file.js';

/**
 * Settings a shell may hold that would bend a sandbox run: a real tenant's EXOSEND_* (the
 * environment wins over a settings file), credentials the Azure SDKs pick up by themselves. The
 * sandbox's file names every app setting the run needs.
 */
const appSetting = /^(EXOSEND_|AZURE_|MSI_|IDENTITY_|AzureWebJobs|APPLICATIONINSIGHTS_)/;

/**
 * `exosend doctor --sandbox`: the doctor against the sandbox `npm start` runs, with the settings it
 * left in EXOSEND_STATE_DIR. The stand-ins' certificates come from the sandbox's own CA, and Node
 * reads NODE_EXTRA_CA_CERTS only at process start, so the doctor runs again as a child that trusts
 * it -- as `npm start` does itself (local/host/main.ts). Handing `ca` to each SDK instead would
 * thread a sandbox-only option through the credential, the vault client and the SMTP transport the
 * app ships, and the doctor would no longer run the app's own code.
 */
export async function runAgainstSandbox(args: readonly string[], secretVariable: string | undefined): Promise<number> {
  let sandbox;
  try {
    sandbox = readSandboxSettings(stateDir());
  } catch (error) {
    if (!(error instanceof SettingsFileError)) throw error;
    process.stderr.write(
      `exosend doctor: ${error.message}. Start the sandbox first (npm start), then run this again from the same folder.\n`,
    );
    return 2;
  }
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !appSetting.test(name) || name === secretVariable || name === 'EXOSEND_STATE_DIR',
    ),
  );
  // the stand-ins are all on loopback: their CA is the only one this run needs beyond Node's own
  env['NODE_EXTRA_CA_CERTS'] = sandbox.ca;
  // a child that stops with this process, however it ends (cli/exit-with-parent.ts)
  const { spawnWithParent } = await import('./spawn-with-parent.js');
  const child = spawnWithParent(
    fileURLToPath(new URL('./exosend.js', import.meta.url)),
    ['doctor', '--settings', sandbox.file, ...args.filter((a) => a !== '--sandbox')],
    {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env,
    },
  );
  // Ctrl-C reaches the whole process group; a lone signal to this process is passed on
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? 1;
}
