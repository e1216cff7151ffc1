// The one entry the Functions host loads (package.json "main"): importing a trigger registers it.
import './functions/send.js';
import './functions/health-check.js';
import './functions/health-status.js';
import './functions/enqueue.js';
import './functions/message-status.js';
import './functions/outbound-queue.js';
import './functions/openapi.js';
import './functions/stop.js';
import './functions/delivery-reports.js';

// not for the Functions host: the local host starts the app's state cold with it, as a new worker
// would (a sandbox scenario switched from its console must not meet tokens cached before it)
export { resetRuntime } from './runtime/runtime.js';
