import { setTimeout as sleep } from "node:timers/promises";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { keepLease, LeaseLostError, waitForLease, type AcquirableLease, type DynamoLease, type LeaseRecord, type RenewableLease } from "../../shared/streamer/lease";
import { leaseFactory, ManualClock, newStreamerTable, T0 } from "./streamer-fixtures";

// Every lease below lasts 1 000 ms (leaseFactory's default) of its own ManualClock.
const DURATION = 1_000;

let table: { tableName: string; client: DynamoDBClient };
beforeAll(async () => {
  table = await newStreamerTable();
});

describe("DynamoLease", () => {
  it("the first acquirer wins; a second holder is refused while the lease is live", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    const b = make("b", { now: clock.now });
    expect(await a.describe()).toBeUndefined();
    expect([a.held, a.fencingToken, a.expiresAt]).toEqual([false, undefined, undefined]);

    expect(await a.tryAcquire()).toBe(true);
    expect([a.held, a.fencingToken, a.expiresAt]).toEqual([true, 1, T0 + DURATION]);

    clock.advance(DURATION - 1);
    expect(await b.tryAcquire()).toBe(false);
    expect([b.held, b.fencingToken, b.expiresAt]).toEqual([false, undefined, undefined]);
    expect(await a.describe()).toEqual({ holder: "a", expiresAt: T0 + DURATION, fencingToken: 1 });
  });

  it.each([
    { standbyAt: DURATION - 1, takesOver: false },
    // The instant of expiry belongs to nobody: the holder may no longer act, the standby not yet.
    { standbyAt: DURATION, takesOver: false },
    { standbyAt: DURATION + 1, takesOver: true },
  ])("a standby whose clock says T0+$standbyAt takes over: $takesOver", async ({ standbyAt, takesOver }) => {
    const make = leaseFactory(table);
    const a = make("a", { now: new ManualClock(T0).now });
    const b = make("b", { now: new ManualClock(T0 + standbyAt).now });
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(takesOver);
    expect(await a.describe()).toEqual(
      takesOver ? { holder: "b", expiresAt: T0 + standbyAt + DURATION, fencingToken: 2 } : { holder: "a", expiresAt: T0 + DURATION, fencingToken: 1 },
    );
    expect(b.fencingToken).toBe(takesOver ? 2 : undefined);
  });

  it("the holder's own view of the lease ends at expiry by its clock, with no call", async () => {
    const clock = new ManualClock();
    const a = leaseFactory(table)("a", { now: clock.now });
    await a.tryAcquire();
    clock.advance(DURATION - 1);
    expect(a.held).toBe(true);
    clock.advance(1);
    expect(a.held).toBe(false);
  });

  it("renew extends the term from now and keeps the token; so does tryAcquire by the holder", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    await a.tryAcquire();
    clock.advance(600);
    expect(await a.renew()).toBe(true);
    expect([a.held, a.fencingToken, a.expiresAt]).toEqual([true, 1, T0 + 600 + DURATION]);
    expect(await a.describe()).toEqual({ holder: "a", expiresAt: T0 + 600 + DURATION, fencingToken: 1 });

    // Past the original expiry, but not the renewed one: still a's.
    const b = make("b", { now: new ManualClock(T0 + DURATION + 200).now });
    expect(await b.tryAcquire()).toBe(false);

    clock.advance(300);
    expect(await a.tryAcquire()).toBe(true);
    expect([a.fencingToken, a.expiresAt]).toEqual([1, T0 + 900 + DURATION]);
  });

  it("re-acquiring one's own lapsed lease starts a new term with a new token", async () => {
    const clock = new ManualClock();
    const a = leaseFactory(table)("a", { now: clock.now });
    await a.tryAcquire();
    clock.advance(DURATION + 1);
    expect(await a.tryAcquire()).toBe(true);
    expect([a.held, a.fencingToken]).toEqual([true, 2]);
  });

  it.each<{ name: string; lose: (a: DynamoLease, clock: ManualClock, make: ReturnType<typeof leaseFactory>) => Promise<unknown>; stored: LeaseRecord }>([
    {
      name: "another holder took it over",
      lose: (_a, _clock, make) => make("b", { now: new ManualClock(T0 + DURATION + 1).now }).tryAcquire(),
      stored: { holder: "b", expiresAt: T0 + 2 * DURATION + 1, fencingToken: 2 },
    },
    { name: "it expired by the holder's clock", lose: async (_a, clock) => clock.advance(DURATION), stored: { holder: "a", expiresAt: T0 + DURATION, fencingToken: 1 } },
    { name: "the holder released it", lose: (a) => a.release(), stored: { holder: "a", expiresAt: 0, fencingToken: 1 } },
  ])("renew returns false, and writes nothing, once $name", async ({ lose, stored }) => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    expect(await a.tryAcquire()).toBe(true);
    await lose(a, clock, make);
    expect(await a.renew()).toBe(false);
    expect([a.held, a.fencingToken, a.expiresAt]).toEqual([false, undefined, undefined]);
    expect(await a.describe()).toEqual(stored);
  });

  it("renew without ever acquiring returns false", async () => {
    expect(await leaseFactory(table)("a").renew()).toBe(false);
  });

  it("release lets a standby acquire at once, under the next token", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    const b = make("b", { now: clock.now });
    await a.tryAcquire();
    expect(await b.tryAcquire()).toBe(false);
    await a.release();
    expect([a.held, a.fencingToken]).toEqual([false, undefined]);
    expect(await a.describe()).toEqual({ holder: "a", expiresAt: 0, fencingToken: 1 });
    expect(await b.tryAcquire()).toBe(true);
    expect(b.fencingToken).toBe(2);
  });

  it("release by a holder that never had the lease leaves the holder's lease alone", async () => {
    const make = leaseFactory(table);
    const a = make("a", { now: new ManualClock().now });
    await a.tryAcquire();
    const before = await a.describe();
    await make("c").release();
    expect(await a.describe()).toEqual(before);
    expect(await a.renew()).toBe(true);
  });

  it("a former holder that lost the lease to a takeover cannot release the new term", async () => {
    const make = leaseFactory(table);
    const a = make("a", { now: new ManualClock(T0).now });
    const b = make("b", { now: new ManualClock(T0 + DURATION + 1).now });
    await a.tryAcquire();
    await b.tryAcquire();
    await a.release();
    expect(await b.describe()).toEqual({ holder: "b", expiresAt: T0 + 2 * DURATION + 1, fencingToken: 2 });
    expect(await b.renew()).toBe(true);
  });

  it("of 10 holders acquiring at once exactly one wins, round after round", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const leases = Array.from({ length: 10 }, (_, i) => make(`h${i}`, { now: clock.now }));
    for (const round of [1, 2, 3]) {
      const results = await Promise.all(leases.map((lease) => lease.tryAcquire()));
      const winners = leases.filter((_, i) => results[i]);
      expect(winners).toHaveLength(1);
      const winner = winners[0]!;
      expect(leases.filter((lease) => lease.held)).toEqual([winner]);
      expect(await winner.describe()).toEqual({ holder: winner.holder, expiresAt: clock.time + DURATION, fencingToken: round });
      await winner.release();
    }
  });

  it("rejects an empty holder, an empty cluster and a non-positive duration", () => {
    expect(() => leaseFactory(table, "c")("")).toThrow(RangeError);
    expect(() => leaseFactory(table, "")("h")).toThrow(RangeError);
    for (const durationMs of [0, -1, 1.5, Number.NaN]) expect(() => leaseFactory(table, "c")("h", { durationMs })).toThrow(RangeError);
  });
});

