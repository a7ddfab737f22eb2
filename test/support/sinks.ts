import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { sqsClient } from "../../shared/aws/sqs-client";
import { createLogger } from "../../shared/observability/logger";
import { staticTokenSource } from "../../shared/api/auth";
import { createSinksApi } from "../../shared/api/sinks-api";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { DynamoTokenStore } from "../../shared/tokens/dynamo-token-store";
import { DynamoReplayStore } from "../../shared/replay/dynamo-replay-store";
import type { Replayer } from "../../shared/replay/replayer";
import { DynamoDeliveryLog, ensureDeliveriesTable } from "../../shared/delivery/delivery-log";
import { SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import { AddressGuard } from "../../shared/delivery/ssrf-guard";
import { newDeliveryQueues } from "./delivery";
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

/**
 * Test DNS: `localhost` is loopback and every other name resolves to a public address
 * (93.184.216.34) unless listed; no query leaves the machine.
 */
export function fakeResolver(names: Record<string, string[]> = {}): (hostname: string) => Promise<string[]> {
  const known: Record<string, string[]> = { localhost: ["127.0.0.1", "::1"], ...names };
  return async (hostname) => known[hostname] ?? ["93.184.216.34"];
}

/** The real sinks API over fresh DynamoDB Local tables and fauxqs queues; DNS is `fakeResolver(options.dns)`. */
export async function newSinksApi(options: { now?: () => number; dns?: Record<string, string[]>; allowedCidrs?: string[]; replayer?: Replayer } = {}) {
  const { store, tableName, client } = await newDynamoSinkStore();
  const deliveriesTable = uniqueName("deliveries");
  await ensureDeliveriesTable(client, deliveriesTable);
  const deliveries = new DynamoDeliveryLog({ tableName: deliveriesTable, client });
  const sqs = sqsClient();
  const queues = await newDeliveryQueues(sqs);
  const queue = new SqsDeliveryQueue({ queueUrl: queues.queueUrl, deadLetterQueueUrl: queues.dlqUrl, client: sqs });
  const logger = createLogger("test");
  logger.setLogLevel("SILENT");
  const tokens = new DynamoTokenStore({ tableName, client });
  const api = createSinksApi({
    store,
    tokens: staticTokenSource(TEST_TOKEN),
    acl: tokens,
    replays: new DynamoReplayStore({ tableName, client }),
    ...(options.replayer ? { replayer: options.replayer } : {}),
    logger,
    addressGuard: new AddressGuard({ resolve: fakeResolver(options.dns), allowedCidrs: options.allowedCidrs ?? [] }),
    deliveries,
    redrive: (sinkId) => queue.redrive(sinkId),
    ...(options.now ? { now: options.now } : {}),
  });
  return { api, store, tokens, tableName, client, deliveries, queue, queues, sqs };
}
