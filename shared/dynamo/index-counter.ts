import { GetItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** The item that holds a table's write counter (Nomad's raft index, in one item). */
export const COUNTER_KEY: Record<string, AttributeValue> = { pk: { S: "COUNTER" }, sk: { S: "INDEX" } };

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
  async next(): Promise<number> {
    const result = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: COUNTER_KEY,
        UpdateExpression: "ADD #value :one",
        ExpressionAttributeNames: { "#value": "Value" },
        ExpressionAttributeValues: { ":one": { N: "1" } },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(result.Attributes?.Value?.N);
  }
}
