import { DynamoDBClient, ScanCommand, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoCheckpointStore } from "../../shared/streamer/checkpoint-store";
import { LeaseLostError, type DynamoLease } from "../../shared/streamer/lease";
import { ensureStreamerTable } from "../../shared/streamer/streamer-table";
import { uniqueName } from "../support/names";
import { describeCheckpointStoreContract } from "./checkpoint-store-contract";
import { leaseFactory, ManualClock, newStreamerTable, T0 } from "./streamer-fixtures";

const DURATION = 1_000;

let table: { tableName: string; client: DynamoDBClient };
beforeAll(async () => {
  table = await newStreamerTable();
});

function storeFor(lease: DynamoLease): DynamoCheckpointStore {
  return new DynamoCheckpointStore({ tableName: table.tableName, client: table.client, cluster: lease.cluster, lease });
}

describeCheckpointStoreContract("DynamoCheckpointStore on DynamoDB Local", async () => {
  const lease = leaseFactory(table)("holder");
  if (!(await lease.tryAcquire())) throw new Error("a fresh lease could not be acquired");
  return storeFor(lease);
});

/** A cluster where "a" holds the lease (acquired at T0 by its own clock) and has saved index 10. */
async function heldBy() {
  const make = leaseFactory(table);
  const clockA = new ManualClock();
  const a = make("a", { now: clockA.now });
  expect(await a.tryAcquire()).toBe(true);
  const store = storeFor(a);
  await store.save({ index: 10, updatedAt: T0, namespaces: ["default"] });
  return { make, a, clockA, store };
}

