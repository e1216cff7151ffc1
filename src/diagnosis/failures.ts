import type { Diagnosis } from './diagnosis.js';

/** Exchange, Entra or Key Vault refused, or could not be reached; the diagnosis says why and what to do. */
export class DeliveryFailed extends Error {
  override readonly name = 'DeliveryFailed';
  constructor(
    readonly diagnosis: Diagnosis,
    /** Every attempt's diagnosis code, oldest first, when the pipeline tried more than once. */
    readonly attempts: readonly string[] = [diagnosis.code],
  ) {
    super(`${diagnosis.code}: ${diagnosis.cause}`);
  }
}
