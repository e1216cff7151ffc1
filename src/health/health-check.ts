import { randomUUID } from 'node:crypto';
import { ConfigError } from '../config/config-error.js';
import type { ProbeOptions } from '../probe/probe.js';
import { probeActiveTransport, type ActiveProbe, type Way } from './active-probe.js';
import { trackAvailability } from '../telemetry/telemetry.js';
import { availabilityOf } from './availability.js';
import { resultOfDefect, resultOfMisconfiguration, resultOfProbe, type HealthCheckResult } from './health-result.js';
import { readHealthSettings } from './health-settings.js';
import { budgetsOf } from './budgets.js';
import type { HealthRuntime } from './health-runtime.js';
import { recordHealthCheck } from './last-check.js';
import { readerHealth } from './reader-health.js';

const secretRecheckInMs = 60 * 60 * 1000;

/**
 * The synthetic send: the real chain, stage by stage, through the same secret and token caches as
 * real sends (a warm worker asks Entra for nothing), then a small message to EXOSEND_HEALTH_TO with
 * the run id in its subject, or, with no recipient, a polite QUIT after AUTH. Every check, red or
 * green, becomes the last result and one availability result.
 */
export async function runHealthCheck(loadRuntime: () => HealthRuntime): Promise<HealthCheckResult> {
  const startedAt = new Date();
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let result: HealthCheckResult;
  try {
    const runtime = loadRuntime();
    const settings = readHealthSettings(runtime.config);
    // the vault is read again once an hour, so that the days left follow a rotation there
    const { credential } = runtime;
    const recheck = { kind: credential.kind, prepare: () => credential.prepare({ maxAgeInMs: secretRecheckInMs }) };
    // a From that is one of the mailboxes authenticates as itself, as a real send would
    const main = runtime.sender.mailboxFor({ from: settings.from });
    const probe = (mailbox: string, options: ProbeOptions = {}) =>
      probeActiveTransport(runtime, mailbox, { ...options, credential: recheck, lease: leaseOf(runtime, mailbox) });
    // the way each mailbox's mail goes now: SMTP, Graph, or under `auto` whichever it currently uses
    const first = await probe(main, {
      to: settings.to,
      from: settings.from,
      subject: (runId) => `exosend health check ${runId}`,
    });
    const { report } = first;
    // every other mailbox is checked up to AUTH (SMTP: its FullAccess, its SMTP AUTH; Graph: the token) in the same run
    const others: { mailbox: string; checked: ActiveProbe }[] = [];
    for (const mailbox of report.ok ? runtime.config.mailboxes.filter((m) => m !== main) : []) {
      others.push({ mailbox, checked: await probe(mailbox) });
    }
    const failed = others.find((o) => !o.checked.report.ok);
    const shown = failed?.checked ?? first;
    result = {
      ...resultOfProbe(
        failed
          ? {
              ...failed.checked.report,
              runId: report.runId,
              ...(report.credential && { credential: report.credential }),
            }
          : report,
        settings.to ? 'send' : 'auth',
        startedAt,
        elapsed(),
      ),
      transport: shown.transport,
      ...(shown.smtpClosed && { smtpClosed: shown.smtpClosed }),
      ...(failed && { failedMailbox: failed.mailbox }),
      mailboxes: [{ mailbox: main, checked: first }, ...others].map(({ mailbox, checked }) => ({
        mailbox,
        ok: checked.report.ok,
        code: checked.report.diagnosis?.code,
        transport: checked.transport,
      })),
      budgets: await budgetsOf(runtime),
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      // still a red result for the alert, and the defect goes on to the host's log
      publish(resultOfDefect(randomUUID(), error, startedAt, elapsed()));
      throw error;
    }
    result = resultOfMisconfiguration(randomUUID(), error, startedAt, elapsed());
  }
  publish(result);
  return result;
}

/**
 * The check's own lease, kept free across every instance (without one, the check goes ahead): one
 * of the mailbox's SMTP sessions, or one of the app's Graph requests in flight.
 */
function leaseOf(runtime: HealthRuntime, mailbox: string) {
  return (way: Way) => {
    const budget = way === 'graph' ? runtime.graphConcurrency : runtime.transports.get(mailbox)?.budget;
    return budget?.takeConnection('check', { waitUpToMs: 30_000 }).catch(() => undefined) ?? Promise.resolve(undefined);
  };
}

function publish(result: HealthCheckResult): void {
  result.reader = readerHealth();
  recordHealthCheck(result);
  trackAvailability(availabilityOf(result));
}
