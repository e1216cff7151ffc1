// `npm run snapshot`: writes the reviewed snapshots again from the built code (test/diagnosis-catalogue.snapshot.md).
// Run it after a change to a diagnosis's cause or fix, then review and commit the diff: the test
// (test/diagnosis-catalogue.test.ts) fails until the snapshot and the code agree.
import { writeFileSync } from 'node:fs';

const { catalogueSnapshotFile, renderCatalogue } = await import('../dist/test/catalogue-snapshot.js');
writeFileSync(catalogueSnapshotFile, renderCatalogue());
console.log(`wrote ${catalogueSnapshotFile}: review the diff (git diff ${catalogueSnapshotFile}) before you commit it`);
