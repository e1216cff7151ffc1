import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { sendRole } from '../src/config/caller-auth.js';

/**
 * The API app registration the preprovision hook makes (infra/hooks/api-registration.sh), run here
 * with `az` and `azd` stand-ins on PATH: Entra cannot be reached from a test, so what is checked is
 * which commands the script runs, in which order, with which arguments, and what it leaves in the
 * azd environment. The commands themselves are the ones docs/callers.md cites the sources for.
 */

const script = 'infra/hooks/api-registration.sh';
const powershell = 'infra/hooks/api-registration.ps1';
const appRoles = 'infra/hooks/api-app-roles.json';
const apiAppId = '3b1f6c2e-8d4a-4f0b-9e57-2a6d1c0e9f11';
const apiSpId = '7c2d9e4f-1a3b-4c5d-8e6f-0a1b2c3d4e5f';
/** the tenant `az` is signed in to, in the stand-in */
const azTenant = '5e2a7c31-9b04-4d6f-a8e1-3c7b0f9d2a64';
const otherTenant = '9d1c4b7a-2e3f-4a5b-8c6d-1e0f2a3b4c5d';
/** an app that another azd environment of the same name made */
const othersAppId = 'c4a8e2d1-6b3f-4e9a-9d07-5f1b2c8e3a70';

interface AppRole {
  allowedMemberTypes: string[];
  id: string;
  isEnabled: boolean;
  value: string;
}
const roles = () => JSON.parse(readFileSync(appRoles, 'utf8')) as AppRole[];

/**
 * Runs the hook as azd does on Linux (the file itself, with the environment's values), with stand-ins
 * for `az` and `azd` that log each call and answer as Entra would: `az account show` names azTenant,
 * `az ad app list --display-name` finds `appsNamed`, `az ad sp show` fails until `az ad sp create`
 * ran (or `spExists`).
 */
