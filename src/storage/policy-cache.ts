/**
 * How long an instance keeps a caller policy it read (and the list of them) before it reads the
 * table again: a change reaches every instance within this. Apart from the store, so that code in
 * the entry can read it without loading the tables SDK with it (test/bundle-entry.test.ts).
 */
export const policyCacheInMs = 30_000;
