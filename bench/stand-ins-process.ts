// The stand-ins in a process of their own, as Entra, Key Vault and Exchange are on other machines:
// their work does not take the CPU of the process being measured. Forked by stand-ins-client.ts;
// answers its requests over the IPC channel.
import { startStandIns, type StandInOperations } from './stand-ins.js';

export type StandInRequest = { id: number; operation: keyof StandInOperations | 'close'; args: unknown[] };
export type StandInMessage = { ready: unknown } | { id: number; result?: unknown; error?: string };

const standIns = await startStandIns();
const send = (message: StandInMessage) => process.send!(message);

process.on(
  'message',
  ({ id, operation, args }: StandInRequest) =>
    void (async () => {
      try {
        if (operation === 'close') {
          await standIns.close();
          send({ id });
          process.disconnect();
          return;
        }
        const operations = standIns.operations as unknown as Record<typeof operation, (...a: unknown[]) => unknown>;
        send({ id, result: await operations[operation](...args) });
      } catch (error) {
        send({ id, error: error instanceof Error ? error.stack : String(error) });
      }
    })(),
);
// the parent went away without closing: nothing left to serve
process.on('disconnect', () => process.exit(0));
send({ ready: standIns.info });
