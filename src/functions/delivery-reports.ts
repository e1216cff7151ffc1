import { app, type InvocationContext, type Timer } from '@azure/functions';
import { loadDeliverySettings } from '../config/delivery-settings.js';
import { readDeliveryReports } from '../pipeline/read-delivery-reports.js';
import { getReaderRuntime } from '../runtime/reader-runtime.js';
import { logEvent } from '../telemetry/log-event.js';
import { flush } from '../telemetry/telemetry.js';

/**
 * Timer: the sending mailboxes' Inbox read for delivery reports (EXOSEND_DELIVERY_TRACKING
 * `bounces` or `trace`). One line per mailbox: requests spent, reports read, recipients changed,
 * and the diagnosis code when Graph refused; never an address or a body.
 */
export async function scheduledDeliveryReports(timer: Timer, context: InvocationContext): Promise<void> {
  try {
    const run = await readDeliveryReports(await getReaderRuntime());
    for (const m of run.mailboxes) {
      logEvent(context, 'reader', {
        mailbox: m.mailbox,
        ok: m.ok,
        code: m.code,
        skipped: m.skipped,
        requests: m.requests,
        reports: m.reports,
        changed: m.outcomes.length,
        pastDue: timer.isPastDue || undefined,
      });
    }
  } finally {
    await flush();
  }
}

/** Settings that do not parse still register the timer: its run then fails with the ConfigError naming them. */
function readerSettings(): { on: boolean; schedule: string } {
  try {
    const settings = loadDeliverySettings();
    return { on: settings.tracking !== 'off', schedule: settings.readerSchedule };
  } catch {
    return { on: true, schedule: '0 */5 * * * *' };
  }
}

const reader = readerSettings();
if (reader.on) {
  app.timer('deliveryReports', {
    schedule: reader.schedule,
    runOnStartup: false,
    handler: scheduledDeliveryReports,
  });
}
