import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../shared/errors";
import { generateSecret, PREVIOUS_SECRET_GRACE_MS } from "../../shared/sinks/secret";
import type { SinkRegistration } from "../../shared/sinks/sink";
import type { SinkStore } from "../../shared/sinks/sink-store";

export const registration = (id: string, over: Partial<SinkRegistration> = {}): SinkRegistration => ({
  ID: id,
  Type: "webhook",
  Topics: { Job: ["*"] },
  Address: `https://hooks.example.com/${id}`,
  ...over,
});

/**
 * The behaviour every SinkStore must have. Run once per implementation; `make` returns a
 * new, empty store each call.
 */
export function describeSinkStoreContract(name: string, make: () => Promise<SinkStore>): void {
  describe(`${name} (SinkStore contract)`, () => {
    it("creates a sink with CreateIndex = ModifyIndex = the write's index, LatestIndex 0 and a generated secret", async () => {
      const store = await make();
      const { value: sink, index } = await store.put(registration("a"));
      expect(index).toBeGreaterThan(0);
      expect(sink).toMatchObject({ ID: "a", Type: "webhook", Topics: { Job: ["*"] }, Address: "https://hooks.example.com/a", LatestIndex: 0, CreateIndex: index, ModifyIndex: index, PreviousSecrets: [] });
      expect(sink.Secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect((await store.get("a")).value).toEqual(sink);
    });

    it("reads a missing sink as undefined and lists an empty store as []", async () => {
      const store = await make();
      expect((await store.get("nope")).value).toBeUndefined();
      expect((await store.list()).value).toEqual([]);
    });

    it("lists every sink sorted by ID, with the store's index", async () => {
      const store = await make();
      let last = 0;
      for (const id of ["m", "b", "z", "a", "B", "a-1"]) last = (await store.put(registration(id))).index;
      const listed = await store.list();
      expect(listed.value.map((s) => s.ID)).toEqual(["B", "a", "a-1", "b", "m", "z"]);
      expect(listed.index).toBe(last);
    });

    it("re-registration keeps CreateIndex, LatestIndex and the secret, and moves ModifyIndex forward", async () => {
      const store = await make();
      const first = (await store.put(registration("a"))).value;
      await store.advanceLatestIndex("a", 40);
      const { value: second, index } = await store.put(registration("a", { Address: "https://other.example.com/", Topics: { Node: ["n1"] } }));
      expect(second).toMatchObject({ CreateIndex: first.CreateIndex, ModifyIndex: index, LatestIndex: 40, Secret: first.Secret, Address: "https://other.example.com/", Topics: { Node: ["n1"] } });
      expect(index).toBeGreaterThan(first.ModifyIndex);
    });

    it("a new Secret in a registration replaces the current one, which keeps signing for the grace period", async () => {
      const store = await make();
      const now = 1_700_000_000_000;
      const first = (await store.put(registration("a"), now)).value;
      const secret = generateSecret();
      const { value } = await store.put(registration("a", { Secret: secret }), now);
      expect(value.Secret).toBe(secret);
      expect(value.PreviousSecrets).toEqual([{ Secret: first.Secret, ExpiresAt: now + PREVIOUS_SECRET_GRACE_MS }]);
      // Registering the same secret again changes nothing about the secrets.
      expect((await store.put(registration("a", { Secret: secret }), now + 1)).value.PreviousSecrets).toEqual(value.PreviousSecrets);
    });

    it("rotates a secret, keeps the old one until it expires, and drops expired ones on the next write", async () => {
      const store = await make();
      const now = 1_700_000_000_000;
      const first = (await store.put(registration("a"), now)).value;
      const rotated = await store.rotateSecret("a", now);
      expect(rotated.value.Secret).not.toBe(first.Secret);
      expect(rotated.value.Secret).toMatch(/^whsec_/);
      expect(rotated.value.PreviousSecrets).toEqual([{ Secret: first.Secret, ExpiresAt: now + PREVIOUS_SECRET_GRACE_MS }]);
      expect(rotated.index).toBeGreaterThan(first.ModifyIndex);
      const later = await store.rotateSecret("a", now + PREVIOUS_SECRET_GRACE_MS + 1);
      expect(later.value.PreviousSecrets.map((p) => p.Secret)).toEqual([rotated.value.Secret]);
    });

    it("rotating a missing sink's secret is a NotFoundError and creates nothing", async () => {
      const store = await make();
      await expect(store.rotateSecret("ghost")).rejects.toBeInstanceOf(NotFoundError);
      expect((await store.get("ghost")).value).toBeUndefined();
    });

    it("LatestIndex only moves forward", async () => {
      const store = await make();
      await store.put(registration("a"));
      expect(await store.advanceLatestIndex("a", 10)).toBe(true);
      expect(await store.advanceLatestIndex("a", 10)).toBe(false);
      expect(await store.advanceLatestIndex("a", 3)).toBe(false);
      expect(await store.advanceLatestIndex("a", 11)).toBe(true);
      expect((await store.get("a")).value?.LatestIndex).toBe(11);
      expect(await store.advanceLatestIndex("ghost", 5)).toBe(false);
      expect((await store.get("ghost")).value).toBeUndefined();
    });

    it("LatestIndex moves for the registration named, never for a later one under the same ID", async () => {
      const store = await make();
      const first = (await store.put(registration("a"))).value;
      expect(await store.advanceLatestIndex("a", 5, first.CreateIndex)).toBe(true);
      await store.delete("a");
      const second = (await store.put(registration("a"))).value;
      expect(second.CreateIndex).not.toBe(first.CreateIndex);
      // An advance of deliveries made to the deleted sink does not land on its successor.
      expect(await store.advanceLatestIndex("a", 9, first.CreateIndex)).toBe(false);
      expect((await store.get("a")).value?.LatestIndex).toBe(0);
      expect(await store.advanceLatestIndex("a", 2, second.CreateIndex)).toBe(true);
      expect((await store.get("a")).value?.LatestIndex).toBe(2);
    });

    it("disables the registration named only, never a later one under the same ID", async () => {
      const store = await make();
      const first = (await store.put(registration("a"))).value;
      await store.delete("a");
      const second = (await store.put(registration("a"))).value;
      expect(await store.disable("a", "410 Gone", 1_000, first.CreateIndex)).toBe(false);
      expect((await store.get("a")).value?.Disabled).toBeUndefined();
      expect(await store.disable("a", "410 Gone", 1_000, second.CreateIndex)).toBe(true);
      expect((await store.get("a")).value?.Disabled?.Reason).toBe("410 Gone");
    });

    it("deletes, succeeds on a missing sink, and starts a re-created sink afresh", async () => {
      const store = await make();
      const created = (await store.put(registration("a"))).value;
      await store.advanceLatestIndex("a", 9);
      const removed = await store.delete("a");
      expect(removed.index).toBeGreaterThan(created.ModifyIndex);
      expect((await store.get("a")).value).toBeUndefined();
      expect((await store.delete("a")).index).toBeGreaterThan(removed.index);
      const again = (await store.put(registration("a"))).value;
      expect(again.LatestIndex).toBe(0);
      expect(again.CreateIndex).toBeGreaterThan(removed.index);
    });

    it("hands out strictly increasing indexes across every kind of write", async () => {
      const store = await make();
      const indexes = [
        (await store.put(registration("a"))).index,
        (await store.put(registration("b"))).index,
        (await store.put(registration("a"))).index,
        (await store.rotateSecret("b")).index,
        (await store.delete("a")).index,
      ];
      expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
      expect(new Set(indexes).size).toBe(indexes.length);
    });

    it("concurrent updates of one sink are all applied in index order: none lost, no index backwards", async () => {
      const store = await make();
      await store.put(registration("hot"));
      const writers = 12;
      const advances = 30;
      const results = await Promise.all([
        ...Array.from({ length: writers }, (_, i) => store.put(registration("hot", { Address: `https://w${i}.example.com/` })).then((w) => ({ kind: "put" as const, i, w }))),
        ...Array.from({ length: advances }, (_, i) => store.advanceLatestIndex("hot", 1 + ((i * 7) % advances)).then(() => ({ kind: "advance" as const }))),
        store.rotateSecret("hot").then((w) => ({ kind: "rotate" as const, w })),
      ]);
      const writes = results.flatMap((r) => (r.kind === "put" ? [r] : []));
      const indexes = writes.map((r) => r.w.index);
      expect(new Set(indexes).size).toBe(writers);
      // Each write saw the state it produced: its own address, at its own index.
      for (const { i, w } of writes) expect(w.value).toMatchObject({ Address: `https://w${i}.example.com/`, ModifyIndex: w.index });
      const rotate = results.find((r) => r.kind === "rotate");
      const finalIndex = Math.max(...indexes, rotate?.kind === "rotate" ? rotate.w.index : 0);
      const final = (await store.get("hot")).value!;
      expect(final.ModifyIndex).toBe(finalIndex);
      const lastPut = writes.reduce((a, b) => (a.w.index > b.w.index ? a : b));
      // Rotation keeps the configuration, so the last put by index decides the address.
      expect(final.Address).toBe(lastPut.w.value.Address);
      // No advance was lost to a configuration write, and the rotation survived every put.
      expect(final.LatestIndex).toBe(advances);
      expect(final.Secret).toBe(rotate?.kind === "rotate" ? rotate.w.value.Secret : undefined);
    });
  });
}
