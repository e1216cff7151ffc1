/** Why a caller was turned away before its request was read: who are you, not allowed, or cannot tell now. */
export const callerRefusalCodes = [
  'CALLER_UNAUTHENTICATED',
  'CALLER_TOKEN_INVALID',
  'CALLER_TOKEN_EXPIRED',
  'CALLER_TOKEN_WRONG_AUDIENCE',
  'CALLER_TOKEN_WRONG_ISSUER',
  'CALLER_ROLE_MISSING',
  'CALLER_NOT_REGISTERED',
  'CALLER_KEYS_UNAVAILABLE',
] as const;
export type CallerRefusalCode = (typeof callerRefusalCodes)[number];

/**
 * A caller exosend will not serve. The message says what to change, and never repeats the token.
 * Its HTTP status is the edge's to choose (failureAnswers, src/http/error-response.ts).
 */
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
}
