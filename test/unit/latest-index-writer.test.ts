import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LatestIndexWriter } from "../../shared/delivery/latest-index-writer";
import { createLogger } from "../../shared/observability/logger";

/**
 * LatestIndexWriter's timing, on vitest's fake clock and timers, with a store stand-in that
 * records each write (the conditional UpdateItem itself is covered against DynamoDB Local
 * by the sink store contract and the deliverer's integration tests).
 */
function recordingStore() {
  const writes: Array<[string, number, number | undefined]> = [];
  let failures = 0;
  let attempts = 0;
  return {
    writes,
    get attempts() {
      return attempts;
    },
    failNext(count: number) {
      failures = count;
    },
    async advanceLatestIndex(id: string, index: number, createIndex?: number) {
      attempts++;
      if (failures > 0) {
        failures--;
        throw new Error("ProvisionedThroughputExceededException");
      }
      writes.push([id, index, createIndex]);
      return true;
    },
  };
}

const logger = createLogger("latest-index-writer-test");
logger.setLogLevel("SILENT");

describe("LatestIndexWriter", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("with everyMs 0 writes every advance at once and hands the write to the caller", async () => {
    const store = recordingStore();
    const writer = new LatestIndexWriter(store, { everyMs: 0, logger });
    await writer.advance("a", 1, 7);
    await writer.advance("a", 2, 7);
    expect(store.writes).toEqual([
      ["a", 1, 7],
      ["a", 2, 7],
    ]);
  });

  it("writes a sink's first advance at once, defers those within the interval, and writes their highest when it is up", async () => {
    const store = recordingStore();
    const writer = new LatestIndexWriter(store, { everyMs: 1_000, logger });
    await writer.advance("a", 10, 7);
    expect(writer.advance("a", 12, 7)).toBeUndefined();
    vi.advanceTimersByTime(400);
    expect(writer.advance("a", 11, 7)).toBeUndefined();
    // Another sink keeps its own interval.
    await writer.advance("b", 5, 3);
    expect(store.writes).toEqual([
      ["a", 10, 7],
      ["b", 5, 3],
    ]);
    await vi.advanceTimersByTimeAsync(599);
    expect(store.writes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.writes.at(-1)).toEqual(["a", 12, 7]);
    // The timer's write started a new interval: an advance right after it waits again.
    expect(writer.advance("a", 13, 7)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writes.at(-1)).toEqual(["a", 13, 7]);
    // Past the interval with nothing deferred, the next advance is written at once.
    vi.advanceTimersByTime(1_000);
    await writer.advance("a", 14, 7);
    expect(store.writes.at(-1)).toEqual(["a", 14, 7]);
    expect(store.writes).toHaveLength(5);
  });

  it("drops a deferred advance of an earlier registration of the ID, and writes the later one's at once", async () => {
    const store = recordingStore();
    const writer = new LatestIndexWriter(store, { everyMs: 1_000, logger });
    await writer.advance("a", 50, 7);
    expect(writer.advance("a", 60, 7)).toBeUndefined();
    await writer.advance("a", 2, 61);
    await vi.advanceTimersByTimeAsync(5_000);
    await writer.flush();
    expect(store.writes).toEqual([
      ["a", 50, 7],
      ["a", 2, 61],
    ]);
  });

  it("tries a failed deferred write again after the interval, with anything delivered since", async () => {
    const store = recordingStore();
    const writer = new LatestIndexWriter(store, { everyMs: 1_000, logger });
    await writer.advance("a", 1, 7);
    expect(writer.advance("a", 2, 7)).toBeUndefined();
    store.failNext(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writes).toEqual([["a", 1, 7]]);
    expect(writer.advance("a", 3, 7)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writes).toEqual([
      ["a", 1, 7],
      ["a", 3, 7],
    ]);
  });

  it("flush() writes every deferred advance at once and waits for them", async () => {
    const store = recordingStore();
    const writer = new LatestIndexWriter(store, { everyMs: 60_000, logger });
    await writer.advance("a", 1, 7);
    await writer.advance("b", 1, 8);
    writer.advance("a", 9, 7);
    writer.advance("b", 4, 8);
    await writer.flush();
    expect(store.writes.slice(2).sort()).toEqual([
      ["a", 9, 7],
      ["b", 4, 8],
    ]);
    // Nothing is left for the timers.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(store.writes).toHaveLength(4);
  });

  it("does not try a write again once flush() has run: the store is going away, and the sink's next delivery advances it", async () => {
    const store = recordingStore();
    const writer = new LatestIndexWriter(store, { everyMs: 1_000, logger });
    await writer.advance("a", 1, 7);
    writer.advance("a", 2, 7);
    store.failNext(1);
    await writer.flush();
    const attempts = store.attempts;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(store.attempts).toBe(attempts);
    expect(store.writes).toEqual([["a", 1, 7]]);
  });
});
