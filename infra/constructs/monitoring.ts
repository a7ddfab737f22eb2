import { CfnOutput, Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { SQS_MAX_RETENTION_SECONDS } from "../../shared/delivery/retry-policy";
import { readMetricsNamespace } from "../../shared/observability/metrics";
import { PipelineDashboard, type PipelineParts } from "./pipeline-dashboard";

/** Deliberately loose: catches typos such as a missing `@` or domain, not every address SNS would refuse. */
export function isEmailAddress(text: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text);
}

export interface MonitoringProps extends PipelineParts {
  /** The streamer's PublishLag (age of the oldest event read but not yet on the bus) that, at its maximum in two 5-minute periods running, raises an alarm. @default Duration.minutes(2) */
  readonly streamerLagThreshold?: Duration;
  /** An address subscribed to the alarm topic (SNS e-mails it a confirmation link first). @default none: subscribe to the topic yourself */
  readonly alarmEmail?: string;
  /** Age of the oldest message in the ingest queue, held for five minutes, that raises an alarm. @default Duration.minutes(10) */
  readonly ingestAgeThreshold?: Duration;
}

/**
 * Alarms on what means events are not flowing, all to one SNS topic (with an optional
 * e-mail subscription): any message in the ingest queue's or the rule target's dead-letter
 * queue, an event EventBridge could not even dead-letter, an old ingest backlog, errors
 * or throttles of any function, and (when deployed) a streamer not running, lagging or
 * reporting a gap in the stream; and a dashboard of the whole pipeline.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: readonly Alarm[];
  readonly dashboard: PipelineDashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    if (props.alarmEmail !== undefined && !isEmailAddress(props.alarmEmail)) {
      throw new Error(`Monitoring ${id}: alarmEmail must be an e-mail address, but ${JSON.stringify(props.alarmEmail)} was provided`);
    }
    const ageThreshold = props.ingestAgeThreshold ?? Duration.minutes(10);
    if (ageThreshold.toSeconds() < 60 || ageThreshold.toSeconds() > SQS_MAX_RETENTION_SECONDS) {
      throw new Error(`Monitoring ${id}: ingestAgeThreshold must be between 1 minute and 14 days, but ${ageThreshold.toHumanString()} was provided`);
    }
    const lagThreshold = props.streamerLagThreshold ?? Duration.minutes(2);
    if (lagThreshold.toMilliseconds() < 1_000 || lagThreshold.toSeconds() > 86_400) {
      throw new Error(`Monitoring ${id}: streamerLagThreshold must be between 1 second and 1 day, but ${lagThreshold.toHumanString()} was provided`);
    }

    this.topic = new Topic(this, "Alarms", { displayName: "nomad-event-sinks alarms", enforceSSL: true });
    if (props.alarmEmail !== undefined) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarms: Alarm[] = [];
    const alarm = (alarmId: string, description: string, metric: IMetric, threshold: number, evaluationPeriods = 1, below = false) => {
      const created = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: below ? ComparisonOperator.LESS_THAN_THRESHOLD : ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // Idle queues and functions publish nothing; silence is health there. A count that
        // must stay up (running tasks) is the other way round: no figure means none running.
        treatMissingData: below ? TreatMissingData.BREACHING : TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      alarms.push(created);
    };
    const deadLetters = (alarmId: string, queue: IQueue, what: string) =>
      alarm(alarmId, `${what} A message there is an event no sink will receive until it is redriven.`, queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" }), 1);

    const { bus } = props;
    deadLetters("IngestDeadLetters", bus.ingestDeadLetterQueue, "The fan-out failed an event on every receive and SQS dead-lettered it.");
    deadLetters("TargetDeadLetters", bus.targetDeadLetterQueue, "EventBridge could not put an event on the ingest queue within its retries.");
    alarm(
      "EventsLost",
      "EventBridge could put an event neither on the ingest queue nor on the target's dead-letter queue: it is only in the archive (replay it from there).",
      PipelineDashboard.ruleMetric(bus, "InvocationsFailedToBeSentToDlq", Duration.minutes(1)),
      1,
    );
    alarm(
      "IngestBacklog",
      `The oldest event in the ingest queue has waited ${ageThreshold.toHumanString()} or more for five minutes: the fan-out is failing or cannot keep up.`,
      bus.ingestQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: "Maximum" }),
      ageThreshold.toSeconds(),
      5,
    );
    const functions: Array<[string, IFunction]> = [
      ["Fanout", props.fanout.handler.function],
      ["Deliver", props.delivery.handler.function],
      ["SinksApi", props.sinksApi.handler.function],
    ];
    for (const [name, fn] of functions) {
      alarm(`${name}Errors`, `The ${name} function failed: an uncaught error or a timeout (records reported failed in a batch response are not errors).`, fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }), 1);
      alarm(`${name}Throttles`, `Lambda throttled the ${name} function (account or reserved concurrency exhausted).`, fn.metricThrottles({ period: Duration.minutes(5), statistic: "Sum" }), 1);
    }
    const { streamer } = props;
    if (streamer !== undefined) {
      alarm(
        "StreamerNotRunning",
        "No streamer task has been running for 3 minutes: nothing reads Nomad's event stream (the task keeps failing its health check or cannot start; see the service's events and the streamer's logs). Events older than Nomad's event buffer will be reported as a gap.",
        streamer.metricRunningTasks(Duration.minutes(1)),
        1,
        3,
        true,
      );
      alarm(
        "StreamerLagging",
        `An event read from Nomad has waited ${lagThreshold.toHumanString()} or more for the bus, in two 5-minute periods running: EventBridge refuses or throttles the streamer's PutEvents, or an oversized event waits for the payload bucket.`,
        streamer.metric("PublishLag", "Maximum", Duration.minutes(5)),
        lagThreshold.toMilliseconds(),
        2,
      );
      alarm(
        "StreamerGaps",
        "The streamer resumed at an index Nomad no longer held and published a gap marker: events between its FromIndex and ToIndex may be missing (the streamer was away longer than Nomad's event buffer lasts).",
        streamer.metric("StreamGaps", "Sum", Duration.minutes(5)),
        1,
      );
    }
    this.alarms = alarms;

    this.dashboard = new PipelineDashboard(this, "Dashboard", {
      bus: props.bus,
      fanout: props.fanout,
      delivery: props.delivery,
      sinksApi: props.sinksApi,
      ...(streamer !== undefined ? { streamer } : {}),
      alarms,
      // The functions are not given METRICS_NAMESPACE, so they write to the default.
      metricsNamespace: readMetricsNamespace({}),
    });
    new CfnOutput(this, "AlarmTopicArn", { value: this.topic.topicArn, description: "SNS topic of the alarms (subscribe to it, or set the alarmEmail context value)" });
  }
}
