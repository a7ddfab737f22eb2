import { describe, expect, it } from "vitest";
import { MAX_CHECKPOINT_PUBLISHED_IDS, type Checkpoint, type CheckpointStore } from "../../shared/streamer/checkpoint-store";

/**
 * The behaviour every CheckpointStore must have, for a writer that holds the lease. Run
 * once per implementation; `make` returns a new, empty store each call.
 */
export function describeCheckpointStoreContract(name: string, make: () => Promise<CheckpointStore>): void {
  describe(`${name} (CheckpointStore contract)`, () => {
    it("loads an empty store as undefined", async () => {
      const store = await make();
      expect(await store.load()).toBeUndefined();
    });

    it.each<{ name: string; saved: Checkpoint; loaded: Checkpoint }>([
      { name: "without namespaces", saved: { index: 42, updatedAt: 1_700_000_000_123 }, loaded: { index: 42, updatedAt: 1_700_000_000_123 } },
      { name: "with namespaces", saved: { index: 7, updatedAt: 5, namespaces: ["default", "prod"] }, loaded: { index: 7, updatedAt: 5, namespaces: ["default", "prod"] } },
      { name: "with no namespaces", saved: { index: 7, updatedAt: 5, namespaces: [] }, loaded: { index: 7, updatedAt: 5, namespaces: [] } },
      { name: "with namespaces unsorted and repeated", saved: { index: 1, updatedAt: 2, namespaces: ["b", "a", "b", "*"] }, loaded: { index: 1, updatedAt: 2, namespaces: ["*", "a", "b"] } },
      { name: "at index 0", saved: { index: 0, updatedAt: 9 }, loaded: { index: 0, updatedAt: 9 } },
      { name: "at the largest safe index", saved: { index: Number.MAX_SAFE_INTEGER, updatedAt: 9 }, loaded: { index: Number.MAX_SAFE_INTEGER, updatedAt: 9 } },
    ])("round-trips a checkpoint $name", async ({ saved, loaded }) => {
      const store = await make();
      await store.save(saved);
      expect(await store.load()).toEqual(loaded);
    });

    // Each save's updatedAt is its position, so the result shows which save is stored.
    it.each<{ name: string; indexes: number[]; stored: Checkpoint }>([
      { name: "a lower index is ignored", indexes: [10, 5], stored: { index: 10, updatedAt: 1 } },
      { name: "an equal index is written again", indexes: [10, 10], stored: { index: 10, updatedAt: 2 } },
      { name: "a higher index moves it forward", indexes: [5, 10], stored: { index: 10, updatedAt: 2 } },
      { name: "only the highest of many counts", indexes: [3, 9, 4, 9, 1, 8], stored: { index: 9, updatedAt: 4 } },
    ])("moves forward only: $name", async ({ indexes, stored }) => {
      const store = await make();
      for (const [position, index] of indexes.entries()) await store.save({ index, updatedAt: position + 1 });
      expect(await store.load()).toEqual(stored);
    });

    it("a later save replaces the namespaces, and dropping them removes them", async () => {
      const store = await make();
      await store.save({ index: 1, updatedAt: 1, namespaces: ["a", "b"] });
      await store.save({ index: 2, updatedAt: 2, namespaces: ["c"] });
      expect(await store.load()).toEqual({ index: 2, updatedAt: 2, namespaces: ["c"] });
      await store.save({ index: 3, updatedAt: 3 });
      expect(await store.load()).toEqual({ index: 3, updatedAt: 3 });
    });

    it("keeps the IDs published above the checkpoint, drops those at or below it, and removes them when a save has none", async () => {
      const store = await make();
      await store.save({ index: 5, updatedAt: 1, published: [{ index: 5, ids: ["5-a"] }, { index: 7, ids: ["7-b", "7-a", "7-b"] }, { index: 6, ids: ["6-a"] }, { index: 8, ids: [] }] });
      const loaded = await store.load();
      expect(loaded?.published?.map((entry) => ({ index: entry.index, ids: [...entry.ids].sort() }))).toEqual([
        { index: 6, ids: ["6-a"] },
        { index: 7, ids: ["7-a", "7-b"] },
      ]);
      await store.save({ index: 7, updatedAt: 2 });
      expect(await store.load()).toEqual({ index: 7, updatedAt: 2 });
    });

    it(`keeps no published IDs when there are more than ${MAX_CHECKPOINT_PUBLISHED_IDS} (the resume then re-sends them, with the same IDs)`, async () => {
      const store = await make();
      const ids = Array.from({ length: MAX_CHECKPOINT_PUBLISHED_IDS + 1 }, (_, i) => `9-${i}`);
      await store.save({ index: 8, updatedAt: 1, published: [{ index: 9, ids }] });
      expect(await store.load()).toEqual({ index: 8, updatedAt: 1 });
    });

    it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])("rejects index %s and stores nothing", async (index) => {
      const store = await make();
      await expect(store.save({ index, updatedAt: 1 })).rejects.toBeInstanceOf(RangeError);
      expect(await store.load()).toBeUndefined();
    });
  });
}
