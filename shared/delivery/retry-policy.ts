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

/** The longest retry horizon: SQS's retention, with a day to spare for the last waits. */
export const MAX_RETRY_HORIZON_SECONDS = SQS_MAX_RETENTION_SECONDS - 86_400;

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
  const date = parseHttpDate(text, now);
  if (date === undefined) return undefined;
  return Math.max(0, date - now);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH = `(${MONTHS.join("|")})`;
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ( \\d|\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms,
 * all in GMT) in epoch milliseconds; undefined for anything else. Not `Date.parse`, which
 * reads almost any text as some date (`-5`, `1.5` and `abc 12` are days in 2001) and
 * takes asctime's zone-less form as local time.
 */
function parseHttpDate(text: string, now: number): number | undefined {
  let parts: { day: string; month: string; year: number; h: string; m: string; s: string } | undefined;
  let match: RegExpExecArray | null;
  if ((match = IMF_FIXDATE.exec(text))) parts = { day: match[1]!, month: match[2]!, year: Number(match[3]), h: match[4]!, m: match[5]!, s: match[6]! };
  else if ((match = RFC850_DATE.exec(text))) {
    // A two-digit year more than 50 years ahead is the last such year in the past.
    const yy = Number(match[3]);
    const thisYear = new Date(now).getUTCFullYear();
    let year = thisYear - (thisYear % 100) + yy;
    if (year > thisYear + 50) year -= 100;
    parts = { day: match[1]!, month: match[2]!, year, h: match[4]!, m: match[5]!, s: match[6]! };
  } else if ((match = ASCTIME_DATE.exec(text))) parts = { day: match[2]!.trim(), month: match[1]!, year: Number(match[6]), h: match[3]!, m: match[4]!, s: match[5]! };
  if (parts === undefined) return undefined;
  const [day, month, h, m, s] = [Number(parts.day), MONTHS.indexOf(parts.month), Number(parts.h), Number(parts.m), Number(parts.s)];
  const at = Date.UTC(parts.year, month, day, h, m, s);
  const check = new Date(at);
  // Out-of-range fields (31 Feb, 25:00) would roll over into another date.
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month || h > 23 || m > 59 || s > 60) return undefined;
  return at;
}

/** Seconds to hide a message for a wait of `waitMs`, within SQS's ceiling (counted from `receivedAt`). */
export function visibilitySeconds(waitMs: number, receivedAt: number, now: number): number {
  const left = SQS_MAX_VISIBILITY_SECONDS - Math.ceil((now - receivedAt) / 1000) - 1;
  return Math.max(0, Math.min(Math.ceil(waitMs / 1000), left));
}
