// One worker process of the scale-out test, as Flex Consumption places them: it loads the app's own
// entry (package.json "main"), learns its registrations, and serves one role: `http` (the HTTP
// functions on a port of its own), `queue` (the queue function) or `timer` (the health check).
// Settings come in the environment. It prints one JSON line when ready, then the app's log lines.
// `node dist/test/scale-out-worker.js http|queue|timer`; it ends with its parent (IPC disconnect).
import type { AddressInfo } from 'node:net';
import { createHttpHost } from '../local/host/http-host.js';
import { readQueueHostOptions } from '../local/host/host-json.js';
import { invocationContext, type LogSink } from '../local/host/invocation.js';
import { startQueueListener } from '../local/host/queue-listener.js';
import { loadRegistrations, runTerminateHooks } from '../local/host/registrations.js';
import { startTimers } from '../local/host/timers.js';
import { connectStorage } from '../src/storage/storage.js';
import { checksCaller } from '../src/functions/caller-route.js';

const role = process.argv[2];
const log: LogSink = (level, name, message) => process.stdout.write(`${JSON.stringify({ level, name, message })}\n`);
const registrations = await loadRegistrations('.');
const stops: (() => Promise<void> | void)[] = [];
let port: number | undefined;

if (role === 'http') {
  const server = createHttpHost({
    functions: registrations.http,
    functionKey: process.env['SCALE_OUT_FUNCTION_KEY']!,
    log,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  stops.push(() => {
    server.closeAllConnections();
    server.close();
  });
} else if (role === 'queue') {
  // the host's own queue settings (host.json), except that a dead worker's messages come back in
  // seconds rather than the host's 10 minutes, so that the test can see them come back
  const storage = connectStorage(process.env['AzureWebJobsStorage']!, process.env['EXOSEND_QUEUE']!);
  await storage.ready();
  for (const registration of registrations.queues) {
    const listener = startQueueListener({
      ...readQueueHostOptions(),
      queue: storage.intake,
      poison: storage.poison,
      receiveVisibilityInMs: 5000,
      handler: (body, metadata) =>
        registration.handler(body, invocationContext(registration.name, { ...metadata }, log)) as Promise<void>,
    });
    stops.push(() => listener.stop());
  }
} else if (role === 'timer') {
  const timers = startTimers(registrations.timers, log);
  stops.push(() => timers.stop());
} else {
  throw new Error(`unknown role ${role}`);
}

// Stopped as the host stops a worker: the IPC message `terminate` stands for WorkerTerminate (the
// host stops triggering, the worker runs the app's appTerminate hooks and exits 0:
// Azure/azure-functions-nodejs-worker, src/eventHandlers/terminateWorker.ts). A SIGTERM gets no
// handler here, as the Node worker sets none: what the app does about it is all there is.
process.on('message', (message) => {
  if (message !== 'terminate') return;
  void (async () => {
    for (const s of stops) await s();
    await runTerminateHooks(registrations);
    process.exit(0);
  })();
});
process.on('disconnect', () => process.exit(0));
// what the host would index: each HTTP route's authLevel, and whether its handler checks the caller
const routes = registrations.http.map(({ name, route, methods, authLevel, handler }) => ({
  name,
  route,
  methods,
  authLevel,
  checksCaller: checksCaller in handler,
}));
process.stdout.write(`${JSON.stringify({ ready: role, port, routes })}\n`);
