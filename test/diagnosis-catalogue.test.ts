import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { catalogueSnapshotFile, renderCatalogue } from './catalogue-snapshot.js';
import { readDocs } from './docs-text.js';

test('when the catalogue is rendered with known settings, then every cause and fix is exactly the reviewed text (a change: `npm run snapshot`, then review the diff)', () => {
  const reviewed = readFileSync(catalogueSnapshotFile, 'utf8');
  assert.equal(
    renderCatalogue(),
    reviewed,
    `the catalogue differs from ${catalogueSnapshotFile}: if the change is meant, run \`npm run snapshot\` and commit the reviewed diff`,
  );
});

// Regression (issue 18): the README's deploy step granted Send As to the Enterprise application's
// object ID while SEND_AS_DENIED's fix and the doctor named the mailbox. Exchange checks the mailbox
// that authenticates (user=); every Add-RecipientPermission the README shows must name it.
test('when the README or docs/ show Add-RecipientPermission, then its trustee is the mailbox, as in the SEND_AS_DENIED fix', () => {
  const readme = readDocs();
  const trustees = [...readme.matchAll(/Add-RecipientPermission\b[^`\n]*?-Trustee\s+(\S+)/g)].map((m) => m[1]!);
  assert.ok(trustees.length > 0, 'the README shows no Add-RecipientPermission');
  for (const trustee of trustees) {
    assert.match(
      trustee,
      /^(<mailbox>|[\w.-]+@[\w.-]+)$/,
      `the README grants Send As to ${trustee}, not to the mailbox`,
    );
  }
  assert.match(
    renderCatalogue(),
    /Add-RecipientPermission -Identity \S+ -Trustee noreply@contoso\.com -AccessRights SendAs/,
  );
});
