import { app } from '@azure/functions';
import { stopRuntime } from '../runtime/runtime.js';

// When an instance stops (every deploy and scale-in on Flex Consumption), its SMTP sessions go back
// to the mailbox's shared budget at once, rather than lapse a lease's time later.

// A graceful stop: the host sends WorkerTerminate and waits WorkerTerminateGracePeriodInSeconds (5 s)
// for the worker to exit, then kills it (Azure/azure-functions-host:
// src/WebJobs.Script.Grpc/Channel/GrpcWorkerChannel.cs, StopWorkerProcess;
// src/WebJobs.Script/Workers/WorkerConstants.cs; src/WebJobs.Script/Workers/ProcessManagement/WorkerProcess.cs,
// Dispose). The Node worker awaits every appTerminate hook, then calls process.exit(0)
// (Azure/azure-functions-nodejs-worker: src/eventHandlers/terminateWorker.ts, src/hooks/executeHooks.ts).
// stopRuntime settles within 3 s, inside that grace.
app.hook.appTerminate(() => stopRuntime());

// A SIGTERM to the worker process itself: the Node worker sets no handler for it (it listens only
// for 'exit' and 'uncaughtException', src/Worker.ts, src/GrpcClient.ts), so Node would end the
// process at once, leases and all. Give them back first, then end as the signal would have.
async function stopAfterSigterm(): Promise<void> {
  await stopRuntime();
  // a host of its own (the local host, a test's worker) listens too, and decides when to exit
  if (process.listenerCount('SIGTERM') > 1) return;
  process.off('SIGTERM', stopOnSigterm);
  process.kill(process.pid, 'SIGTERM');
}
const stopOnSigterm = () => void stopAfterSigterm();
process.on('SIGTERM', stopOnSigterm);
