import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { ensureFifoQueueWithDlq } from "../../infra/local/sqs/queues";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { ensureDeliveriesTable } from "../../shared/delivery/delivery-log";
import { createLogger } from "../../shared/observability/logger";
import { CountingMetrics } from "../../shared/observability/metrics";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { startSqsEventSource, type SqsEventSource } from "../../infra/local/sqs/event-source";
import { deliverFromEnv } from "../../functions/deliver/app";
import { sqsClient } from "../../shared/aws/sqs-client";
import { uniqueName } from "./names";

/** The local SQS this worker's clients point at (set from the global setup). */
function sqsEndpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL_SQS;
  if (endpoint === undefined) throw new Error("AWS_ENDPOINT_URL_SQS is not set: tests get it from vitest's global setup");
  return endpoint;
}


/** A FIFO delivery queue and its FIFO dead-letter queue (redrive after `maxReceiveCount`, as configured in AWS). */
export async function newDeliveryQueues(sqs: SQSClient, options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}) {
  return ensureFifoQueueWithDlq(sqs, uniqueName("delivery"), { visibilityTimeoutSeconds: 30, ...options });
}

/**
 * Takes every message out of a queue (received and deleted, in order; a FIFO queue hands
 * out a group's next message only once the previous one is gone).
 */
export async function drainQueue(sqs: SQSClient, queueUrl: string) {
  const seen: Array<{ body: string; groupId: string | undefined; attributes: Record<string, string | undefined> }> = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }));
    if (Messages.length === 0) return seen;
    for (const m of Messages) {
      seen.push({ body: m.Body ?? "", groupId: m.Attributes?.MessageGroupId, attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])) });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/**
 * The delivery half of the pipeline on the local stand-ins: sinks and deliveries tables,
 * FIFO queues, and the real deliver function (built from environment, as in Lambda) fed by
 * the local event source mapping.
 */
export async function newDeliveryPipeline(env: Record<string, string> = {}, options: { visibilityTimeoutSeconds?: number; concurrency?: number } = {}) {
  const dynamo = new DynamoDBClient({});
  const sqs = sqsClient();
  const sinksTable = uniqueName("sinks");
  const deliveriesTable = uniqueName("deliveries");
  await Promise.all([ensureSinksTable(dynamo, sinksTable), ensureDeliveriesTable(dynamo, deliveriesTable)]);
  const queues = await newDeliveryQueues(sqs, options);
  const logger = createLogger("deliver-test");
  // Silent unless DELIVERY_TEST_LOG_LEVEL (e.g. INFO) asks for the deliverer's logs, to follow a failing run.
  logger.setLogLevel((process.env.DELIVERY_TEST_LOG_LEVEL ?? "SILENT") as "SILENT");
  const metrics = new CountingMetrics();
  const fullEnv = {
    ...process.env,
    SINKS_TABLE: sinksTable,
    DELIVERIES_TABLE: deliveriesTable,
    DELIVERY_QUEUE_URL: queues.queueUrl,
    DELIVERY_DLQ_URL: queues.dlqUrl,
    WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
    DELIVERY_RETRY_BASE_SECONDS: "1",
    DELIVERY_RETRY_CAP_SECONDS: "2",
    ...env,
  };
  const handler = deliverFromEnv(fullEnv, logger, metrics);
  let source: SqsEventSource | undefined;
  return {
    sinks: new DynamoSinkStore({ tableName: sinksTable, client: dynamo }),
    sinksTable,
    deliveriesTable,
    queues,
    sqs,
    dynamo,
    metrics,
    env: fullEnv,
    handler: handler as (event: SQSEvent) => Promise<SQSBatchResponse>,
    /** Starts the event source mapping (as Lambda's, batch size 10). */
    start() {
      source = startSqsEventSource({ endpoint: sqsEndpoint(), queueUrl: queues.queueUrl, handler, batchSize: 10, concurrency: options.concurrency ?? 2 });
      return source;
    },
    async close() {
      await source?.stop();
      sqs.destroy();
      dynamo.destroy();
    },
  };
}
