import type { Diagnosis } from '../diagnosis/diagnosis.js';

export interface FieldProblem {
  /** Where in the request, as a caller would write it: `to[2]`, `attachments[0].contentBase64`. */
  path: string;
  message: string;
}

export type RejectionCode = 'INVALID_REQUEST' | 'SENDER_NOT_ALLOWED' | 'MESSAGE_TOO_LARGE';

/** The caller's request cannot be sent as it is; nothing was sent and nothing was stored. */
export class RequestRejected extends Error {
  override readonly name = 'RequestRejected';
  constructor(
    readonly code: RejectionCode,
    message: string,
    readonly details: readonly FieldProblem[] = [],
  ) {
    super(message);
  }
}

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
