import { z } from 'zod';
import { ConfigError } from './config-error.js';

type Environment = Record<string, string | undefined>;

/**
 * `bounces` by default: a relay that keeps mailing addresses that do not exist spends the
 * mailbox's reputation until Exchange restricts it (5.1.8) and every send fails, and delivery
 * reports are the only word of that which needs no tenant-wide permission. The reader's own
 * failure (Mail.Read not granted yet) is a diagnosis with its fix, and never stops a send.
 * `trace` needs a tenant-wide permission, so it is opt-in.
 */
export const deliveryTrackingModes = ['off', 'bounces', 'trace'] as const;
export type DeliveryTracking = (typeof deliveryTrackingModes)[number];

export interface DeliverySettings {
  tracking: DeliveryTracking;
  /** A recipient with no news this long after the send is `unknown`, never `delivered`. */
  horizonInMs: number;
  /** Where every final outcome goes as a small JSON event. */
  outcomesQueue: string;
  /** Microsoft Graph's address: stand-ins, national clouds. */
  graphEndpoint: string;
  /** NCRONTAB of the inbox reader's timer. */
  readerSchedule: string;
}

const queueName = z
  .string()
  .regex(
    /^[a-z0-9](?!.*--)[a-z0-9-]{1,55}[a-z0-9]$/,
    'must be a storage queue name (3-57 lowercase letters, digits, dashes)',
  );

const schema = z.object({
  EXOSEND_DELIVERY_TRACKING: z.enum(deliveryTrackingModes, 'must be "off", "bounces" or "trace"').default('bounces'),
  EXOSEND_DELIVERY_HORIZON_HOURS: z.coerce
    .number('must be a number of hours')
    .positive('must be more than 0')
    .default(48),
  EXOSEND_OUTCOMES_QUEUE: queueName.default('outbound-mail-outcomes'),
  EXOSEND_GRAPH_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('https://graph.microsoft.com'),
  EXOSEND_DELIVERY_SCHEDULE: z.string().min(1).default('0 */5 * * * *'),
});

/** The delivery tracking settings, checked up front; a bad one is a ConfigError naming it. */
export function loadDeliverySettings(env: Environment = process.env): DeliverySettings {
  const blankAsUnset = Object.fromEntries(
    Object.keys(schema.shape).map((name) => [name, env[name]?.trim() || undefined]),
  );
  const parsed = schema.safeParse(blankAsUnset);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message })),
    );
  }
  const s = parsed.data;
  return {
    tracking: s.EXOSEND_DELIVERY_TRACKING,
    horizonInMs: Math.round(s.EXOSEND_DELIVERY_HORIZON_HOURS * 3_600_000),
    outcomesQueue: s.EXOSEND_OUTCOMES_QUEUE,
    graphEndpoint: s.EXOSEND_GRAPH_ENDPOINT.replace(/\/+$/, ''),
    readerSchedule: s.EXOSEND_DELIVERY_SCHEDULE,
  };
}
