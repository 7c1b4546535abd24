// A token that expires, kept fresh for every call of a client: renewed shortly
// before its expiry, and after a refusal that says it expired, with one renewal
// shared by every call that needs one at that moment (single flight).
import type { TokenSource } from './transport.js';

/** A token and when it stops working (ms since the epoch). */
export interface ExpiringToken {
  token: string;
  expiresAt: number;
}

/** Renewed this long before expiry at most: a day-long token a minute early, as calls in flight need time to land. */
const MAX_MARGIN_MS = 60_000;
/** ...and at most this share of its lifetime early, so that a 2-second token still lives most of its life. */
const MARGIN_SHARE = 0.1;

export interface TokenKeeper extends TokenSource {
  /** How many renewals were asked of `renew` (the first token included when none was given). */
  readonly renewals: number;
}

/**
 * Keeps the token `renew` hands out. `initial`: a token already in hand (e.g. from a
 * create answer), used until it is due. A renewal that fails rejects every call that
 * waited for it; the next call tries again.
 */
export function createTokenKeeper(renew: () => Promise<ExpiringToken>, initial?: ExpiringToken): TokenKeeper {
  let token: string | undefined;
  let renewAt = 0;
  let expiresAt = 0;
  let renewing: Promise<string> | undefined;
  let renewals = 0;

  const keep = (fresh: ExpiringToken) => {
    const now = Date.now();
    const lifetime = Math.max(0, fresh.expiresAt - now);
    token = fresh.token;
    expiresAt = fresh.expiresAt;
    renewAt = fresh.expiresAt - Math.min(MAX_MARGIN_MS, lifetime * MARGIN_SHARE);
  };
  if (initial) keep(initial);

  const renewNow = (): Promise<string> => {
    renewing ??= (async () => {
      renewals++;
      try {
        const fresh = await renew();
        keep(fresh);
        return fresh.token;
      } finally {
        renewing = undefined;
      }
    })();
    return renewing;
  };

  return {
    get renewals() {
      return renewals;
    },
    current() {
      const now = Date.now();
      if (token !== undefined && now < renewAt) return token;
      // Due but not expired: calls go on with it while the renewal runs (a failed one is tried again at the next call).
      if (token !== undefined && now < expiresAt) {
        renewNow().catch(() => undefined);
        return token;
      }
      return renewNow();
    },
    // A call that was refused an older token than the one now kept sends again with it: that expiry was renewed already.
    renewAfter: (refused) => (token !== undefined && refused !== token ? Promise.resolve(token) : renewNow()),
  };
}
