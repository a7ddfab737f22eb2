import { Duration } from "aws-cdk-lib";
import type { ITableV2 } from "aws-cdk-lib/aws-dynamodb";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { BundledFunction } from "./bundled-function";
import type { NomadEventBus } from "./nomad-event-bus";
import type { PayloadBucket } from "./payload-bucket";

/** readFanoutConfig's range for SINK_CACHE_SECONDS. */
const MAX_SINK_CACHE_SECONDS = 300;

export interface FanoutProps {
  /** The ingest queue the function reads, and its visibility timeout (six times the function's timeout or more). */
  readonly ingest: Pick<NomadEventBus, "ingestQueue" | "ingestVisibilityTimeout">;
  /** The sinks table (read: the enabled sinks and their topics). */
  readonly sinksTable: ITableV2;
  /** The FIFO delivery queue the function sends one message per (sink, event) to. */
  readonly deliveryQueue: IQueue;
  /** Where payloads too large for a delivery message are stored (claim check). */
  readonly payloads: Pick<PayloadBucket, "bucket" | "grantPutPayloads">;
  readonly bundleDir: string;
  /** Concurrent fan-out invocations (the SQS event source's maximum concurrency). @default 100 */
  readonly maxConcurrency?: number;
  /** How long the list of sinks is reused (SINK_CACHE_SECONDS), in whole seconds. @default Duration.seconds(5) */
  readonly sinkCacheTtl?: Duration;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
}

/**
 * The fan-out: the fanout function on the ingest queue (batch 10, partial batch responses),
 * matching each Nomad event against the sinks and queueing one delivery message per
 * (sink, event) on the FIFO delivery queue.
 */
export class Fanout extends Construct {
  readonly handler: BundledFunction;

  constructor(scope: Construct, id: string, props: FanoutProps) {
    super(scope, id);
    const concurrency = props.maxConcurrency ?? 100;
    if (!Number.isInteger(concurrency) || concurrency < 2 || concurrency > 1000) throw new Error(`Fanout ${id}: maxConcurrency must be an integer from 2 to 1000, but ${concurrency} was provided`);
    const cacheTtl = props.sinkCacheTtl ?? Duration.seconds(5);
    const cacheSeconds = cacheTtl.toSeconds({ integral: false });
    if (!Number.isInteger(cacheSeconds) || cacheSeconds < 0 || cacheSeconds > MAX_SINK_CACHE_SECONDS) {
      throw new Error(`Fanout ${id}: sinkCacheTtl must be a whole number of seconds from 0 to ${MAX_SINK_CACHE_SECONDS}, but ${cacheTtl.toHumanString()} was provided`);
    }
    const timeout = props.timeout ?? Duration.seconds(60);
    if (timeout.toSeconds() < 1 || timeout.toSeconds() > 900) throw new Error(`Fanout ${id}: timeout must be between 1 second and 15 minutes, but ${timeout.toHumanString()} was provided`);
    const visibility = props.ingest.ingestVisibilityTimeout;
    if (visibility.toSeconds() < 6 * timeout.toSeconds()) {
      throw new Error(`Fanout ${id}: the ingest queue's visibility timeout must be at least six times the function's timeout (${timeout.toHumanString()}), but ${visibility.toHumanString()} was provided`);
    }

    this.handler = new BundledFunction(this, "Handler", {
      name: "fanout",
      bundleDir: props.bundleDir,
      timeout,
      environment: {
        SINKS_TABLE: props.sinksTable.tableName,
        DELIVERY_QUEUE_URL: props.deliveryQueue.queueUrl,
        SINK_CACHE_SECONDS: String(cacheSeconds),
        PAYLOAD_BUCKET: props.payloads.bucket.bucketName,
      },
    });
    props.sinksTable.grantReadData(this.handler.function);
    props.deliveryQueue.grantSendMessages(this.handler.function);
    props.ingest.ingestQueue.grantConsumeMessages(this.handler.function);
    props.payloads.grantPutPayloads(this.handler.function);
    this.handler.function.addEventSource(new SqsEventSource(props.ingest.ingestQueue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: concurrency }));
  }
}
