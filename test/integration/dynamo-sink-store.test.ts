import { describe, expect, it } from "vitest";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { describeSinkStoreContract, registration } from "../support/sink-store-contract";
import { newDynamoSinkStore, newSinksTable } from "../support/sinks";

describeSinkStoreContract("DynamoSinkStore on DynamoDB Local", async () => (await newDynamoSinkStore()).store);

describe("DynamoSinkStore specifics", () => {
  it("lists across many Scan pages", async () => {
    const { tableName, client } = await newSinksTable();
    const store = new DynamoSinkStore({ tableName, client, scanPageSize: 2 });
    const ids = Array.from({ length: 7 }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => store.put(registration(id))));
    expect((await store.list()).value.map((s) => s.ID)).toEqual(ids);
  });

  it("keeps sinks, the counter and the change version in separate items (the key design in sinks-table.ts)", async () => {
    const { tableName, client } = await newSinksTable();
    const store = new DynamoSinkStore({ tableName, client });
    await store.put(registration("a"));
    const { ScanCommand } = await import("@aws-sdk/client-dynamodb");
    const items = (await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items ?? [];
    expect(items.map((i) => `${i.pk?.S}|${i.sk?.S}`).sort()).toEqual(["COUNTER|INDEX", "COUNTER|VERSION", "SINK#a|SINK"]);
  });
});
