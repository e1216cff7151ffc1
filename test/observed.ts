import { join } from 'node:path';

/**
 * Where every test process leaves what the app said (`<file>-<pid>.observed.txt`) and the secrets
 * it knew (`.secrets.txt`), for the suite-wide secret check; scripts/test.mjs empties it first.
 */
export const observedDir = join('.exosend', 'test-observed');
