import { existsSync } from 'node:fs';
import { checkSettings, type SettingProblem, type SettingsVerdict } from './doctor-checks.js';
import { doctorUsage, parseDoctorArgs, UsageError, type DoctorOptions } from './doctor-args.js';
import { Redactor } from './doctor-redactor.js';
import { closingLines, failureLines, stageLines, type DoctorReport, type DoctorStageResult } from './doctor-report.js';
import { readSettingsFile, SettingsFileError, valuesNotInEnvironment } from './settings-file.js';

/**
 * `exosend doctor`: KB486942's verification script as a command. Settings first (no network),
 * then the probe's chain with this app's own settings; the first failure names the setup step.
 */
export async function main(args: string[]): Promise<number> {
  let options: DoctorOptions;
  try {
    options = parseDoctorArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`exosend doctor: ${error.message}\n\n${doctorUsage}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${doctorUsage}\n`);
    return 0;
  }
  if (options.sandbox) return (await import('./doctor-sandbox.js')).runAgainstSandbox(args, options.secretVariable);

  const redactor = new Redactor();
  const print = (lines: string[]) => {
    if (!options.json) process.stdout.write(redactor.apply(lines.map((l) => `${l}\n`).join('')));
  };
  try {
    // read when each stage is printed: the settings file fills the environment first
    const credential = () => process.env['EXOSEND_CREDENTIAL']?.trim() as DoctorReport['credential'];
    const report = await examine(options, redactor, (result, problems) =>
      print(stageLines(result, problems, credential())),
    );
    if (options.json) process.stdout.write(`${redactor.apply(JSON.stringify(report, null, 2))}\n`);
    else print([...(report.diagnosis ? failureLines(report.diagnosis) : []), ...closingLines(report)]);
    return report.ok ? 0 : 1;
  } catch (error) {
    // a failure the chain did not diagnose (a bug): still nothing secret on the way out
    process.stderr.write(
      redactor.apply(`exosend doctor stopped unexpectedly: ${(error as Error).stack ?? String(error)}\n`),
    );
    return 1;
  }
}

async function examine(
  options: DoctorOptions,
  redactor: Redactor,
  emit: (result: DoctorStageResult, problems?: SettingProblem[]) => void,
): Promise<DoctorReport> {
  const { settings, verdict, fromFile } = settingsStage(options);
  emit(settings, verdict.problems);
  const settingsFromFile = fromFile.length > 0 ? { settingsFromFile: fromFile } : {};
  if (!verdict.config) {
    const unread = !options.settingsFile && existsSync('local.settings.json');
    const warnings = unread
      ? ['This folder has a local.settings.json, which was not read: pass --settings local.settings.json to use it.']
      : [];
    return { ok: false, stages: [settings], problems: verdict.problems, warnings, ...settingsFromFile };
  }
  const variable = options.secretVariable;
  const secret = variable ? { variable, value: process.env[variable] ?? '' } : undefined;
  redactor.add(secret?.value);
  // the Azure SDKs take most of a second to load: only a run that gets this far pays for them
  const { runChain } = await import('./doctor-chain.js');
  const chain = await runChain(verdict.config, { ...options, ...(secret ? { secret } : {}) }, (r) => emit(r), redactor);
  return { ...chain, stages: [settings, ...chain.stages], ...settingsFromFile };
}

/** The settings stage: the file (if any) under the environment, then every check that needs no network. */
function settingsStage(options: DoctorOptions): {
  settings: DoctorStageResult;
  verdict: SettingsVerdict;
  fromFile: string[];
} {
  const started = performance.now();
  const file = options.settingsFile ? readFileSettings(options.settingsFile) : { names: [], values: {} };
  // the SDKs read some settings (AZURE_CLIENT_ID, the managed identity endpoint) from the environment themselves
  if ('values' in file) Object.assign(process.env, file.values);
  const verdict: SettingsVerdict =
    'problem' in file ? { problems: [file.problem] } : checkSettings(process.env, options);
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  const note =
    file.names.length > 0
      ? `${file.names.length} from ${options.settingsFile}, the rest from the environment`
      : undefined;
  return {
    settings: { stage: 'settings', ok: verdict.config !== undefined, durationMs, ...(note ? { note } : {}) },
    verdict,
    fromFile: file.names,
  };
}

type FileSettings = { names: string[]; values: Record<string, string> } | { names: string[]; problem: SettingProblem };

function readFileSettings(file: string): FileSettings {
  try {
    const values = valuesNotInEnvironment(readSettingsFile(file), process.env);
    return { names: Object.keys(values), values };
  } catch (error) {
    if (!(error instanceof SettingsFileError)) throw error;
    return { names: [], problem: { variable: '--settings', message: error.message } };
  }
}
