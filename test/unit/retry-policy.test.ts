import { describe, expect, it } from "vitest";
import { backoffMs, DEFAULT_RETRY_POLICY, parseRetryAfter, SQS_MAX_VISIBILITY_SECONDS, visibilitySeconds, type RetryPolicy } from "../../shared/delivery/retry-policy";

const policy: RetryPolicy = { baseMs: 1_000, capMs: 60_000, retryAfterCapMs: 30_000, horizonMs: 3_600_000 };

describe("backoffMs", () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [6, 32_000],
    [7, 60_000], // 64 s, capped
    [8, 60_000],
    [1_000, 60_000], // no overflow to Infinity/NaN
  ])("after %i failures waits at most %i ms (random 1) and at least half of it (random 0)", (failures, ceiling) => {
    expect(backoffMs(failures, policy, () => 1)).toBe(ceiling);
    expect(backoffMs(failures, policy, () => 0)).toBe(ceiling / 2);
    expect(backoffMs(failures, policy, () => 0.5)).toBe(Math.round(ceiling * 0.75));
  });

  it("treats 0 (or fewer) failures as the first", () => {
    expect(backoffMs(0, policy, () => 1)).toBe(1_000);
    expect(backoffMs(-3, policy, () => 1)).toBe(1_000);
  });

  it("stays within the equal-jitter bounds with Math.random, and never exceeds the cap", () => {
    for (let failures = 1; failures <= 30; failures++) {
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (failures - 1));
      for (let i = 0; i < 50; i++) {
        const wait = backoffMs(failures, policy);
        expect(wait).toBeGreaterThanOrEqual(ceiling / 2);
        expect(wait).toBeLessThanOrEqual(ceiling);
        expect(Number.isInteger(wait)).toBe(true);
      }
    }
  });

  it("with the default policy starts at 2.5–5 s and tops out at 3 h", () => {
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, () => 0)).toBe(2_500);
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, () => 1)).toBe(5_000);
    expect(backoffMs(50, DEFAULT_RETRY_POLICY, () => 1)).toBe(3 * 60 * 60 * 1000);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-03-10T12:00:00Z");

  it.each([
    ["120", 120_000],
    ["0", 0],
    [" 7 ", 7_000],
    ["86400", 86_400_000],
  ])("reads delay-seconds %j as %i ms", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it("reads an HTTP date in the future as the time until it", () => {
    expect(parseRetryAfter("Mon, 10 Mar 2025 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Tue, 11 Mar 2025 12:00:00 GMT", now)).toBe(86_400_000);
  });

  it("reads the obsolete RFC 850 and asctime date forms, both in GMT", () => {
    expect(parseRetryAfter("Monday, 10-Mar-25 12:01:00 GMT", now)).toBe(60_000);
    // asctime carries no zone: it is GMT, whatever the process's time zone.
    expect(parseRetryAfter("Mon Mar 10 12:00:45 2025", now)).toBe(45_000);
    expect(parseRetryAfter("Mon Mar  3 12:00:00 2025", now)).toBe(0);
  });

  it("reads an HTTP date in the past (or now) as 0", () => {
    expect(parseRetryAfter("Sun, 09 Mar 2025 12:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("Mon, 10 Mar 2025 12:00:00 GMT", now)).toBe(0);
  });

  it.each([undefined, "", "   ", "soon", "5 seconds", "-5", "1.5", "30.0", "1e3", "0x10", "abc 12", "Infinity", "2025-03-10T12:00:30Z", "Mon, 31 Feb 2025 12:00:00 GMT", "Mon, 10 Mar 2025 25:00:00 GMT"])(
    "gives undefined for %j (absent or not a Retry-After value)",
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );

  it("takes the first of repeated headers", () => {
    expect(parseRetryAfter(["5", "10"], now)).toBe(5_000);
    expect(parseRetryAfter(["Mon, 10 Mar 2025 12:00:10 GMT", "1"], now)).toBe(10_000);
    expect(parseRetryAfter(["garbage", "10"], now)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
  });
});

describe("visibilitySeconds", () => {
  const receivedAt = 1_700_000_000_000;

  it("rounds a wait up to whole seconds", () => {
    expect(visibilitySeconds(1_500, receivedAt, receivedAt)).toBe(2);
    expect(visibilitySeconds(1_000, receivedAt, receivedAt)).toBe(1);
    expect(visibilitySeconds(1, receivedAt, receivedAt)).toBe(1);
    expect(visibilitySeconds(0, receivedAt, receivedAt)).toBe(0);
  });

  it("keeps the wait within 12 hours of when the message was received", () => {
    const ceiling = SQS_MAX_VISIBILITY_SECONDS - 1;
    expect(visibilitySeconds(24 * 3_600_000, receivedAt, receivedAt)).toBe(ceiling);
    expect(visibilitySeconds(12 * 3_600_000, receivedAt, receivedAt)).toBe(ceiling);
    // An hour after the receipt, 11 hours (minus the margin) remain.
    expect(visibilitySeconds(24 * 3_600_000, receivedAt, receivedAt + 3_600_000)).toBe(ceiling - 3_600);
    // Partly elapsed seconds count as whole ones.
    expect(visibilitySeconds(24 * 3_600_000, receivedAt, receivedAt + 1)).toBe(ceiling - 1);
    // A short wait is untouched by the ceiling.
    expect(visibilitySeconds(30_000, receivedAt, receivedAt + 3_600_000)).toBe(30);
  });

  it("is 0 once the 12 hours are (nearly) used up, never negative", () => {
    expect(visibilitySeconds(60_000, receivedAt, receivedAt + (SQS_MAX_VISIBILITY_SECONDS - 1) * 1000)).toBe(0);
    expect(visibilitySeconds(60_000, receivedAt, receivedAt + 13 * 3_600_000)).toBe(0);
  });
});
