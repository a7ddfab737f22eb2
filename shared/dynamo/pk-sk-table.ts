import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ScanCommand,
  type AttributeValue,
  type AttributeDefinition,
  type DynamoDBClient,
  type KeySchemaElement,
} from "@aws-sdk/client-dynamodb";
import { sleep } from "../retry/backoff";

/**
 * Every table of the project has the same generic string keys (single-table design: each
 * entity's file owns what it puts in them).
 */
export const PK_SK_KEYS = { partitionKey: "pk", sortKey: "sk" } as const;

export const PK_SK_KEY_SCHEMA: KeySchemaElement[] = [
  { AttributeName: PK_SK_KEYS.partitionKey, KeyType: "HASH" },
  { AttributeName: PK_SK_KEYS.sortKey, KeyType: "RANGE" },
];

export const PK_SK_ATTRIBUTES: AttributeDefinition[] = [
  { AttributeName: PK_SK_KEYS.partitionKey, AttributeType: "S" },
  { AttributeName: PK_SK_KEYS.sortKey, AttributeType: "S" },
];

/** Creates a pk/sk table if it does not exist and waits until it is active (local runtime and tests; the CDK does this in AWS). */
export async function ensurePkSkTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand({ TableName: tableName, KeySchema: PK_SK_KEY_SCHEMA, AttributeDefinitions: PK_SK_ATTRIBUTES, BillingMode: "PAY_PER_REQUEST" }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    await sleep(100);
  }
}

/** Every item of one kind (sort key `sk`), read with a consistent Scan page after page (`pageSize` items read a page). */
export async function scanBySortKey<T>(client: DynamoDBClient, tableName: string, sk: string, from: (item: Record<string, AttributeValue>) => T, pageSize?: number): Promise<T[]> {
  return (await scanBySortKeys(client, tableName, [sk], pageSize)).get(sk)!.map(from);
}

/**
 * Every item of several kinds in one pass over the table (one consistent Scan, page after
 * page), by sort key: reading two kinds costs what reading one does.
 */
export async function scanBySortKeys(client: DynamoDBClient, tableName: string, sortKeys: readonly string[], pageSize?: number): Promise<Map<string, Array<Record<string, AttributeValue>>>> {
  const found = new Map(sortKeys.map((sk) => [sk, [] as Array<Record<string, AttributeValue>>]));
  const values = Object.fromEntries(sortKeys.map((sk, i) => [`:sk${i}`, { S: sk }]));
  const filter = sortKeys.length === 1 ? "sk = :sk0" : `sk IN (${Object.keys(values).join(", ")})`;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, FilterExpression: filter, ExpressionAttributeValues: values, ExclusiveStartKey: startKey, Limit: pageSize }));
    for (const item of page.Items ?? []) {
      const sk = item.sk?.S;
      if (sk !== undefined) found.get(sk)?.push(item);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return found;
}
