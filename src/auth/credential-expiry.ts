const dayInMs = 24 * 60 * 60 * 1000;

/**
 * One rule for every credential kind: under this many days left, the health check and the doctor
 * warn -- time to create the next secret or certificate. A federated credential never expires.
 */
export const credentialRenewalWarningDays = 30;

/** Whole days until the credential expires: a secret's expiry in the vault, a certificate's notAfter. */
export function credentialDaysLeft(expiresOn: Date, nowInMs = Date.now()): number {
  return Math.floor((expiresOn.getTime() - nowInMs) / dayInMs);
}

export function credentialExpiresSoon(daysLeft: number | undefined): boolean {
  return daysLeft !== undefined && daysLeft < credentialRenewalWarningDays;
}
