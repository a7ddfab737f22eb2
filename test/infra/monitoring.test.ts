import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { Delivery } from "../../infra/constructs/delivery";
import { Fanout } from "../../infra/constructs/fanout";
import { Monitoring } from "../../infra/constructs/monitoring";
import { NomadEventBus } from "../../infra/constructs/nomad-event-bus";
import { PayloadBucket } from "../../infra/constructs/payload-bucket";
import { SinksApi } from "../../infra/constructs/sinks-api";
import { SinksTable } from "../../infra/constructs/sinks-table";
import { NomadEventSinksStack } from "../../infra/stack";
import { STREAMER_SETTINGS } from "./streamer-settings";

type Alarm = { Properties: Record<string, unknown> };

/** The alarm on `metricName` whose dimension `name` refers to a resource whose logical ID starts with `resource`. */
function alarmOn(template: Template, metricName: string, resource: string): Record<string, unknown> {
  const found = Object.values(template.findResources("AWS::CloudWatch::Alarm") as Record<string, Alarm>).filter(
    (a) => a.Properties.MetricName === metricName && JSON.stringify(a.Properties.Dimensions).includes(`"${resource}`),
  );
  if (found.length !== 1) throw new Error(`expected one ${metricName} alarm on ${resource}, found ${found.length}`);
  return found[0]!.Properties;
}

