import { CfnOutput, Duration, RemovalPolicy } from "aws-cdk-lib";
import { Archive, EventBus, Rule, type EventPattern } from "aws-cdk-lib/aws-events";
import { SqsQueue } from "aws-cdk-lib/aws-events-targets";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { INGEST_QUEUE_MAX_RECEIVE_COUNT } from "../../shared/delivery/delivery-queue-settings";
import { SQS_MAX_RETENTION_SECONDS, SQS_MAX_VISIBILITY_SECONDS } from "../../shared/delivery/retry-policy";
import { BUS_SOURCE } from "../../shared/streamer/event-contract";
import { acknowledgeNag } from "./nag-checks";

/** EventBridge's most persistent retry of a target: 185 attempts over 24 hours. */
const TARGET_RETRY_ATTEMPTS = 185;
const TARGET_MAX_EVENT_AGE = Duration.hours(24);

export interface NomadEventBusProps {
  /** Days the archive keeps events for audit and replay; 0 keeps them indefinitely. @default 365 */
  readonly archiveRetentionDays?: number;
  /**
   * Visibility timeout of the ingest queue: at least six times the timeout of the function
   * that reads it (AWS's advice for Lambda sources; the Fanout construct checks it).
   * @default Duration.minutes(6)
   */
  readonly ingestVisibilityTimeout?: Duration;
  /** What happens to the bus, its archive and the queues when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The custom EventBridge bus the streamer publishes to (a public surface: teams may attach
 * their own rules), an archive of the project's events, and the rule that sends them to the
 * SQS ingest queue. Nothing is dropped on the way: the ingest queue has its own dead-letter
 * queue, and the rule's target has one for events SQS refuses after EventBridge's retries.
 */
export class NomadEventBus extends Construct {
  /** The event pattern of the project's own events (`source: ["nomad"]`). */
  static readonly EVENT_PATTERN: EventPattern = { source: [BUS_SOURCE] };

  readonly bus: EventBus;
  readonly archive: Archive;
  readonly rule: Rule;
  readonly ingestQueue: Queue;
  readonly ingestDeadLetterQueue: Queue;
  /** Where EventBridge puts events it could not hand to the ingest queue. */
  readonly targetDeadLetterQueue: Queue;
  readonly ingestVisibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: NomadEventBusProps = {}) {
    super(scope, id);
    const retentionDays = props.archiveRetentionDays ?? 365;
    if (!Number.isInteger(retentionDays) || retentionDays < 0) {
      throw new Error(`NomadEventBus ${id}: archiveRetentionDays must be a whole number of days, 0 (keep indefinitely) or more, but ${retentionDays} was provided`);
    }
    const visibility = props.ingestVisibilityTimeout ?? Duration.minutes(6);
    if (visibility.toSeconds() < 1 || visibility.toSeconds() > SQS_MAX_VISIBILITY_SECONDS) {
      throw new Error(`NomadEventBus ${id}: ingestVisibilityTimeout must be between 1 second and 12 hours, but ${visibility.toHumanString()} was provided`);
    }
    this.ingestVisibilityTimeout = visibility;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // An event waits as long as SQS allows, so a long fan-out outage loses nothing.
    const retentionPeriod = Duration.seconds(SQS_MAX_RETENTION_SECONDS);

    this.bus = new EventBus(this, "Bus", { description: "nomad-event-sinks: every Nomad event, source \"nomad\" (contract in the README)" });
    this.bus.applyRemovalPolicy(removalPolicy);
    this.archive = new Archive(this, "Archive", {
      sourceEventBus: this.bus,
      description: "nomad-event-sinks: the Nomad events, for audit and replay",
      eventPattern: NomadEventBus.EVENT_PATTERN,
      retention: Duration.days(retentionDays),
    });
    this.archive.applyRemovalPolicy(removalPolicy);

    this.ingestDeadLetterQueue = new Queue(this, "IngestDeadLetters", { retentionPeriod, encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy });
    this.ingestQueue = new Queue(this, "IngestQueue", {
      retentionPeriod,
      visibilityTimeout: visibility,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.ingestDeadLetterQueue, maxReceiveCount: INGEST_QUEUE_MAX_RECEIVE_COUNT },
      removalPolicy,
    });
    this.targetDeadLetterQueue = new Queue(this, "TargetDeadLetters", { retentionPeriod, encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy });
    acknowledgeNag(
      this.targetDeadLetterQueue,
      "AwsSolutions-SQS3",
      "This queue is itself a dead-letter queue: the bus rule target's (EventBridge's DeadLetterConfig, which cdk-nag does not recognise as it does a RedrivePolicy). Nothing consumes it; a message there raises the TargetDeadLetters alarm.",
    );

    // The target grants events.amazonaws.com SendMessage on both queues for this rule's ARN only.
    this.rule = new Rule(this, "ToIngestQueue", {
      eventBus: this.bus,
      description: "nomad-event-sinks: Nomad events to the fan-out's ingest queue",
      eventPattern: NomadEventBus.EVENT_PATTERN,
      targets: [new SqsQueue(this.ingestQueue, { deadLetterQueue: this.targetDeadLetterQueue, retryAttempts: TARGET_RETRY_ATTEMPTS, maxEventAge: TARGET_MAX_EVENT_AGE })],
    });

    new CfnOutput(this, "Name", { value: this.bus.eventBusName, description: "EventBridge bus of the Nomad events (EVENT_BUS_NAME for the streamer; attach your own rules here)" });
    new CfnOutput(this, "Arn", { value: this.bus.eventBusArn, description: "ARN of the EventBridge bus of the Nomad events" });
  }
}
