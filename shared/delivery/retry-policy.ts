/**
 * When a failed webhook delivery is tried again. Retries are spread by exponential
 * backoff with jitter between `baseMs` and `capMs`; a receiver's `Retry-After` (429, 503)
 * is honoured up to `retryAfterCapMs`; after `horizonMs` since the delivery was first
 * queued it is dead-lettered. SQS limits each wait (a visibility change) to 12 hours from
 * when the message was received, and keeps messages at most 14 days.
 */
export interface RetryPolicy {
  /** First retry waits about this long. */
  readonly baseMs: number;
  /** No single backoff wait is longer. */
  readonly capMs: number;
  /** A `Retry-After` longer than this is shortened to it. */
  readonly retryAfterCapMs: number;
  /** How long a delivery keeps being retried, counted from when it was queued. */
  readonly horizonMs: number;
}

/** SQS's ceiling on a message's visibility timeout (12 hours). */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;
/** SQS's longest message retention (14 days): no horizon can outlive it. */
export const SQS_MAX_RETENTION_SECONDS = 1_209_600;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseMs: 5_000,
  capMs: 3 * 60 * 60 * 1000,
  retryAfterCapMs: 60 * 60 * 1000,
  horizonMs: 72 * 60 * 60 * 1000,
};

/**
 * The wait before attempt `failures + 1` after `failures` failed attempts (1 or more):
 * `base · 2^(failures-1)`, capped, with "equal jitter" (the upper half is random), so
 * retries never bunch up yet never come much earlier than the schedule says.
 */
export function backoffMs(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A `Retry-After` header in milliseconds from `now`: delay-seconds or an HTTP date.
 * Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Seconds to hide a message for a wait of `waitMs`, within SQS's ceiling (counted from `receivedAt`). */
export function visibilitySeconds(waitMs: number, receivedAt: number, now: number): number {
  const left = SQS_MAX_VISIBILITY_SECONDS - Math.ceil((now - receivedAt) / 1000) - 1;
  return Math.max(0, Math.min(Math.ceil(waitMs / 1000), left));
}
