/** Why a caller was turned away before its request was read: 401 (who are you?), 403 (not allowed), 503 (cannot tell now). */
export type CallerRefusalCode =
  | 'CALLER_UNAUTHENTICATED'
  | 'CALLER_TOKEN_INVALID'
  | 'CALLER_TOKEN_EXPIRED'
  | 'CALLER_TOKEN_WRONG_AUDIENCE'
  | 'CALLER_TOKEN_WRONG_ISSUER'
  | 'CALLER_ROLE_MISSING'
  | 'CALLER_NOT_REGISTERED'
  | 'CALLER_KEYS_UNAVAILABLE';

export const callerRefusalStatus: Record<CallerRefusalCode, 401 | 403 | 503> = {
  CALLER_UNAUTHENTICATED: 401,
  CALLER_TOKEN_INVALID: 401,
  CALLER_TOKEN_EXPIRED: 401,
  CALLER_TOKEN_WRONG_AUDIENCE: 401,
  CALLER_TOKEN_WRONG_ISSUER: 401,
  CALLER_ROLE_MISSING: 403,
  CALLER_NOT_REGISTERED: 403,
  CALLER_KEYS_UNAVAILABLE: 503,
};

/** A caller exosend will not serve. The message says what to change, and never repeats the token. */
export class CallerRefused extends Error {
  override readonly name = 'CallerRefused';
  constructor(
    readonly code: CallerRefusalCode,
    message: string,
    /** For the log only: the app id the token named, when it could be read. */
    readonly appId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): 401 | 403 | 503 {
    return callerRefusalStatus[this.code];
  }
}
