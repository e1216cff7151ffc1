import { z } from 'zod';
import { type ExosendConfig } from '../config/load-config.js';
import { ConfigError } from '../config/config-error.js';

export interface HealthSettings {
  /** EXOSEND_HEALTH_TO: the check sends a test message here; unset, it stops after AUTH. */
  to: string | undefined;
  /** EXOSEND_HEALTH_FROM: the test message's From; the mailbox when unset. */
  from: string;
}

const address = z.email().transform((a) => a.toLowerCase());

/**
 * The check's own settings on top of the typed configuration. EXOSEND_HEALTH_FROM must be one of
 * the allowed senders: a check that sends as an address callers use proves that its Send As
 * still holds (the permission that silently disappears), and any other address proves nothing.
 */
export function readHealthSettings(
  config: Pick<ExosendConfig, 'mailbox' | 'allowedSenders' | 'healthTo'>,
  env: Record<string, string | undefined> = process.env,
): HealthSettings {
  const raw = env.EXOSEND_HEALTH_FROM?.trim();
  if (!raw) return { to: config.healthTo, from: config.mailbox };
  const parsed = address.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError([{ variable: 'EXOSEND_HEALTH_FROM', message: 'must be an email address' }]);
  if (parsed.data !== config.mailbox && !config.allowedSenders.includes(parsed.data)) {
    throw new ConfigError([
      { variable: 'EXOSEND_HEALTH_FROM', message: 'must be one of EXOSEND_ALLOWED_SENDERS (or the mailbox)' },
    ]);
  }
  return { to: config.healthTo, from: parsed.data };
}
