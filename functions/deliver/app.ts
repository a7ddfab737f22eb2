import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Env } from "../../shared/config/env";
import { Deliverer, type QueuedMessage } from "../../shared/delivery/deliverer";
import { DynamoDeliveryLog } from "../../shared/delivery/delivery-log";
import { SinkCache } from "../../shared/delivery/sink-cache";
import { dynamoSinkDirectory } from "../../shared/delivery/sink-directory";
import { SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import { AddressGuard } from "../../shared/delivery/ssrf-guard";
import { WebhookClient } from "../../shared/delivery/webhook-client";
import type { MetricsSink } from "../../shared/observability/metrics";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { S3PayloadStore } from "../../shared/streamer/payload-store";
import { USER_AGENT } from "../../shared/version";
import { readDeliverConfig } from "./config";
import { LeanDynamoDBClient } from "../../shared/aws/lean-clients";

export function queuedMessage(record: SQSRecord): QueuedMessage {
  return {
    messageId: record.messageId,
    receiptHandle: record.receiptHandle,
    groupId: record.attributes.MessageGroupId ?? "",
    body: record.body,
    sentAt: Number(record.attributes.SentTimestamp),
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
  };
}

/** The deliver function's handler, and what a clean stop of the process that hosts it calls. */
export type DeliverHandler = ((event: SQSEvent) => Promise<SQSBatchResponse>) & {
  /** Writes the LatestIndex advances still deferred (DELIVERY_LATEST_INDEX_EVERY_MS above 0). */
  flush(): Promise<void>;
};

/** The deliver function built from configuration: an SQS (FIFO) handler with partial batch responses. */
export function deliverFromEnv(env: Env, logger: Logger, metrics: MetricsSink): DeliverHandler {
  const config = readDeliverConfig(env);
  // One client (one credential chain, one connection pool) for the sink store and the attempt log.
  const dynamo = new LeanDynamoDBClient({});
  const guard = new AddressGuard({ allowedCidrs: config.allowedCidrs });
  const payloads = S3PayloadStore.fromConfig(config);
  const sinks = new DynamoSinkStore({ tableName: config.sinksTable, client: dynamo });
  const deliverer = new Deliverer({
    sinks,
    // The sinks of a batch come from this copy, checked at most every SINK_CHECK_MS (no tokens: delivery does not need them).
    directory: new SinkCache(sinks, { load: dynamoSinkDirectory(dynamo, config.sinksTable, { tokens: false }), ttlMs: config.sinkCacheMs, checkEveryMs: config.sinkCheckMs }),
    log: new DynamoDeliveryLog({ tableName: config.deliveriesTable, ttlDays: config.logTtlDays, client: dynamo }),
    // Keep-alive pool; redirects are never followed (undici's request does not follow them).
    webhooks: new WebhookClient({ dispatcher: guard.dispatcher({ connectTimeout: config.connectTimeoutMs, keepAliveTimeout: 30_000 }), timeoutMs: config.timeoutMs, userAgent: USER_AGENT }),
    queue: new SqsDeliveryQueue({ queueUrl: config.queueUrl, deadLetterQueueUrl: config.deadLetterQueueUrl }),
    policy: config.policy,
    ...(payloads ? { fetchPayload: (ref) => payloads.fetch(ref) } : {}),
    maxEventsPerRequest: config.maxEventsPerRequest,
    maxRequestBytes: config.maxRequestBytes,
    latestIndexEveryMs: config.latestIndexEveryMs,
    logger,
    metrics,
  });
  const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    try {
      const failed = await deliverer.handle(event.Records.map(queuedMessage));
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      metrics.flush();
    }
  };
  return Object.assign(handler, { flush: () => deliverer.flush() });
}