function runHook(env: Record<string, string>, options: { spExists?: boolean; appsNamed?: string[] } = {}) {
  const dir = mkdtempSync(join(resolve('.exosend'), 'api-registration-'));
  try {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'calls.log');
    const spMarker = join(dir, 'sp-exists');
    if (options.spExists) writeFileSync(spMarker, '');
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    stub(
      'az',
      [
        'case "$1 $2 $3" in',
        `  "account show --query") echo ${azTenant} ;;`,
        `  "ad app list") printf '%s' '${(options.appsNamed ?? []).map((id) => `${id}\n`).join('')}' ;;`,
        `  "ad app create") echo ${apiAppId} ;;`,
        `  "ad sp show") [ -f "${spMarker}" ] || { echo "ERROR: Resource does not exist" >&2; exit 3; }; echo ${apiSpId} ;;`,
        `  "ad sp create") touch "${spMarker}"; echo ${apiSpId} ;;`,
        'esac',
      ].join('\n'),
    );
    stub('azd', '');
    const run = spawnSync(resolve(script), [], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin`, AZURE_ENV_NAME: 'prod', ...env },
    });
    const calls = (() => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    })();
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("exosend's API app registration (the azd preprovision hook)", () => {
  it('when azd reads azure.yaml, then preprovision runs the sh script on Linux and macOS and the PowerShell one on Windows, and the sh script is executable', () => {
    const yaml = readFileSync('azure.yaml', 'utf8');
    const hook = /^ {2}preprovision:\n((?: {4}.*\n)+)/m.exec(yaml)?.[1];
    assert.ok(hook, 'azure.yaml has a preprovision hook');
    assert.match(hook, /^ {4}posix:\n {6}shell: sh\n {6}run: infra\/hooks\/api-registration\.sh\n/m);
    assert.match(hook, /^ {4}windows:\n {6}shell: pwsh\n {6}run: infra\/hooks\/api-registration\.ps1\n/m);
    // with both overrides, azd's schema allows no run of the hook's own (Azure/azure-dev, schemas/v1.0/azure.yaml.json)
    assert.doesNotMatch(hook, /^ {4}run:/m);
    // on Linux and macOS azd runs the file itself, not `sh <file>` (Azure/azure-dev, cli/azd/pkg/tools/bash/bash.go)
    assert.ok((statSync(script).mode & 0o111) !== 0, `${script} is executable`);
    assert.match(readFileSync(script, 'utf8'), /^#!\/bin\/sh\n/);
  });

  it('when sh parses the script, then its syntax is valid', () => {
    const parsed = spawnSync('sh', ['-n', script], { encoding: 'utf8' });
    assert.equal(parsed.status, 0, parsed.stderr);
  });

  it('when callers use function keys (the default), then the hook calls neither az nor azd', () => {
    const envs: Record<string, string>[] = [
      {},
      { EXOSEND_CALLER_AUTH: 'key' },
      { EXOSEND_CALLER_AUTH: 'key', EXOSEND_API_REGISTRATION: 'create' },
    ];
    for (const env of envs) {
      const run = runHook(env);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.calls, [], JSON.stringify(env));
      assert.equal(run.stdout, '');
    }
  });

  it('when callers use Entra with neither an audience nor the opt-in, then azd up stops before provisioning and says what to set', () => {
    const run = runHook({ EXOSEND_CALLER_AUTH: 'entra' });
    assert.notEqual(run.status, 0);
    assert.deepEqual(run.calls, []);
    assert.match(run.stderr, /azd env set EXOSEND_API_REGISTRATION create/);
    assert.match(run.stderr, /azd env set EXOSEND_API_AUDIENCE "api:\/\/<its app id>,<its app id>"/);
    assert.match(run.stderr, /docs\/callers\.md/);
  });

  it('when the admin made the registration by hand and set the audience, then the hook only says so', () => {
    const run = runHook({ EXOSEND_CALLER_AUTH: 'entra', EXOSEND_API_AUDIENCE: `api://${apiAppId},${apiAppId}` });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls, []);
  });

  it('when callers would use both, then the hook refuses: the template does not set EXOSEND_CALLER_KEY', () => {
    const run = runHook({ EXOSEND_CALLER_AUTH: 'both', EXOSEND_API_REGISTRATION: 'create' });
    assert.notEqual(run.status, 0);
    assert.deepEqual(run.calls, []);
    assert.match(run.stderr, /EXOSEND_CALLER_KEY/);
  });

  it('when the opt-in is set, then the hook creates the registration with the role, records its id, sets api://<appId>, makes the service principal and sets the audience; run again with the id recorded, it updates the same one', () => {
    const env = { EXOSEND_CALLER_AUTH: 'entra', EXOSEND_API_REGISTRATION: 'create' };
    const first = runHook(env);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(first.calls, [
      'az account show --query tenantId -o tsv',
      'az ad app list --display-name exosend-api-prod --query [].appId -o tsv',
      `az ad app create --display-name exosend-api-prod --sign-in-audience AzureADMyOrg --app-roles @${resolve(appRoles)} --query appId -o tsv`,
      `azd env set EXOSEND_API_APP_ID ${apiAppId}`,
      `az ad app update --id ${apiAppId} --identifier-uris api://${apiAppId}`,
      `az ad sp show --id ${apiAppId} --query id -o tsv`,
      `az ad sp create --id ${apiAppId} --query id -o tsv`,
      `az ad sp show --id ${apiAppId} --query id -o tsv`,
      `azd env set EXOSEND_API_AUDIENCE api://${apiAppId},${apiAppId}`,
    ]);
    // before the first provision the template has not set AZURE_TENANT_ID: the hook says which tenant it used
    assert.match(first.stdout, new RegExp(`AZURE_TENANT_ID is not set .* az's tenant ${azTenant}`));
    // the grant it prints for a caller names the API's service principal and the role's id
    assert.ok(
      first.stdout.includes(
        `az rest -m POST -u https://graph.microsoft.com/v1.0/servicePrincipals/${apiSpId}/appRoleAssignedTo -b '{"principalId":"<principal id>","resourceId":"${apiSpId}","appRoleId":"${roles()[0]!.id}"}'`,
      ),
      first.stdout,
    );
    assert.match(first.stdout, /npx exosend caller add <the identity's client id>/);
    // what azd's environment holds after the first run and a provision (the template outputs AZURE_TENANT_ID)
    const again = runHook(
      { ...env, EXOSEND_API_APP_ID: apiAppId, AZURE_TENANT_ID: azTenant },
      { spExists: true, appsNamed: [apiAppId] },
    );
    assert.equal(again.status, 0, again.stderr);
    assert.ok(
      !again.calls.some((call) => call.startsWith('az ad sp create')),
      'the service principal is not made twice',
    );
    assert.ok(!again.calls.some((call) => call.startsWith('az ad app create')), 'the app is not made twice');
  });

  it('when az is signed in to another tenant than the one exosend accepts tokens from, then the hook stops before making anything and says which tenant to sign in to', () => {
    // Bug: the hook registered the API in whichever tenant az was signed in to; exosend checks caller
    // tokens against its own tenant's issuer, so no caller token could ever match that app.
    const run = runHook({
      EXOSEND_CALLER_AUTH: 'entra',
      EXOSEND_API_REGISTRATION: 'create',
      AZURE_TENANT_ID: otherTenant,
    });
    assert.notEqual(run.status, 0);
    assert.deepEqual(run.calls, ['az account show --query tenantId -o tsv']);
    assert.match(
      run.stderr,
      new RegExp(`az is signed in to tenant ${azTenant}, but exosend accepts caller tokens from tenant ${otherTenant}`),
    );
    assert.match(run.stderr, new RegExp(`az login --tenant ${otherTenant}`));
    // the same tenant, its GUID written in capitals, is the same tenant
    const same = runHook({
      EXOSEND_CALLER_AUTH: 'entra',
      EXOSEND_API_REGISTRATION: 'create',
      AZURE_TENANT_ID: azTenant.toUpperCase(),
    });
    assert.equal(same.status, 0, same.stderr);
    assert.doesNotMatch(same.stdout, /AZURE_TENANT_ID is not set/);
  });

  it('when the environment records EXOSEND_API_APP_ID, then the hook updates that app by its id and never creates or looks up one by name', () => {
    // Bug: the hook ran `az ad app create --display-name exosend-api-<env>` on every run, which patches
    // whichever app has that name (possibly another team's environment), and never read back the id it recorded.
    const run = runHook(
      {
        EXOSEND_CALLER_AUTH: 'entra',
        EXOSEND_API_REGISTRATION: 'create',
        EXOSEND_API_APP_ID: apiAppId,
        AZURE_TENANT_ID: azTenant,
      },
      { spExists: true, appsNamed: [othersAppId] },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls, [
      'az account show --query tenantId -o tsv',
      `az ad app update --id ${apiAppId} --sign-in-audience AzureADMyOrg --app-roles @${resolve(appRoles)} --identifier-uris api://${apiAppId}`,
      `az ad sp show --id ${apiAppId} --query id -o tsv`,
      `az ad sp show --id ${apiAppId} --query id -o tsv`,
      `azd env set EXOSEND_API_AUDIENCE api://${apiAppId},${apiAppId}`,
    ]);
  });

  it('when no id is recorded and an app of the same display name exists, then the hook stops without changing it and says how to claim it', () => {
    const run = runHook(
      { EXOSEND_CALLER_AUTH: 'entra', EXOSEND_API_REGISTRATION: 'create' },
      { appsNamed: [othersAppId] },
    );
    assert.notEqual(run.status, 0);
    assert.deepEqual(run.calls, [
      'az account show --query tenantId -o tsv',
      'az ad app list --display-name exosend-api-prod --query [].appId -o tsv',
    ]);
    assert.match(run.stderr, new RegExp(`named exosend-api-prod already exists \\(app id ${othersAppId}\\)`));
    assert.match(run.stderr, /azd env set EXOSEND_API_APP_ID <its app id>/);
  });

  it('when the PowerShell hook compares a setting, then it compares case-sensitively, as the sh hook and Bicep @allowed do', () => {
    // Bug: the PowerShell hook compared with -eq/-ne, which ignore case: it took EXOSEND_CALLER_AUTH=Entra
    // or KEY, which the sh hook and the template refuse. pwsh is not installed here, so this reads the text:
    // every comparison operator in the code is a c-operator, except the exit-code checks (numbers).
    const code = readFileSync(powershell, 'utf8')
      .split('\n')
      .filter((line) => !/^\s*#/.test(line))
      .join('\n');
    const operators = [
      ...code.matchAll(
        /(\S+)\s+-([ic]?)(eq|ne|gt|ge|lt|le|like|notlike|match|notmatch|contains|notcontains|in|notin|replace|split)\s/gi,
      ),
    ];
    assert.ok(operators.length >= 4, 'the script compares the mode, the opt-in and the tenant');
    for (const [found, left, prefix] of operators) {
      if (left === '($LASTEXITCODE') continue;
      assert.equal(prefix, 'c', `case-sensitive: ${found}`);
    }
    // switch matches strings ignoring case unless told otherwise
    assert.doesNotMatch(code, /\bswitch\b(?![^{]*-CaseSensitive)/i);
    assert.match(code, /\$mode -ceq 'key'/);
    assert.match(code, /\$mode -cne 'entra'/);
    assert.match(code, /\$env:EXOSEND_API_REGISTRATION -cne 'create'/);
  });

  it('when the PowerShell hook is read beside the sh one, then it reads the same settings and runs the same az commands', () => {
    const sh = readFileSync(script, 'utf8');
    const ps = readFileSync(powershell, 'utf8');
    const shReads = new Set([...sh.matchAll(/\$\{([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
    const psReads = new Set([...ps.matchAll(/\$env:([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
    assert.deepEqual([...psReads].sort(), [...shReads].sort());
    const code = (text: string) =>
      text
        .split('\n')
        .filter((line) => !/^\s*#/.test(line))
        .join('\n');
    const azCommands = (text: string, call: RegExp) => [...code(text).matchAll(call)].map((m) => m[1]!);
    assert.deepEqual(
      azCommands(ps, /(?:Invoke-Az|& az) (ad (?:app|sp) \w+)/g),
      azCommands(sh, /\baz (ad (?:app|sp) \w+)/g),
    );
    assert.match(sh, /--identifier-uris "api:\/\/\$app_id"/);
    assert.match(ps, /--identifier-uris "api:\/\/\$appId"/);
    assert.match(sh, /azd env set EXOSEND_API_AUDIENCE "api:\/\/\$app_id,\$app_id"/);
    assert.match(ps, /azd env set EXOSEND_API_AUDIENCE "api:\/\/\$appId,\$appId"/);
    const pwsh = spawnSync(
      'pwsh',
      ['-NoProfile', '-Command', `$null = [ScriptBlock]::Create((Get-Content -Raw '${powershell}'))`],
      {
        encoding: 'utf8',
      },
    );
    if (pwsh.error) console.log('api-registration.ps1 not parsed: no pwsh on this machine');
    else assert.equal(pwsh.status, 0, pwsh.stderr);
  });

  it("when the docs give the same steps by hand, then the role, its id, the URI and the grant are the script's", () => {
    const [role, ...others] = roles();
    assert.equal(others.length, 0);
    assert.equal(role!.value, sendRole, 'the role exosend checks in a caller token');
    assert.deepEqual(role!.allowedMemberTypes, ['Application'], 'for apps only: a user token is refused');
    assert.equal(role!.isEnabled, true);
    const callers = readFileSync('docs/callers.md', 'utf8');
    const deploy = callers.slice(callers.indexOf('## Deploy'));
    assert.ok(deploy.length > 0 && callers.includes('## Deploy'), 'docs/callers.md has a Deploy section');
    assert.ok(deploy.includes(`id ${role!.id}`), 'the docs name the role id');
    assert.ok(deploy.includes(`\\"appRoleId\\":\\"${role!.id}\\"`), 'the grant uses the role id');
    assert.ok(deploy.includes('--app-roles @infra/hooks/api-app-roles.json'));
    assert.ok(deploy.includes('--identifier-uris "api://$APP_ID"'));
    assert.ok(deploy.includes('azd env set EXOSEND_API_AUDIENCE "api://$APP_ID,$APP_ID"'));
    assert.ok(deploy.includes('https://graph.microsoft.com/v1.0/servicePrincipals/$API_SP/appRoleAssignedTo'));
    assert.ok(deploy.includes('npx exosend caller add "$MI_CLIENT"'));
    assert.ok(deploy.includes('azd env set EXOSEND_API_REGISTRATION create'));
    assert.ok(deploy.includes('az account show --query tenantId -o tsv'), 'the docs say which tenant az must be in');
    assert.ok(deploy.includes('`az ad app update --id`'), 'the docs say a recorded id is updated, not created');
    assert.doesNotMatch(callers, /Not built yet:[^]*the deploy\s+commands/);
    // what the hook sets reaches the Function App: the parameters file maps it, api.bicep sets it
    const parameters = readFileSync('infra/main.parameters.json', 'utf8');
    assert.match(parameters, /"exosendApiAudience": \{ "value": "\$\{EXOSEND_API_AUDIENCE=\}" \}/);
    assert.match(parameters, /"exosendCallerAuth": \{ "value": "\$\{EXOSEND_CALLER_AUTH=key\}" \}/);
    const api = readFileSync('infra/app/api.bicep', 'utf8');
    assert.match(api, /^ {2}EXOSEND_API_AUDIENCE: exosend\.apiAudience$/m);
    assert.match(api, /^ {2}EXOSEND_CALLER_AUTH: exosend\.callerAuth$/m);
    const main = readFileSync('infra/main.bicep', 'utf8');
    assert.match(main, /apiAudience: exosendApiAudience/);
    assert.match(
      main,
      /@allowed\(\['key', 'entra'\]\)\n@description\([^\n]*\)\nparam exosendCallerAuth string = 'key'/,
    );
  });

  it("when the README's Node example is compiled against the installed @azure/identity, then it type-checks", () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Calling exosend with a managed identity'));
    const code = /```js\n([^]*?)```/.exec(section)?.[1];
    assert.ok(code, 'the README section has a Node example');
    assert.match(code, /getToken\('api:\/\/<exosend api app id>\/\.default'\)/);
    assert.match(code, /authorization: `Bearer \$\{token\}`/);
    assert.match(code, /\/api\/send'/);
    const dir = mkdtempSync(join(resolve('.exosend'), 'readme-node-'));
    try {
      // under the repository, so that the compiler finds node_modules/@azure/identity as an app would
      const file = join(dir, 'caller.mts');
      writeFileSync(file, code);
      const tsc = spawnSync(
        process.execPath,
        [
          'node_modules/typescript/bin/tsc',
          '--noEmit',
          '--strict',
          '--skipLibCheck',
          '--target',
          'es2022',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--types',
          'node',
          file,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
