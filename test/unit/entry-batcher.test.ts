import { describe, expect, it } from "vitest";
import { putEventsEntrySize } from "../../shared/eventbridge/entry-size";
import { EntryBatcher, EntryTooLargeError } from "../../shared/streamer/entry-batcher";
import type { BusEntry } from "../../shared/streamer/event-contract";

const entry = (n: number, detailBytes = 10): BusEntry => ({ Source: "nomad", DetailType: "Job", Detail: JSON.stringify({ n, pad: "x".repeat(Math.max(0, detailBytes - 20)) }), EventBusName: "b" });

/** A send that records calls and resolves when told to (the batcher's only collaborator). */
function recordingSend() {
  const calls: Array<{ entries: BusEntry[]; release: () => void; fail: (e: unknown) => void }> = [];
  const send = (entries: BusEntry[]) => new Promise<void>((release, fail) => calls.push({ entries, release, fail }));
  return { calls, send };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("EntryBatcher", () => {
  it("packs at most 10 entries per call and reports a frame once all its entries are accepted", async () => {
    const { calls, send } = recordingSend();
    const batcher = new EntryBatcher({ send, lingerMs: 1 });
    const published: string[] = [];
    await batcher.add(Array.from({ length: 12 }, (_, i) => entry(i)), () => published.push("big"));
    await batcher.add([entry(99)], () => published.push("small"));
    await new Promise((r) => setTimeout(r, 10));
    expect(calls.map((c) => c.entries.length)).toEqual([10, 3]);
    calls[1]!.release();
    await tick();
    // "small" is all in call 1; "big" still has entries in call 0. Order is the tracker's job.
    expect(published).toEqual(["small"]);
    calls[0]!.release();
    await tick();
    expect(published).toEqual(["small", "big"]);
  });

  it("keeps each call within the byte limit", async () => {
    const { calls, send } = recordingSend();
    const batcher = new EntryBatcher({ send, maxBytes: 1000, lingerMs: 1 });
    for (let i = 0; i < 5; i++) await batcher.add([entry(i, 400)], () => undefined);
    let flushed = false;
    const done = batcher.flush().then(() => (flushed = true));
    while (!flushed) {
      calls.forEach((c) => c.release());
      await new Promise((r) => setTimeout(r, 5));
    }
    await done;
    expect(calls.map((c) => c.entries.length)).toEqual([2, 2, 1]);
    for (const call of calls) expect(call.entries.reduce((sum, e) => sum + putEventsEntrySize(e), 0)).toBeLessThanOrEqual(1000);
  });

  it("refuses an entry that is over the limit on its own (it must be stored by reference)", async () => {
    const batcher = new EntryBatcher({ send: async () => undefined, maxBytes: 100 });
    await expect(batcher.add([entry(1, 200)], () => undefined)).rejects.toBeInstanceOf(EntryTooLargeError);
  });

  it("holds the reader back while every call slot is busy", async () => {
    const { calls, send } = recordingSend();
    const batcher = new EntryBatcher({ send, maxInFlight: 2, maxEntries: 1 });
    await batcher.add([entry(1)], () => undefined);
    await batcher.add([entry(2)], () => undefined);
    let third = false;
    const adding = batcher.add([entry(3)], () => undefined).then(() => (third = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(batcher.callsInFlight).toBe(2);
    expect(third).toBe(false);
    calls[0]!.release();
    await adding;
    expect(third).toBe(true);
  });

  it("never strands a waiting add when linger-timer sends queued up behind busy slots (the local runtime's stall)", async () => {
    const { calls, send } = recordingSend();
    const batcher = new EntryBatcher({ send, maxInFlight: 2, lingerMs: 1 });
    await batcher.add(Array.from({ length: 10 }, (_, i) => entry(i)), () => undefined);
    await batcher.add(Array.from({ length: 10 }, (_, i) => entry(10 + i)), () => undefined);
    expect(batcher.callsInFlight).toBe(2);
    // Both slots busy: each partial batch's linger timer fires and waits for a slot.
    for (let i = 0; i < 3; i++) {
      await batcher.add([entry(20 + i)], () => undefined);
      await new Promise((r) => setTimeout(r, 5));
    }
    // This add fills the batch and must wait for a slot too.
    const published: number[] = [];
    let added = false;
    const adding = batcher.add(Array.from({ length: 8 }, (_, i) => entry(23 + i)), () => published.push(1)).then(() => (added = true));
    // The bus accepts every call as it comes: the add must get through and its entries be sent.
    for (let round = 0; round < 50 && !added; round++) {
      for (const call of calls) call.release();
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(added).toBe(true);
    await adding;
    const flushed = batcher.flush();
    for (let round = 0; round < 50 && batcher.callsInFlight > 0; round++) {
      for (const call of calls) call.release();
      await new Promise((r) => setTimeout(r, 2));
    }
    await flushed;
    expect(published).toEqual([1]);
    expect(calls.flatMap((c) => c.entries).length).toBe(31);
  });

  it("sends a partial batch after the linger time", async () => {
    const { calls, send } = recordingSend();
    const batcher = new EntryBatcher({ send, lingerMs: 5 });
    await batcher.add([entry(1)], () => undefined);
    expect(calls).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toHaveLength(1);
  });

  it("surfaces a failed send on the next add and on flush, and never reports those frames", async () => {
    const { calls, send } = recordingSend();
    const batcher = new EntryBatcher({ send, maxEntries: 1 });
    let published = false;
    await batcher.add([entry(1)], () => (published = true));
    calls[0]!.fail(new Error("bus down and aborted"));
    await tick();
    await expect(batcher.add([entry(2)], () => undefined)).rejects.toThrow("bus down and aborted");
    await expect(batcher.flush()).rejects.toThrow("bus down and aborted");
    expect(published).toBe(false);
  });

  it("reports a frame without entries at once", async () => {
    const batcher = new EntryBatcher({ send: async () => undefined });
    let published = false;
    await batcher.add([], () => (published = true));
    expect(published).toBe(true);
  });
});
