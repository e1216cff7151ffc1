import { loadDeliverySettings } from '../config/delivery-settings.js';
import { readerState } from '../pipeline/reader-state.js';

/**
 * The delivery reports reader's state, as the health check's result carries it (`reader`): `off`
 * (EXOSEND_DELIVERY_TRACKING=off), `not-run` (no tick in this process yet), `ok`, or the
 * diagnosis code its last tick met (READER_ACCESS_DENIED: Mail.Read missing or out of scope). The
 * check stays green for a reader failure: sending is what it vouches for, and the reader has its
 * own alert (exosend.reader events, infra/app/alerts.bicep).
 */
export function readerHealth(): string {
  try {
    if (loadDeliverySettings().tracking === 'off') return 'off';
  } catch {
    // the settings' own error is the check's to report
  }
  return readerState();
}
