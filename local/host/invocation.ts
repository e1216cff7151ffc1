import { randomUUID } from 'node:crypto';
import functions from '@azure/functions';

const { InvocationContext } = functions;

export type LogSink = (level: string, functionName: string, message: string) => void;

/** A context as the host builds one: an invocation id, the trigger's metadata, logs to the console. */
export function invocationContext(functionName: string, triggerMetadata: Record<string, unknown>, log: LogSink) {
  return new InvocationContext({
    functionName,
    invocationId: randomUUID(),
    triggerMetadata,
    logHandler: (level, ...args) => log(level, functionName, args.map(String).join(' ')),
  });
}
