import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createLogger } from "../../shared/observability/logger";
import { staticTokenSource } from "../../shared/api/auth";
import { createSinksApi } from "../../shared/api/sinks-api";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { uniqueName } from "./names";

/** A fresh sinks table in DynamoDB Local (started by the global setup), unique to the caller. */
export async function newSinksTable(): Promise<{ tableName: string; client: DynamoDBClient }> {
  const client = new DynamoDBClient({});
  const tableName = uniqueName("sinks");
  await ensureSinksTable(client, tableName);
  return { tableName, client };
}

export async function newDynamoSinkStore(): Promise<{ store: DynamoSinkStore; tableName: string; client: DynamoDBClient }> {
  const { tableName, client } = await newSinksTable();
  return { store: new DynamoSinkStore({ tableName, client }), tableName, client };
}

export const TEST_TOKEN = "test-management-token";

/** The real sinks API over a fresh DynamoDB Local table. */
export async function newSinksApi(options: { now?: () => number } = {}) {
  const { store, tableName, client } = await newDynamoSinkStore();
  const logger = createLogger("test");
  logger.setLogLevel("SILENT");
  const api = createSinksApi({ store, tokens: staticTokenSource(TEST_TOKEN), logger, ...(options.now ? { now: options.now } : {}) });
  return { api, store, tableName, client };
}
