import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { SinkCache } from "../../shared/delivery/sink-cache";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { DynamoTokenStore } from "../../shared/tokens/dynamo-token-store";
import { newTokenIds } from "../../shared/tokens/token";
import { uniqueName } from "../support/names";

/**
 * The in-process change signal (SinkStore.onChange, IndexCounter's onLanded): what lets the
 * local runtime's fan-out check once a second and still apply a change from the next event,
 * against DynamoDB Local.
 */
const client = new DynamoDBClient({});
afterAll(() => client.destroy());

describe("SinkStore.onChange", () => {
  it("tells of every landed sink or token write to the table, by any store of it in this process, and of nothing else", async () => {
    const tableName = uniqueName("change-signal");
    await ensureSinksTable(client, tableName);
    const sinks = new DynamoSinkStore({ tableName, client });
    const tokens = new DynamoTokenStore({ tableName, client });
    const otherTable = uniqueName("change-signal-other");
    await ensureSinksTable(client, otherTable);
    const other = new DynamoSinkStore({ tableName: otherTable, client });
    let told = 0;
    const stop = sinks.onChange(() => told++);

    const { value: sink } = await sinks.put({ ID: "a", Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook" });
    expect(told).toBe(1);
    // Reads, and writes that land nothing or land elsewhere, say nothing.
    await sinks.get("a");
    await sinks.list();
    expect(await sinks.disable("missing", "410", Date.now())).toBe(false);
    await other.put({ ID: "b", Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook" });
    expect(told).toBe(1);

    // A token write through another store of the table, a disable, a rotation, a deletion: each once.
    await tokens.create({ Name: "web", Type: "team", Team: "web", Namespaces: ["web"], ClusterTopics: false }, newTokenIds(), Date.now());
    expect(await sinks.disable("a", "410", Date.now(), sink.CreateIndex)).toBe(true);
    await sinks.rotateSecret("a");
    await sinks.delete("a");
    expect(told).toBe(5);

    stop();
    await sinks.put({ ID: "c", Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook" });
    expect(told).toBe(5);
  });

  it("makes a SinkCache read the version at its next call, however long its check interval", async () => {
    const tableName = uniqueName("change-signal");
    await ensureSinksTable(client, tableName);
    const sinks = new DynamoSinkStore({ tableName, client });
    const cache = new SinkCache(sinks, { ttlMs: 600_000, checkEveryMs: 600_000 });
    await sinks.put({ ID: "a", Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook" });
    expect([...(await cache.sinksById()).keys()]).toEqual(["a"]);
    await sinks.put({ ID: "b", Type: "webhook", Topics: { "*": ["*"] }, Address: "https://example.com/hook" });
    expect([...(await cache.sinksById()).keys()].sort()).toEqual(["a", "b"]);
    // A second store of the same table (the API's, where the cache is the fan-out's) is heard too.
    await new DynamoSinkStore({ tableName, client }).delete("a");
    expect([...(await cache.sinksById()).keys()]).toEqual(["b"]);
  });
});
