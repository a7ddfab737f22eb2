import { describe, expect, it } from "vitest";
import { fullJitter, sleep } from "../../shared/retry/backoff";

describe("fullJitter", () => {
  it.each([
    [0, 0.999, 99],
    [3, 0.5, 400],
    [10, 0.999, 29_970],
    [50, 0.5, 15_000],
    [4, 0, 0],
  ])("attempt %i with random %f waits %i ms (base 100, cap 30 s)", (attempt, random, expected) => {
    expect(fullJitter(attempt, 100, 30_000, () => random)).toBe(expected);
  });
});

describe("sleep", () => {
  it("rejects with the abort reason as soon as the signal aborts", async () => {
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort(new Error("stop")), 10);
    await expect(sleep(10_000, abort.signal)).rejects.toThrow("stop");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