describe("keepLease", () => {
  it("keeps renewing while the lease is held, and stops without onLost when aborted", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    await a.tryAcquire();
    const onLost = vi.fn();
    const stop = new AbortController();
    const running = keepLease(a, { renewEveryMs: 10, onLost, signal: stop.signal });
    clock.advance(600);
    await vi.waitFor(() => expect(a.expiresAt).toBe(T0 + 600 + DURATION));
    // Past the first term's end: only the renewals keep the standby out.
    expect(await make("b", { now: new ManualClock(T0 + DURATION + 100).now }).tryAcquire()).toBe(false);
    stop.abort();
    await running;
    clock.advance(300);
    await sleep(40);
    expect(a.expiresAt).toBe(T0 + 600 + DURATION);
    expect(onLost).not.toHaveBeenCalled();
  });

  it("calls onLost once, and stops, when another holder takes the lease", async () => {
    const make = leaseFactory(table);
    const a = make("a", { now: new ManualClock(T0).now });
    await a.tryAcquire();
    const onLost = vi.fn();
    const running = keepLease(a, { renewEveryMs: 10, onLost });
    // b's clock runs ahead (skew, or a's process stalled): it sees the lease expired.
    expect(await make("b", { now: new ManualClock(T0 + DURATION + 1).now }).tryAcquire()).toBe(true);
    await running;
    await sleep(40);
    expect(onLost).toHaveBeenCalledTimes(1);
    expect(onLost.mock.calls[0]?.[0]).toBeInstanceOf(LeaseLostError);
    expect(a.held).toBe(false);
  });

  function flakyLease(clock: ManualClock, renew: () => Promise<boolean>): RenewableLease & { renew: ReturnType<typeof vi.fn> } {
    return { durationMs: DURATION, now: clock.now, expiresAt: T0 + DURATION, renew: vi.fn(renew) };
  }

  it("when renewals throw, calls onLost only once the term has run out by the local clock", async () => {
    const clock = new ManualClock();
    const failure = new Error("DynamoDB unreachable");
    const lease = flakyLease(clock, () => Promise.reject(failure));
    const onLost = vi.fn();
    const running = keepLease(lease, { renewEveryMs: 5, onLost });
    await vi.waitFor(() => expect(lease.renew.mock.calls.length).toBeGreaterThanOrEqual(3));
    expect(onLost).not.toHaveBeenCalled();
    clock.time = T0 + DURATION;
    await running;
    expect(onLost).toHaveBeenCalledTimes(1);
    const reason: unknown = onLost.mock.calls[0]?.[0];
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect((reason as LeaseLostError).cause).toBe(failure);
  });

  it("after a failed renewal, tries again no later than the expiry, so the loss is reported on time", async () => {
    vi.useFakeTimers({ now: T0 });
    try {
      const failure = new Error("DynamoDB unreachable");
      const lease: RenewableLease & { renew: ReturnType<typeof vi.fn> } = { durationMs: DURATION, now: Date.now, expiresAt: T0 + DURATION, renew: vi.fn(() => Promise.reject(failure)) };
      const onLost = vi.fn();
      void keepLease(lease, { renewEveryMs: 900, onLost });
      await vi.advanceTimersByTimeAsync(900);
      expect(lease.renew).toHaveBeenCalledTimes(1);
      expect(onLost).not.toHaveBeenCalled();
      // 100 ms were left of the term: the next try comes then, not a whole interval later.
      await vi.advanceTimersByTimeAsync(100);
      expect(lease.renew).toHaveBeenCalledTimes(2);
      expect(onLost).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a renewal that throws and then succeeds loses nothing", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const lease = flakyLease(clock, async () => {
      calls++;
      if (calls === 1) throw new Error("throttled");
      return true;
    });
    const onLost = vi.fn();
    const stop = new AbortController();
    const running = keepLease(lease, { renewEveryMs: 5, onLost, signal: stop.signal });
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3));
    stop.abort();
    await running;
    expect(onLost).not.toHaveBeenCalled();
  });

  it.each([0, DURATION, DURATION + 1])("rejects renewEveryMs %i (must be within the lease duration)", async (renewEveryMs) => {
    const lease = flakyLease(new ManualClock(), async () => true);
    await expect(keepLease(lease, { renewEveryMs, onLost: () => {} })).rejects.toBeInstanceOf(RangeError);
    expect(lease.renew).not.toHaveBeenCalled();
  });
});