describe("CDK: alarms and dashboard", () => {
  const bundleDir = inject("bundleDir");
  let template: Template;
  let topicId: string;

  beforeAll(() => {
    template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir }));
    topicId = Object.keys(template.findResources("AWS::SNS::Topic"))[0]!;
  });

  it("one SNS topic, TLS only, and no e-mail subscription unless alarmEmail is set", () => {
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) },
    });
    template.hasOutput("*", { Value: { Ref: topicId } });
  });

  it("any message in the ingest queue's or the rule target's dead-letter queue raises an alarm", () => {
    for (const queue of ["BusIngestDeadLetters", "BusTargetDeadLetters"]) {
      expect(alarmOn(template, "ApproximateNumberOfMessagesVisible", queue)).toMatchObject({
        Namespace: "AWS/SQS",
        Statistic: "Maximum",
        Period: 60,
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "notBreaching",
      });
    }
  });

  it("an event EventBridge could not even dead-letter raises an alarm (both dimensions of a custom bus's rule)", () => {
    expect(alarmOn(template, "InvocationsFailedToBeSentToDlq", "BusToIngestQueue")).toMatchObject({
      Namespace: "AWS/Events",
      Statistic: "Sum",
      Threshold: 1,
      Dimensions: [
        { Name: "EventBusName", Value: { Ref: expect.stringMatching(/^Bus/) } },
        { Name: "RuleName", Value: { Ref: expect.stringMatching(/^BusToIngestQueue/) } },
      ],
    });
  });

  it("the ingest queue's oldest message at 10 minutes for five minutes raises an alarm", () => {
    expect(alarmOn(template, "ApproximateAgeOfOldestMessage", "BusIngestQueue")).toMatchObject({ Statistic: "Maximum", Period: 60, Threshold: 600, EvaluationPeriods: 5 });
  });

  it("errors and throttles of every function raise alarms", () => {
    for (const fn of ["FanoutHandler", "DeliveryHandler", "SinksApiHandler"]) {
      for (const metric of ["Errors", "Throttles"]) {
        expect(alarmOn(template, metric, fn)).toMatchObject({ Namespace: "AWS/Lambda", Statistic: "Sum", Period: 300, Threshold: 1, TreatMissingData: "notBreaching" });
      }
    }
  });

  it("every alarm notifies the topic when it fires and when it recovers", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm") as Record<string, Alarm>);
    expect(alarms).toHaveLength(10);
    for (const { Properties } of alarms) {
      expect(Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(Properties.OKActions).toEqual([{ Ref: topicId }]);
      expect(Properties.AlarmDescription).toEqual(expect.any(String));
    }
  });

  it("a dashboard of the pipeline: the rule, the queues, both functions, the functions' own metrics, the API, the alarms", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    const body = JSON.stringify(Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0]);
    for (const text of ["InvocationsFailedToBeSentToDlq", "ApproximateAgeOfOldestMessage", "FanoutFailedRecords", "DeadLettered", "DeliveryAge", "NomadEventSinks", "alarm", "5xx"]) {
      expect(body).toContain(text);
    }
  });

  it("with the streamer: no task running for 3 minutes raises an alarm (Container Insights; no figure counts as none running)", () => {
    const t = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir, ...STREAMER_SETTINGS }));
    const [clusterId] = Object.keys(t.findResources("AWS::ECS::Cluster"));
    const [serviceId] = Object.keys(t.findResources("AWS::ECS::Service"));
    t.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "ECS/ContainerInsights",
      MetricName: "RunningTaskCount",
      Dimensions: [
        { Name: "ClusterName", Value: { Ref: clusterId } },
        { Name: "ServiceName", Value: { "Fn::GetAtt": [serviceId, "Name"] } },
      ],
      Statistic: "Minimum",
      Period: 60,
      EvaluationPeriods: 3,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
  });

  it("with the streamer: a publish lag of 2 minutes in two 5-minute periods running, and any gap in the stream, raise alarms (its EMF metrics, service and cluster)", () => {
    const t = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir, ...STREAMER_SETTINGS, streamerCluster: "prod" }));
    const dimensions = [
      { Name: "cluster", Value: "prod" },
      { Name: "service", Value: "streamer" },
    ];
    t.hasResourceProperties("AWS::CloudWatch::Alarm", { Namespace: "NomadEventSinks", MetricName: "PublishLag", Dimensions: dimensions, Statistic: "Maximum", Period: 300, EvaluationPeriods: 2, Threshold: 120_000, ComparisonOperator: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching" });
    t.hasResourceProperties("AWS::CloudWatch::Alarm", { Namespace: "NomadEventSinks", MetricName: "StreamGaps", Dimensions: dimensions, Statistic: "Sum", Period: 300, EvaluationPeriods: 1, Threshold: 1 });
    const alarms = Object.values(t.findResources("AWS::CloudWatch::Alarm") as Record<string, Alarm>);
    expect(alarms).toHaveLength(13);
    const topic = Object.keys(t.findResources("AWS::SNS::Topic"))[0]!;
    for (const { Properties } of alarms) expect(Properties.AlarmActions).toEqual([{ Ref: topic }]);
  });

  it("with the streamer: the dashboard shows its tasks, events, lag and gaps, and the streamer's alarms", () => {
    const t = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir, ...STREAMER_SETTINGS }));
    const body = JSON.stringify(Object.values(t.findResources("AWS::CloudWatch::Dashboard"))[0]);
    for (const text of ["RunningTaskCount", "CPUUtilization", "EventsIn", "EventsOut", "PublishLag", "LagIndexes", "StreamGaps", "Reconnects", "StreamerNotRunning", "StreamerLagging"]) expect(body).toContain(text);
    expect(JSON.stringify(Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0])).not.toContain("PublishLag");
  });

  it("subscribes alarmEmail, and rejects a bad address or threshold with what was given", () => {
    const stack = new Stack(new App(), "M");
    const { table } = new SinksTable(stack, "T");
    const payloads = new PayloadBucket(stack, "P");
    const bus = new NomadEventBus(stack, "B");
    const delivery = new Delivery(stack, "D", { sinksTable: table, bundleDir, payloads });
    const fanout = new Fanout(stack, "F", { ingest: bus, sinksTable: table, deliveryQueue: delivery.queue, payloads, bundleDir });
    const sinksApi = new SinksApi(stack, "A", { table, delivery, bundleDir });
    const parts = { bus, fanout, delivery, sinksApi };
    new Monitoring(stack, "M", { ...parts, alarmEmail: "ops@example.com", ingestAgeThreshold: Duration.minutes(30) });
    const t = Template.fromStack(stack);
    t.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com" });
    t.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "ApproximateAgeOfOldestMessage", Threshold: 1800 });

    expect(() => new Monitoring(stack, "M1", { ...parts, alarmEmail: "ops" })).toThrow('Monitoring M1: alarmEmail must be an e-mail address, but "ops" was provided');
    expect(() => new Monitoring(stack, "M2", { ...parts, ingestAgeThreshold: Duration.seconds(30) })).toThrow("Monitoring M2: ingestAgeThreshold must be between 1 minute and 14 days, but 30 seconds was provided");
    expect(() => new Monitoring(stack, "M3", { ...parts, streamerLagThreshold: Duration.millis(500) })).toThrow("Monitoring M3: streamerLagThreshold must be between 1 second and 1 day, but 500 millis was provided");
  });
});
