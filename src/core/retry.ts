// When and how long to wait before trying a request again: bounded attempts,
// full-jitter exponential backoff, and the server's Retry-After up to a cap.

/**
 * When a failed call is tried again: on a NetworkError, a TimeoutError without a
 * response, and on 429, 502, 503 and 504. Only idempotent calls are retried (unless
 * `nonIdempotent`), except after a 429, which says nothing ran. The wait is
 * full-jitter exponential backoff, or the server's Retry-After up to a cap.
 */
export interface RetryOptions {
  /** Attempts after the first. Default 2; 0 turns retries off. */
  maxRetries?: number;
  /** The first backoff step; it doubles each retry. Default 200 ms. */
  baseDelayMs?: number;
  /** The largest backoff step. Default 5 000 ms. */
  maxDelayMs?: number;
  /** The longest Retry-After honoured; a longer one is waited for this long. Default 30 000 ms. */
  maxRetryAfterMs?: number;
  /** Also retry operations that are not idempotent (start, execute). Default false. */
  nonIdempotent?: boolean;
}

/** The retry policy a client uses when `ClientOptions.retry` leaves a field out. */
export const DEFAULT_RETRY: Required<RetryOptions> = {
  maxRetries: 2,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
  nonIdempotent: false,
};

/** Statuses worth another try: rate limited, or a gateway/service in trouble. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Retry-After as milliseconds (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait before retry number `attempt` (1-based): Retry-After when given, else full-jitter backoff. */
export function retryDelay(attempt: number, retryAfterMs: number | undefined, policy: Required<RetryOptions>, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
