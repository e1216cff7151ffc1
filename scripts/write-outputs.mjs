// esbuild's output files, written so that a reader never sees half a file: `npm start` may run
// while another `npm start` (a test) loads the bundle or serves the console's script. Each file is
// replaced by a rename, and only when it changed. Used by bundle.mjs and console-page.mjs.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** @param {{ path: string; contents: Uint8Array }[]} outputFiles */
export async function writeOutputs(outputFiles) {
  for (const file of outputFiles) {
    const current = await readFile(file.path).catch(() => undefined);
    if (current?.equals(file.contents)) continue;
    await mkdir(dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, file.contents);
    await rename(temporary, file.path);
  }
}
