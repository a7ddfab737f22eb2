import { CfnOutput, Duration } from "aws-cdk-lib";
import { AlarmStatusWidget, Dashboard, GraphWidget, Metric, TextWidget, type IAlarm, type IMetric } from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import type { Delivery } from "./delivery";
import type { Fanout } from "./fanout";
import type { NomadEventBus } from "./nomad-event-bus";
import type { SinksApi } from "./sinks-api";
import type { Streamer } from "./streamer";

/** What the monitoring constructs (alarms, dashboard) watch: the parts of the pipeline. */
export interface PipelineParts {
  readonly bus: Pick<NomadEventBus, "bus" | "rule" | "ingestQueue" | "ingestDeadLetterQueue" | "targetDeadLetterQueue">;
  readonly fanout: Pick<Fanout, "handler">;
  readonly delivery: Pick<Delivery, "queue" | "deadLetterQueue" | "handler">;
  readonly sinksApi: Pick<SinksApi, "handler" | "api">;
  /** The streamer's service, when the stack deploys it. @default none: no streamer alarms or widgets */
  readonly streamer?: Pick<Streamer, "service" | "metric" | "metricRunningTasks">;
}

export interface PipelineDashboardProps extends PipelineParts {
  /** CloudWatch namespace of the functions' embedded metrics (METRICS_NAMESPACE). */
  readonly metricsNamespace: string;
  /** Alarms shown at the top. @default none */
  readonly alarms?: readonly IAlarm[];
}

const WIDTH = 8;
const HEIGHT = 6;

/**
 * One CloudWatch dashboard for the pipeline, in its order: the streamer (when deployed), the bus rule, the ingest queue,
 * the fan-out, the delivery queue and deliver, the dead-letter queues, and the sinks API.
 */
export class PipelineDashboard extends Construct {
  /** A metric of the bus rule's target (AWS/Events; a custom bus's rule has both dimensions). */
  static ruleMetric(bus: Pick<NomadEventBus, "bus" | "rule">, metricName: string, period = Duration.minutes(5)): Metric {
    return new Metric({ namespace: "AWS/Events", metricName, dimensionsMap: { EventBusName: bus.bus.eventBusName, RuleName: bus.rule.ruleName }, statistic: "Sum", period });
  }

  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const { bus, delivery } = props;
    const emf = (service: string, metricName: string, statistic = "Sum") =>
      new Metric({ namespace: props.metricsNamespace, metricName, dimensionsMap: { service }, statistic, period: Duration.minutes(5) });
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) => new GraphWidget({ title, left, right, width: WIDTH, height: HEIGHT });
    const lambda = (title: string, fn: IFunction) => [
      graph(`${title}: invocations, errors, throttles`, [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()]),
      graph(`${title}: duration`, [fn.metricDuration({ statistic: "p50" }), fn.metricDuration({ statistic: "p99" }), fn.metricDuration({ statistic: "Maximum" })]),
    ];

    this.dashboard = new Dashboard(this, "Dashboard", { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: "# nomad-event-sinks\nNomad → streamer → EventBridge bus → rule `source: nomad` → ingest queue → **fanout** → FIFO delivery queue → **deliver** → webhooks. Metrics of the functions: namespace `" + props.metricsNamespace + "`, dimension `service`.",
        width: 24,
        height: 2,
      }),
    );
    if (props.alarms !== undefined && props.alarms.length > 0) this.dashboard.addWidgets(new AlarmStatusWidget({ title: "Alarms", alarms: [...props.alarms], width: 24, height: 3 }));
    const { streamer } = props;
    if (streamer !== undefined) {
      this.dashboard.addWidgets(
        graph("streamer: running tasks, CPU and memory (%)", [streamer.metricRunningTasks(Duration.minutes(5))], [streamer.service.metricCpuUtilization(), streamer.service.metricMemoryUtilization()]),
        graph("streamer: events in and out", ["EventsIn", "EventsOut"].map((name) => streamer.metric(name)), ["Reconnects", "StreamGaps"].map((name) => streamer.metric(name))),
        graph("streamer: publish lag (ms), indexes behind", [streamer.metric("PublishLag", "Maximum"), streamer.metric("PublishLag", "p99")], [streamer.metric("LagIndexes", "Maximum")]),
      );
    }
    this.dashboard.addWidgets(
      graph("Bus rule → ingest queue", ["Invocations", "FailedInvocations", "InvocationsSentToDlq", "InvocationsFailedToBeSentToDlq"].map((name) => PipelineDashboard.ruleMetric(bus, name))),
      graph("Ingest queue", [bus.ingestQueue.metricApproximateNumberOfMessagesVisible(), bus.ingestQueue.metricApproximateNumberOfMessagesNotVisible()], [bus.ingestQueue.metricApproximateAgeOfOldestMessage()]),
      graph("Dead letters (messages waiting)", [
        bus.targetDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: "bus target" }),
        bus.ingestDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: "ingest" }),
        delivery.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: "delivery" }),
      ]),
    );
    this.dashboard.addWidgets(
      ...lambda("fanout", props.fanout.handler.function),
      graph("fanout: events and messages", ["FanoutEvents", "FanoutMessagesQueued"].map((name) => emf("fanout", name)), ["FanoutFailedRecords", "FanoutMalformed"].map((name) => emf("fanout", name))),
    );
    this.dashboard.addWidgets(
      ...lambda("deliver", delivery.handler.function),
      graph("Delivery queue", [delivery.queue.metricApproximateNumberOfMessagesVisible(), delivery.queue.metricApproximateNumberOfMessagesNotVisible()], [delivery.queue.metricApproximateAgeOfOldestMessage()]),
    );
    this.dashboard.addWidgets(
      graph("deliver: outcomes", ["Delivered", "DeliveryRetries", "DeadLettered", "SinksDisabled", "DeliveriesDiscarded"].map((name) => emf("deliver", name))),
      graph("deliver: latency of a POST, age at delivery (ms)", [emf("deliver", "DeliveryLatency", "p50"), emf("deliver", "DeliveryLatency", "p99")], [emf("deliver", "DeliveryAge", "p99")]),
      graph("Sinks API: requests and errors", [props.sinksApi.api.metricCount(), props.sinksApi.api.metricClientError(), props.sinksApi.api.metricServerError()], [props.sinksApi.handler.function.metricErrors(), props.sinksApi.handler.function.metricThrottles()]),
    );
    new CfnOutput(this, "Name", { value: this.dashboard.dashboardName, description: "The pipeline's CloudWatch dashboard" });
  }
}
