import { GetItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** The item that holds a table's write counter (Nomad's raft index, in one item). */
export const COUNTER_KEY: Record<string, AttributeValue> = { pk: { S: "COUNTER" }, sk: { S: "INDEX" } };
/** The item that moves after each configuration write has landed (see IndexCounter.landed). */
const VERSION_KEY: Record<string, AttributeValue> = { pk: { S: "COUNTER" }, sk: { S: "VERSION" } };

/**
 * One strictly increasing counter per table, shared by every kind of item in it (sinks,
 * tokens): each configuration write takes the next value as its index, so `X-Nomad-Index`
 * orders all writes, and a reader can tell that nothing changed by reading one item.
 */
export class IndexCounter {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** The last index handed out (0 before the first write). */
  async current(): Promise<number> {
    const result = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: COUNTER_KEY, ConsistentRead: true }));
    return Number(result.Item?.Value?.N ?? 0);
  }

  /** The next value: strictly increasing across every writer. */
  next(): Promise<number> {
    return this.add(COUNTER_KEY);
  }

  /**
   * Says a configuration write has landed. The index is taken before its write, so a reader
   * that saw a new index could still read the old item; this second value moves only after
   * the write, so a cache keyed on it (the fan-out's) never keeps what the write replaced.
   */
  async landed(): Promise<void> {
    await this.add(VERSION_KEY);
  }

  /** Moves after every landed configuration write (sinks and tokens; not delivery progress). */
  async version(): Promise<number> {
    const result = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: VERSION_KEY, ConsistentRead: true }));
    return Number(result.Item?.Value?.N ?? 0);
  }

  private async add(key: Record<string, AttributeValue>): Promise<number> {
    const result = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: "ADD #value :one",
        ExpressionAttributeNames: { "#value": "Value" },
        ExpressionAttributeValues: { ":one": { N: "1" } },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(result.Attributes?.Value?.N);
  }
}