describe("waitForLease", () => {
  it("resolves true as soon as the holder releases", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    const b = make("b", { now: clock.now });
    await a.tryAcquire();
    let outcome: boolean | undefined;
    const waiting = waitForLease(b, { pollMs: 10 }).then((acquired) => (outcome = acquired));
    await sleep(60);
    expect(outcome).toBeUndefined();
    expect(b.held).toBe(false);
    await a.release();
    expect(await waiting).toBe(true);
    expect([b.held, b.fencingToken]).toEqual([true, 2]);
  });

  it("resolves false when aborted, and the holder keeps the lease", async () => {
    const make = leaseFactory(table);
    const clock = new ManualClock();
    const a = make("a", { now: clock.now });
    const b = make("b", { now: clock.now });
    await a.tryAcquire();
    const stop = new AbortController();
    const waiting = waitForLease(b, { pollMs: 10, signal: stop.signal });
    await sleep(40);
    stop.abort();
    expect(await waiting).toBe(false);
    expect(b.held).toBe(false);
    expect((await a.describe())?.holder).toBe("a");
  });

  it("resolves false without acquiring a free lease if already aborted", async () => {
    const b = leaseFactory(table)("b");
    expect(await waitForLease(b, { pollMs: 10, signal: AbortSignal.abort() })).toBe(false);
    expect(await b.describe()).toBeUndefined();
  });

  it("releases a lease acquired just as the signal aborted, so false always means not held", async () => {
    const stop = new AbortController();
    const lease: AcquirableLease = {
      durationMs: DURATION,
      tryAcquire: vi.fn(async () => {
        stop.abort();
        return true;
      }),
      release: vi.fn(async () => {}),
    };
    expect(await waitForLease(lease, { pollMs: 10, signal: stop.signal })).toBe(false);
    expect(lease.release).toHaveBeenCalledTimes(1);
  });

  it("reports failed attempts to onError and keeps polling; without onError the failure rejects", async () => {
    const failure = new Error("DynamoDB unreachable");
    const flaky = (): AcquirableLease => {
      let calls = 0;
      return {
        durationMs: DURATION,
        tryAcquire: async () => {
          calls++;
          if (calls <= 2) throw failure;
          return true;
        },
        release: async () => {},
      };
    };
    const onError = vi.fn();
    expect(await waitForLease(flaky(), { pollMs: 5, onError })).toBe(true);
    expect(onError.mock.calls).toEqual([[failure], [failure]]);
    await expect(waitForLease(flaky(), { pollMs: 5 })).rejects.toBe(failure);
  });
});
