/**
 * Who called: a function-key holder (all of them are one caller, under the default policy) or an
 * app that presented an Entra token, named by its application (client) ID. Never the token itself.
 */
export type CallerIdentity =
  { kind: 'key' } | { kind: 'entra'; appId: string; tenantId: string; tokenVersion: '1.0' | '2.0' };

/** The id every record, log line, dead letter and telemetry event names the caller by. */
export const keyCallerId = 'function-key';

export function callerIdOf(identity: CallerIdentity): string {
  return identity.kind === 'key' ? keyCallerId : identity.appId.toLowerCase();
}