describe("DynamoCheckpointStore fencing", () => {
  type Setup = Awaited<ReturnType<typeof heldBy>>;
  it.each<{ name: string; lose: (setup: Setup) => Promise<unknown>; index?: number }>([
    {
      // a's clock still says its term is live (a stalled process, or skew); only the fence stops it.
      name: "another holder took the lease over",
      lose: ({ make }) => make("b", { now: new ManualClock(T0 + DURATION + 1).now }).tryAcquire(),
    },
    {
      name: "another holder took the lease over, and the save is of a lower index too",
      lose: ({ make }) => make("b", { now: new ManualClock(T0 + DURATION + 1).now }).tryAcquire(),
      index: 5,
    },
    {
      // Same holder ID in two lease objects (a misconfiguration): the token still tells the terms apart.
      name: "a lease with the same holder ID re-acquired it under a newer token",
      lose: ({ make }) => make("a", { now: new ManualClock(T0 + DURATION + 1).now }).tryAcquire(),
    },
    { name: "the lease expired by the holder's clock (nobody took it)", lose: async ({ clockA }) => clockA.advance(DURATION) },
    { name: "the holder released the lease", lose: ({ a }) => a.release() },
    {
      name: "a renewal found the lease taken",
      lose: async ({ make, a }) => {
        await make("b", { now: new ManualClock(T0 + DURATION + 1).now }).tryAcquire();
        expect(await a.renew()).toBe(false);
      },
    },
  ])("a save throws LeaseLostError and leaves the checkpoint alone once $name", async ({ lose, index = 20 }) => {
    const setup = await heldBy();
    const before = await setup.store.load();
    expect(before).toEqual({ index: 10, updatedAt: T0, namespaces: ["default"] });
    await lose(setup);
    await expect(setup.store.save({ index, updatedAt: T0 + 1 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await setup.store.load()).toEqual(before);
  });

  it("a save 1 ms before expiry by the holder's clock goes through", async () => {
    const { clockA, store } = await heldBy();
    clockA.advance(DURATION - 1);
    await store.save({ index: 11, updatedAt: T0 + 1 });
    expect(await store.load()).toEqual({ index: 11, updatedAt: T0 + 1 });
  });

  it("the new holder carries on from the old holder's checkpoint, and only forward", async () => {
    const { make } = await heldBy();
    const b = make("b", { now: new ManualClock(T0 + DURATION + 1).now });
    expect(await b.tryAcquire()).toBe(true);
    const store = storeFor(b);
    expect(await store.load()).toEqual({ index: 10, updatedAt: T0, namespaces: ["default"] });
    await store.save({ index: 9, updatedAt: T0 + 2 });
    expect((await store.load())?.index).toBe(10);
    await store.save({ index: 12, updatedAt: T0 + 2 });
    expect(await store.load()).toEqual({ index: 12, updatedAt: T0 + 2 });
  });

  it("a save by a lease that was never acquired throws LeaseLostError and creates nothing", async () => {
    const store = storeFor(leaseFactory(table)("never"));
    await expect(store.save({ index: 1, updatedAt: T0 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await store.load()).toBeUndefined();
  });

  // DynamoDB Local runs these one at a time (no TransactionConflict seen); real DynamoDB may cancel some, which the next test covers.
  it("concurrent saves and renewals: the highest index wins and the lease stays held", async () => {
    const clock = new ManualClock();
    const a = leaseFactory(table)("a", { now: clock.now });
    await a.tryAcquire();
    const store = storeFor(a);
    const indexes = Array.from({ length: 20 }, (_, i) => ((i * 7) % 20) + 1);
    await Promise.all([...indexes.map((index) => store.save({ index, updatedAt: T0 + index })), ...indexes.map(() => a.renew())]);
    expect(await store.load()).toEqual({ index: 20, updatedAt: T0 + 20 });
    expect(a.held).toBe(true);
  });

  it.each([
    { conflicts: 2, maxAttempts: 3, saved: true },
    { conflicts: 3, maxAttempts: 3, saved: false },
  ])("a save cancelled by $conflicts transaction conflicts, with maxAttempts $maxAttempts, is saved: $saved", async ({ conflicts, maxAttempts, saved }) => {
    const lease = leaseFactory(table)("a", { now: new ManualClock().now });
    await lease.tryAcquire();
    // A client of its own, so the injected failures reach only this store.
    const client = new DynamoDBClient({});
    let cancelled = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" && cancelled < conflicts) {
          cancelled++;
          throw new TransactionCanceledException({
            message: "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]",
            $metadata: {},
            CancellationReasons: [{ Code: "None" }, { Code: "TransactionConflict" }],
          });
        }
        return next(args);
      },
      { step: "initialize" },
    );
    const store = new DynamoCheckpointStore({ tableName: table.tableName, client, cluster: lease.cluster, lease, maxAttempts });
    const saving = store.save({ index: 4, updatedAt: T0 });
    if (saved) await saving;
    else await expect(saving).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(cancelled).toBe(Math.min(conflicts, maxAttempts));
    expect(await store.load()).toEqual(saved ? { index: 4, updatedAt: T0 } : undefined);
    client.destroy();
  });

  it("refuses a lease of another cluster", () => {
    const lease = leaseFactory(table, "cluster-a")("a");
    expect(() => new DynamoCheckpointStore({ tableName: table.tableName, client: table.client, cluster: "cluster-b", lease })).toThrow(RangeError);
  });
});

describe("streamer table", () => {
  it("keeps a cluster's lease and checkpoint as two items of one partition (the layout in streamer-table.ts)", async () => {
    const cluster = uniqueName("prod-eu");
    const lease = leaseFactory(table, cluster)("a", { now: new ManualClock().now });
    await lease.tryAcquire();
    await storeFor(lease).save({ index: 3, updatedAt: T0, namespaces: ["default"] });
    const { Items = [] } = await table.client.send(
      new ScanCommand({ TableName: table.tableName, ConsistentRead: true, FilterExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: `STREAMER#${cluster}` } } }),
    );
    const pk = { S: `STREAMER#${cluster}` };
    expect(Object.fromEntries(Items.map((item) => [item.sk?.S, item]))).toEqual({
      LEASE: { pk, sk: { S: "LEASE" }, Holder: { S: "a" }, ExpiresAt: { N: String(T0 + DURATION) }, FencingToken: { N: "1" } },
      CHECKPOINT: { pk, sk: { S: "CHECKPOINT" }, Index: { N: "3" }, UpdatedAt: { N: String(T0) }, Namespaces: { L: [{ S: "default" }] }, Holder: { S: "a" }, FencingToken: { N: "1" } },
    });
  });

  it("ensureStreamerTable on an existing table changes nothing", async () => {
    const lease = leaseFactory(table)("a", { now: new ManualClock().now });
    await lease.tryAcquire();
    await ensureStreamerTable(table.client, table.tableName);
    expect(await lease.describe()).toEqual({ holder: "a", expiresAt: T0 + DURATION, fencingToken: 1 });
  });
});
