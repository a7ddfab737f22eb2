import { describe, expect, it } from "vitest";
import { SinkCache } from "../../shared/delivery/sink-cache";
import type { Sink } from "../../shared/sinks/sink";

/**
 * SinkCache's sharing of reads, with a store stand-in whose reads answer when the test says
 * (the store's DynamoDB behaviour is covered by the fan-out and deliverer integration tests).
 */
function gatedStore() {
  const sink = (id: string): Sink => ({ ID: id, Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook", LatestIndex: 0, CreateIndex: 1, ModifyIndex: 1, Secret: "whsec_x", PreviousSecrets: [] }) as Sink;
  const pending: Array<() => void> = [];
  const store = {
    version: 1,
    sinks: [sink("a")],
    versionReads: 0,
    lists: 0,
    changeVersion(): Promise<number> {
      store.versionReads++;
      const answer = store.version;
      return new Promise((resolve) => pending.push(() => resolve(answer)));
    },
    async list() {
      store.lists++;
      return { value: [...store.sinks], index: store.version };
    },
    sink,
  };
  const release = async () => {
    while (pending.length > 0) pending.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { store, release };
}

async function settled<T>(promise: Promise<T>, release: () => Promise<void>): Promise<T> {
  for (let i = 0; i < 5; i++) await release();
  return promise;
}

describe("SinkCache", () => {
  it("serves concurrent callers from one version read, and reads again for a later caller", async () => {
    const { store, release } = gatedStore();
    const cache = new SinkCache(store, { ttlMs: 60_000, checkEveryMs: 0 });
    expect((await settled(cache.sinksById(), release)).has("a")).toBe(true);
    const readsAfterLoad = store.versionReads;

    const concurrent = [cache.enabledSinks(), cache.sinksById(), cache.enabledSinks()] as const;
    await release();
    const [first, byId, third] = await Promise.all(concurrent);
    expect(store.versionReads - readsAfterLoad).toBe(1);
    expect(first.map((s) => s.sink.ID)).toEqual(["a"]);
    expect([...byId.keys()]).toEqual(["a"]);
    expect(third.map((s) => s.sink.ID)).toEqual(["a"]);

    // A change lands: the next caller's own read sees it and reloads once.
    store.sinks.push(store.sink("b"));
    store.version = 2;
    const listsBefore = store.lists;
    const after = await settled(cache.enabledSinks(), release);
    expect(store.versionReads - readsAfterLoad).toBe(2);
    expect(after.map((s) => s.sink.ID)).toEqual(["a", "b"]);
    expect(store.lists - listsBefore).toBe(1);
  });

  it("lets a failed version read fail its callers only, and reads again on the next call", async () => {
    let fail = true;
    let reads = 0;
    const sink = { ID: "a", Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook", LatestIndex: 0, CreateIndex: 1, ModifyIndex: 1, Secret: "whsec_x", PreviousSecrets: [] } as Sink;
    const store = {
      changeVersion: async () => {
        reads++;
        if (reads > 1 && fail) throw new Error("DynamoDB unavailable");
        return 1;
      },
      list: async () => ({ value: [sink], index: 1 }),
    };
    const cache = new SinkCache(store, { ttlMs: 60_000, checkEveryMs: 0 });
    await cache.sinksById();
    await expect(Promise.all([cache.sinksById(), cache.enabledSinks()])).rejects.toThrow("DynamoDB unavailable");
    expect(reads).toBe(2);
    fail = false;
    expect((await cache.sinksById()).get("a")).toBe(sink);
    expect(reads).toBe(3);
  });

  it("reads the version at most once per check interval, sees a change at the first call after it, and reads again after a failed read", async () => {
    let clock = 1_000_000;
    let version = 1;
    let reads = 0;
    let lists = 0;
    let failing = false;
    const sink = (id: string) => ({ ID: id, Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook", LatestIndex: 0, CreateIndex: 1, ModifyIndex: 1, Secret: "whsec_x", PreviousSecrets: [] }) as Sink;
    let sinks = [sink("a")];
    const store = {
      changeVersion: async () => {
        reads++;
        if (failing) throw new Error("DynamoDB unavailable");
        return version;
      },
      list: async () => (lists++, { value: sinks, index: version }),
    };
    const cache = new SinkCache(store, { ttlMs: 60_000, checkEveryMs: 1_000, now: () => clock });
    expect([...(await cache.sinksById()).keys()]).toEqual(["a"]);
    expect([reads, lists]).toEqual([1, 1]);

    // A change lands; within the interval nothing is read and the loaded sinks serve.
    sinks = [sink("a"), sink("b")];
    version = 2;
    clock += 999;
    expect([...(await cache.sinksById()).keys()]).toEqual(["a"]);
    expect([reads, lists]).toEqual([1, 1]);
    // The first call after it reads the version, sees the move, and reloads.
    clock += 1;
    expect([...(await cache.sinksById()).keys()]).toEqual(["a", "b"]);
    expect([reads, lists]).toEqual([2, 2]);
    // An unchanged version confirms the sinks for another interval.
    clock += 1_000;
    await cache.enabledSinks();
    clock += 500;
    await cache.enabledSinks();
    expect([reads, lists]).toEqual([3, 2]);
    // A failed read fails its caller and confirms nothing: the next call reads again.
    clock += 500;
    failing = true;
    await expect(cache.sinksById()).rejects.toThrow("DynamoDB unavailable");
    failing = false;
    await cache.sinksById();
    expect([reads, lists]).toEqual([5, 2]);
  });
  it("after invalidate(), answers the next call from a read and a load of its own, not from ones that began before it", async () => {
    const { store, release } = gatedStore();
    let clock = 1_000_000;
    const cache = new SinkCache(store, { ttlMs: 60_000, checkEveryMs: 1_000, now: () => clock });
    expect([...(await settled(cache.sinksById(), release)).keys()]).toEqual(["a"]);
    clock += 1_000;

    // A check starts (its read answers the old version), then a write lands and invalidates.
    const before = cache.sinksById();
    store.sinks.push(store.sink("b"));
    store.version = 2;
    cache.invalidate();
    const after = cache.sinksById();
    // The check that began before the write answers its caller with what it knew ...
    expect([...(await settled(before, release)).keys()]).toEqual(["a"]);
    // ... and neither confirms the old copy nor serves the caller that came after the write.
    expect([...(await settled(after, release)).keys()]).toEqual(["a", "b"]);
    clock += 10;
    expect([...(await settled(cache.sinksById(), release)).keys()]).toEqual(["a", "b"]);

    // The same for a reload under way when the write lands: its older data does not replace the newer.
    store.version = 3;
    clock += 1_000;
    const reloading = cache.sinksById();
    await release(); // the version read answers 3: a reload starts
    store.sinks.push(store.sink("c"));
    store.version = 4;
    cache.invalidate();
    const fresh = cache.sinksById();
    await settled(reloading, release);
    expect([...(await settled(fresh, release)).keys()]).toEqual(["a", "b", "c"]);
    clock += 10;
    expect([...(await settled(cache.sinksById(), release)).keys()]).toEqual(["a", "b", "c"]);
  });
});
