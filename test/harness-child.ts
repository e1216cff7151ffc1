// A test process as the suite runs one, for test/orphans.test.ts: the harness's stand-ins and the
// queue fixture's Azurite, then "ready" on stdout, and nothing more until it is stopped.
import { startHarness } from './harness.js';
import { startQueueFixture } from './queue-fixture.js';

const h = await startHarness(import.meta.filename);
await startQueueFixture(h);
console.log('ready');
setInterval(() => undefined, 60_000);
