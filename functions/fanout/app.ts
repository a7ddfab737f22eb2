import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Env } from "../../shared/config/env";
import { Fanout } from "../../shared/delivery/fanout";
import { SinkCache } from "../../shared/delivery/sink-cache";
import { dynamoSinkDirectory } from "../../shared/delivery/sink-directory";
import { SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import type { MetricsSink } from "../../shared/observability/metrics";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { DynamoReplayStore } from "../../shared/replay/dynamo-replay-store";
import { S3PayloadStore } from "../../shared/streamer/payload-store";
import { readFanoutConfig } from "./config";
import { LeanDynamoDBClient } from "../../shared/aws/lean-clients";

/** The fan-out function built from configuration: an SQS (ingest queue) handler with partial batch responses. */
export function fanoutFromEnv(env: Env, logger: Logger, metrics: MetricsSink): (event: SQSEvent) => Promise<SQSBatchResponse> {
  const config = readFanoutConfig(env);
  // Sinks and the team tokens that bound them share the sinks table and one client.
  const dynamo = new LeanDynamoDBClient({});
  const payloads = S3PayloadStore.fromConfig(config);
  const fanout = new Fanout({
    // One Scan of the table reads both the sinks and the team tokens that bound them.
    sinks: new SinkCache(new DynamoSinkStore({ tableName: config.sinksTable, client: dynamo }), { load: dynamoSinkDirectory(dynamo, config.sinksTable, { tokens: true }), ttlMs: config.sinkCacheMs, checkEveryMs: config.sinkCheckMs }),
    queue: new SqsDeliveryQueue({ queueUrl: config.queueUrl }),
    ...(payloads ? { offload: (detail) => payloads.offload(detail) } : {}),
    maxMessageBytes: config.maxMessageBytes,
    replays: new DynamoReplayStore({ tableName: config.sinksTable, client: dynamo }),
    logger,
    metrics,
  });
  return async (event) => {
    try {
      const failed = await fanout.handle(event.Records.map((r) => ({ messageId: r.messageId, body: r.body })));
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      metrics.flush();
    }
  };
}
