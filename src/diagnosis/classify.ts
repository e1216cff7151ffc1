/**
 * Caught errors as diagnoses: pure functions of the error and the context, no I/O. One file per
 * source of errors; this one is the door the rest of exosend uses.
 */
export { classifySmtpError } from './classify-smtp.js';
export {
  classifyIdentityError,
  identityReply,
  isIdentityError,
  isTransientIdentityError,
} from './classify-identity.js';
export { classifyVaultError, isVaultError, retryAfterSecondsOf } from './classify-vault.js';
export { classifyGraphOutcome, type GraphOutcome } from './classify-graph.js';
