import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { LeanDynamoDBClient } from "../../shared/aws/lean-clients";
import { SinkCache } from "../../shared/delivery/sink-cache";
import { dynamoSinkDirectory } from "../../shared/delivery/sink-directory";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { DynamoTokenStore } from "../../shared/tokens/dynamo-token-store";
import { newTokenIds } from "../../shared/tokens/token";
import { uniqueName } from "../support/names";

/** The sink directory against DynamoDB Local: one Scan for sinks and tokens, the same values as the stores list. */

/** A client that counts the Scan requests it sends (pages included). */
class CountingClient extends LeanDynamoDBClient {
  scans = 0;
  constructor() {
    super({});
    const send = this.send.bind(this);
    this.send = ((command: unknown, ...rest: unknown[]) => {
      if (command instanceof ScanCommand) this.scans++;
      return (send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
    }) as typeof this.send;
  }
}

const client = new CountingClient();
afterAll(() => client.destroy());

async function table() {
  const tableName = uniqueName("directory");
  await ensureSinksTable(client, tableName);
  const store = new DynamoSinkStore({ tableName, client });
  const tokens = new DynamoTokenStore({ tableName, client });
  for (const id of ["c-sink", "a-sink", "b-sink"]) await store.put({ ID: id, Type: "webhook", Topics: { Job: ["*"] }, Address: `https://hooks.example.com/${id}`, ...(id === "b-sink" ? { Team: "web" } : {}) });
  await tokens.create({ Name: "web", Type: "team", Team: "web", Namespaces: ["web"], ClusterTopics: false }, newTokenIds(), Date.now());
  await tokens.create({ Name: "batch", Type: "team", Team: "batch", Namespaces: ["batch", "etl"], ClusterTopics: true }, newTokenIds(), Date.now());
  return { tableName, store, tokens };
}

describe("dynamoSinkDirectory", () => {
  it("reads the sinks (by ID) and the tokens in one Scan, as the two stores list them", async () => {
    const { tableName, store, tokens } = await table();
    const load = dynamoSinkDirectory(client, tableName, { tokens: true });
    const before = client.scans;
    const directory = await load();
    expect(client.scans - before).toBe(1);
    expect(directory.sinks).toEqual((await store.list()).value);
    expect(directory.sinks.map((s) => s.ID)).toEqual(["a-sink", "b-sink", "c-sink"]);
    const byName = (grants: readonly { Team?: string }[]) => [...grants].sort((a, b) => (a.Team! < b.Team! ? -1 : 1));
    expect(byName(directory.grants)).toEqual(byName((await tokens.list()).value));
    expect(directory.grants).toHaveLength(2);
  });

  it("pages through the table, and reads no tokens for the deliverer", async () => {
    const { tableName, store } = await table();
    const before = client.scans;
    const paged = await dynamoSinkDirectory(client, tableName, { tokens: true, pageSize: 1 })();
    // 3 sinks, 2 tokens and the index counter: a page per item, and the last, empty one.
    expect(client.scans - before).toBeGreaterThanOrEqual(6);
    expect(paged.sinks.map((s) => s.ID)).toEqual(["a-sink", "b-sink", "c-sink"]);
    expect(paged.grants).toHaveLength(2);
    const sinksOnly = await dynamoSinkDirectory(client, tableName, { tokens: false })();
    expect(sinksOnly.sinks).toEqual((await store.list()).value);
    expect(sinksOnly.grants).toEqual([]);
  });

  it("serves SinkCache: a team sink gets its token's scope, and one Scan per reload", async () => {
    const { tableName, store } = await table();
    const cache = new SinkCache(store, { load: dynamoSinkDirectory(client, tableName, { tokens: true }), ttlMs: 0 });
    const before = client.scans;
    const routed = await cache.enabledSinks();
    expect(client.scans - before).toBe(1);
    expect([...routed.find((r) => r.sink.ID === "b-sink")!.scope!.namespaces]).toEqual(["web"]);
    expect(routed.find((r) => r.sink.ID === "a-sink")!.scope).toBeUndefined();
  });
});
