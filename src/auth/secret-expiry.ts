const dayInMs = 24 * 60 * 60 * 1000;

/** Under this many days left, the health check and the doctor warn: time to create the next secret. */
export const secretRenewalWarningDays = 30;

/** Whole days until the secret expires, as the vault states it. */
export function secretDaysLeft(expiresOn: Date, nowInMs = Date.now()): number {
  return Math.floor((expiresOn.getTime() - nowInMs) / dayInMs);
}

export function secretExpiresSoon(daysLeft: number | undefined): boolean {
  return daysLeft !== undefined && daysLeft < secretRenewalWarningDays;
}
