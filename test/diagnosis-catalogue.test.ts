import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { catalogueSnapshotFile, renderCatalogue } from './catalogue-snapshot.js';

test('when the catalogue is rendered with known settings, then every cause and fix is exactly the reviewed text (a change: `npm run snapshot`, then review the diff)', () => {
  const reviewed = readFileSync(catalogueSnapshotFile, 'utf8');
  assert.equal(renderCatalogue(), reviewed, `the catalogue differs from ${catalogueSnapshotFile}: if the change is meant, run \`npm run snapshot\` and commit the reviewed diff`);
});
