import type { AppCredential } from './app-credential.js';
import { checkClaims, type CheckedClaims, type ClaimsExpectation, type TokenClaims } from './claims.js';

/** Exchange refuses tokens close to expiry (501 5.5.127): renew while ten minutes remain. */
const defaultRenewBeforeExpiryInMs = 10 * 60 * 1000;

export interface AppToken {
  token: string;
  expiresOnTimestamp: number;
  claims: TokenClaims;
  warnings: readonly string[];
}

export interface TokenProviderOptions {
  expect: ClaimsExpectation;
  renewBeforeExpiryInMs?: number;
  /** What the resource would refuse; Exchange's check by default (Graph's token has its own: graph-claims.ts). */
  check?: (token: string, expect: ClaimsExpectation) => CheckedClaims;
}

/**
 * The process-wide cache of the app-only token for Exchange: concurrent callers share one request,
 * a token is renewed before it nears expiry, and a token whose claims Exchange would refuse is
 * never cached or handed out.
 */
export class TokenProvider {
  private cached: AppToken | undefined;
  private pending: Promise<AppToken> | undefined;
  private readonly renewBeforeExpiryInMs: number;

  constructor(
    private readonly credential: AppCredential,
    private readonly options: TokenProviderOptions,
  ) {
    this.renewBeforeExpiryInMs = options.renewBeforeExpiryInMs ?? defaultRenewBeforeExpiryInMs;
  }

  /** The cached token, when it still has enough life left to be used; no request is made. */
  peek(): AppToken | undefined {
    const cached = this.cached;
    return cached && cached.expiresOnTimestamp - this.renewBeforeExpiryInMs > Date.now() ? cached : undefined;
  }

  getToken(): Promise<AppToken> {
    const fresh = this.peek();
    if (fresh) return Promise.resolve(fresh);
    this.pending ??= this.acquire().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Drops the token Exchange refused, so the next caller gets a new one. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  private async acquire(): Promise<AppToken> {
    const { token, expiresOnTimestamp } = await this.credential.requestToken(this.options.expect.scope);
    const { claims, warnings } = (this.options.check ?? checkClaims)(token, this.options.expect);
    this.cached = { token, expiresOnTimestamp, claims, warnings };
    return this.cached;
  }
}
