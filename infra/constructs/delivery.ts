import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITableV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { DELIVERIES_TTL_ATTRIBUTE } from "../../shared/delivery/delivery-log";
import { DELIVERY_QUEUE_MAX_RECEIVE_COUNT, DELIVERY_QUEUE_RETENTION_SECONDS } from "../../shared/delivery/delivery-queue-settings";
import { DEFAULT_RETRY_POLICY, MAX_RETRY_HORIZON_SECONDS } from "../../shared/delivery/retry-policy";
import { ALLOWED_CIDRS_ENV } from "../../shared/delivery/ssrf-guard";
import { checkAllowedCidrs } from "./allowed-cidrs";
import { BundledFunction } from "./bundled-function";
import type { PayloadBucket } from "./payload-bucket";
import { pkSkTable } from "./pk-sk-table";

export interface DeliveryProps {
  /** The sinks table (the deliver function reads sinks, advances LatestIndex, disables on 410). */
  readonly sinksTable: ITableV2;
  readonly bundleDir: string;
  /** How long a failing delivery keeps being retried before it is dead-lettered. @default Duration.hours(72) */
  readonly retryHorizon?: Duration;
  /** Internal CIDRs webhooks may reach anyway (WEBHOOK_ALLOWED_CIDRS). @default none */
  readonly allowedCidrs?: readonly string[];
  /** Concurrent deliver invocations (the FIFO queue orders per sink regardless). @default 20 */
  readonly maxConcurrency?: number;
  /** How long delivery attempts are kept. @default 7 days */
  readonly attemptLogDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The claim-check bucket deliver fetches stored payloads from (PAYLOAD_BUCKET); it must keep
   * them longer than the retry horizon plus the dead-letter queue's retention.
   * @default none: a message whose event is stored by reference fails until SQS dead-letters it
   */
  readonly payloads?: Pick<PayloadBucket, "bucket" | "expirationDays" | "grantReadPayloads">;
}

/**
 * Webhook delivery: the FIFO delivery queue (one message group per sink) and its FIFO
 * dead-letter queue, the deliveries table (attempt log with TTL), and the deliver
 * function on the queue with partial batch responses.
 */
export class Delivery extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly deliveriesTable: TableV2;
  readonly handler: BundledFunction;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    const horizon = props.retryHorizon ?? Duration.millis(DEFAULT_RETRY_POLICY.horizonMs);
    if (horizon.toSeconds() < 1 || horizon.toSeconds() > MAX_RETRY_HORIZON_SECONDS) {
      throw new Error(`Delivery ${id}: retryHorizon must be between 1 second and 13 days (SQS keeps messages 14 days at most), but ${horizon.toHumanString()} was provided`);
    }
    const concurrency = props.maxConcurrency ?? 20;
    if (!Number.isInteger(concurrency) || concurrency < 2 || concurrency > 1000) throw new Error(`Delivery ${id}: maxConcurrency must be an integer from 2 to 1000, but ${concurrency} was provided`);
    checkAllowedCidrs(`Delivery ${id}`, props.allowedCidrs);
    // A dead letter can be redriven until the dead-letter queue drops it; its payload must still be there.
    const payloadsNeeded = Duration.seconds(horizon.toSeconds() + DELIVERY_QUEUE_RETENTION_SECONDS);
    if (props.payloads !== undefined && props.payloads.expirationDays < payloadsNeeded.toDays({ integral: false })) {
      throw new Error(`Delivery ${id}: the payload bucket must keep payloads at least as long as the retry horizon (${horizon.toHumanString()}) plus the dead-letter queue's retention (${Duration.seconds(DELIVERY_QUEUE_RETENTION_SECONDS).toHumanString()}), ${Math.ceil(payloadsNeeded.toDays({ integral: false }))} days, but expirationDays ${props.payloads.expirationDays} was provided`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const functionTimeout = Duration.seconds(120);

    this.deliveriesTable = pkSkTable(this, "Deliveries", { removalPolicy, timeToLiveAttribute: DELIVERIES_TTL_ATTRIBUTE });
    this.deadLetterQueue = new Queue(this, "DeadLetters", {
      fifo: true,
      retentionPeriod: Duration.seconds(DELIVERY_QUEUE_RETENTION_SECONDS),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });
    this.queue = new Queue(this, "Queue", {
      fifo: true,
      // High-throughput FIFO: ordering and deduplication per sink (message group).
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      retentionPeriod: Duration.seconds(DELIVERY_QUEUE_RETENTION_SECONDS),
      // AWS's advice for Lambda sources: at least six times the function's timeout.
      visibilityTimeout: Duration.seconds(functionTimeout.toSeconds() * 6),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: DELIVERY_QUEUE_MAX_RECEIVE_COUNT },
      removalPolicy,
    });
    this.handler = new BundledFunction(this, "Handler", {
      name: "deliver",
      bundleDir: props.bundleDir,
      timeout: functionTimeout,
      memorySize: 512,
      environment: {
        SINKS_TABLE: props.sinksTable.tableName,
        DELIVERIES_TABLE: this.deliveriesTable.tableName,
        DELIVERY_QUEUE_URL: this.queue.queueUrl,
        DELIVERY_DLQ_URL: this.deadLetterQueue.queueUrl,
        DELIVERY_RETRY_HORIZON_SECONDS: String(horizon.toSeconds()),
        DELIVERY_LOG_TTL_DAYS: String(props.attemptLogDays ?? 7),
        ...(props.allowedCidrs?.length ? { [ALLOWED_CIDRS_ENV]: props.allowedCidrs.join(",") } : {}),
        ...(props.payloads !== undefined ? { PAYLOAD_BUCKET: props.payloads.bucket.bucketName } : {}),
      },
    });
    props.payloads?.grantReadPayloads(this.handler.function);
    props.sinksTable.grantReadWriteData(this.handler.function);
    this.deliveriesTable.grantReadWriteData(this.handler.function);
    this.queue.grantConsumeMessages(this.handler.function);
    this.deadLetterQueue.grantSendMessages(this.handler.function);
    this.handler.function.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: concurrency }));
  }
}
