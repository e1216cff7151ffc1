// `npm run package` (after `npm run build`): dist/exosend.zip, the folder azd deploys (dist/package)
// as one file, for `az functionapp deployment source config-zip --src dist/exosend.zip`. It leaves
// out what azd leaves out of its own zip of that folder: the folder's .funcignore (Azure/azure-dev,
// cli/azd/pkg/project/project_utils.go, createDeployableZip), so both deploy the same files.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';

const stage = join('dist', 'package');
const zipFile = join('dist', 'exosend.zip');

// a fixed time for every entry: the same build gives the same zip
const files = {};
const mtime = new Date('2026-01-01T00:00:00Z');
(function add(dir) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) add(path);
    else if (entry !== '.funcignore')
      files[relative(stage, path).split('\\').join('/')] = [readFileSync(path), { mtime }];
  }
})(stage);
writeFileSync(zipFile, zipSync(files, { level: 9 }));

const megabytes = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
console.log(`dist/exosend.zip: ${Object.keys(files).length} files, ${megabytes(statSync(zipFile).size)}`);
