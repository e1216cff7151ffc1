import { invocationContext, type LogSink } from './invocation.js';
import { nextOccurrence, parseNcrontab } from './ncrontab.js';
import { resolveSettings, type TimerRegistration } from './registrations.js';

export interface TimerHost {
  stop(): void;
}

/** Runs each timer function on its NCRONTAB schedule (`%SETTING%` resolved), one run at a time. */
export function startTimers(registrations: TimerRegistration[], log: LogSink): TimerHost {
  const timeouts = new Set<NodeJS.Timeout>();
  let stopped = false;
  for (const registration of registrations) {
    const schedule = parseNcrontab(resolveSettings(registration.schedule));
    const arm = (after: Date) => {
      if (stopped) return;
      const next = nextOccurrence(schedule, after);
      // Node cuts a delay over 2^31-1 ms (24.8 days) to 1 ms: wait in steps, and run only when due
      const timeout = setTimeout(
        () =>
          void (async () => {
            timeouts.delete(timeout);
            if (Date.now() < next.getTime()) return arm(after);
            try {
              const timer = {
                isPastDue: false,
                schedule: { adjustForDST: true },
                scheduleStatus: {
                  last: after.toISOString(),
                  next: next.toISOString(),
                  lastUpdated: new Date().toISOString(),
                },
              };
              await registration.handler(timer, invocationContext(registration.name, {}, log));
            } catch (error) {
              log('error', registration.name, `failed: ${(error as Error).message}`);
            }
            arm(new Date(Math.max(Date.now(), next.getTime())));
          })(),
        Math.min(next.getTime() - Date.now(), 2 ** 31 - 1),
      );
      timeouts.add(timeout);
    };
    arm(new Date());
  }
  return {
    stop: () => {
      stopped = true;
      for (const timeout of timeouts) clearTimeout(timeout);
      timeouts.clear();
    },
  };
}
