import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SINKS_TABLE_ATTRIBUTES, SINKS_TABLE_KEY_SCHEMA } from "./sinks-table";

/** Creates the sinks table if it does not exist (local runtime and tests; the CDK does this in AWS). */
export async function ensureSinksTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: SINKS_TABLE_KEY_SCHEMA,
        AttributeDefinitions: SINKS_TABLE_ATTRIBUTES,
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
