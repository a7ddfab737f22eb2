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

/** The fan-out function's handler, and a hook for a process that also hosts the sinks API. */
export type FanoutHandler = ((event: SQSEvent) => Promise<SQSBatchResponse>) & {
  /**
   * Makes the next batch read the sinks' change version, however recent the last read: the
   * local runtime, where every change to sinks and tokens is made in the same process (through
   * the API, or by the deliverer disabling a sink), calls it after each change, so the check can
   * be SINK_CHECK_MS apart (1,000 there) and a change still applies from the next batch.
   */
  invalidateSinks(): void;
};

/** The fan-out function built from configuration: an SQS (ingest queue) handler with partial batch responses. */
export function fanoutFromEnv(env: Env, logger: Logger, metrics: MetricsSink): FanoutHandler {
  const config = readFanoutConfig(env);
  // Sinks and the team tokens that bound them share the sinks table and one client.
  const dynamo = new LeanDynamoDBClient({});
  const payloads = S3PayloadStore.fromConfig(config);
  // One Scan of the table reads both the sinks and the team tokens that bound them.
  const sinks = new SinkCache(new DynamoSinkStore({ tableName: config.sinksTable, client: dynamo }), { load: dynamoSinkDirectory(dynamo, config.sinksTable, { tokens: true }), ttlMs: config.sinkCacheMs, checkEveryMs: config.sinkCheckMs });
  const fanout = new Fanout({
    sinks,
    queue: new SqsDeliveryQueue({ queueUrl: config.queueUrl }),
    ...(payloads ? { offload: (detail) => payloads.offload(detail) } : {}),
    maxMessageBytes: config.maxMessageBytes,
    replays: new DynamoReplayStore({ tableName: config.sinksTable, client: dynamo }),
    logger,
    metrics,
  });
  const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    try {
      const failed = await fanout.handle(event.Records.map((r) => ({ messageId: r.messageId, body: r.body })));
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      metrics.flush();
    }
  };
  return Object.assign(handler, { invalidateSinks: () => sinks.invalidate() });
}
