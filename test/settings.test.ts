// The settings reference (docs/settings.md) and the code's table of settings (src/config/settings.ts)
// are held together here, so neither can drift (issue 19): a default changed in one place, a
// setting documented that nothing reads, or one read that nothing documents, each fails a test.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { settings, settingsReadElsewhere, type WhenUnset } from '../src/config/settings.js';

/** The names a reader sets: the app's own, the Azure SDK's, the Functions host's storage, telemetry's, App Service's. */
const settingName = /^(EXOSEND_|AZURE_|AzureWebJobsStorage|APPLICATIONINSIGHTS_|WEBSITE_)\w*$/;
/** The names the doc must account for, as the issue puts it. */
const checkedInDoc = /^(EXOSEND_|AZURE_|AzureWebJobsStorage|APPLICATIONINSIGHTS_)/;

/** How the doc's default column shows what an unset setting means. */
const shown = (unset: WhenUnset) =>
  unset === 'required' ? 'required' : 'value' in unset ? `\`${unset.value}\`` : unset.means;

/**
 * Every row of every `| setting | meaning | default |` table in docs/settings.md, by variable. A row
 * may name several (`A` / `B`, with defaults `a` / `b`); `__name` stands for `AzureWebJobsStorage__name`.
 */
function documentedSettings(): Map<string, { default: string; row: string }> {
  const documented = new Map<string, { default: string; row: string }>();
  let inTable = false;
  for (const line of readFileSync(join('docs', 'settings.md'), 'utf8').split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .slice(1, -1)
      .split(' | ')
      .map((cell) => cell.trim());
    if (cells.join('|') === 'setting|meaning|default') {
      inTable = true;
      continue;
    }
    if (!inTable || /^-+$/.test(cells[0]!.replace(/\|/g, ''))) continue;
    assert.equal(cells.length, 3, `a settings row has three cells: ${line}`);
    const variables = [...cells[0]!.matchAll(/`([^`]+)`/g)]
      .map((m) => m[1]!.replace(/^__/, 'AzureWebJobsStorage__'))
      .filter((name) => settingName.test(name));
    assert.ok(variables.length > 0, `the row names a setting: ${line}`);
    const parts = cells[2]!.split(' / ');
    variables.forEach((variable, i) => {
      assert.ok(!documented.has(variable), `${variable} has one row`);
      documented.set(variable, { default: parts.length === variables.length ? parts[i]! : cells[2]!, row: line });
    });
  }
  return documented;
}

const inCode = new Map<string, WhenUnset>([
  ...Object.entries(settings).map(([variable, { unset }]) => [variable, unset] as const),
  ...settingsReadElsewhere.map(({ variable, unset }) => [variable, unset] as const),
]);

/** A setting's name in a source: `AzureWebJobsStorage__${property}` is the reader's template, not a name. */
const settingInCode =
  /\b(?:(?:EXOSEND|AZURE|APPLICATIONINSIGHTS)_[A-Z0-9_]*[A-Z0-9]|AzureWebJobsStorage(?:__[A-Za-z]+)?)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('the settings reference and the code agree', () => {
  it('when the code reads a setting, then docs/settings.md lists it with the same default', () => {
    const documented = documentedSettings();
    const disagreements = [...inCode].flatMap(([variable, unset]) => {
      const row = documented.get(variable);
      if (!row) return [`${variable} is not in docs/settings.md (its default: ${shown(unset)})`];
      return row.default === shown(unset)
        ? []
        : [`${variable}: the doc says "${row.default}", the code "${shown(unset)}"`];
    });
    assert.deepEqual(disagreements, []);
  });

  it('when docs/settings.md lists a setting, then the code reads it: the table, or a module the table names', () => {
    const documented = [...documentedSettings().keys()];
    assert.ok(
      documented.filter((v) => checkedInDoc.test(v)).length >= 30,
      `the doc's rows were found: ${documented.join(', ')}`,
    );
    assert.deepEqual(
      documented.filter((variable) => !inCode.has(variable)),
      [],
    );
  });

  it('when a setting is read by another module, then that module names it', () => {
    for (const { variable, readBy } of settingsReadElsewhere) {
      const source = readFileSync(readBy, 'utf8');
      // the storage reader builds `AzureWebJobsStorage__<property>` from the property's name
      const [connection, property] = variable.split('__');
      const names =
        property === undefined
          ? source.includes(variable)
          : source.includes(connection!) && source.includes(property.replace(/^(queue|table|blob)/, ''));
      assert.ok(names, `${readBy} reads ${variable}`);
    }
  });

  it('when the app names a setting in its code, then it is in the table or listed as read elsewhere', () => {
    const named = new Set(
      sourceFiles('src').flatMap((file) => [...readFileSync(file, 'utf8').matchAll(settingInCode)].map((m) => m[0])),
    );
    assert.ok(named.has('EXOSEND_HEALTH_FROM') && named.has('AzureWebJobsStorage'), 'the sources were read');
    assert.deepEqual([...named].filter((name) => !inCode.has(name)).sort(), []);
  });

  it('when a setting has a default value, then it parses as if it had been set', () => {
    for (const [variable, { parse, unset }] of Object.entries(settings)) {
      if (typeof unset === 'object' && 'value' in unset)
        assert.ok(parse.safeParse(unset.value).success, `${variable}'s default parses`);
    }
  });
});
