import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { S3Client } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { readDeliverConfig } from "../../functions/deliver/config";
import { readFanoutConfig } from "../../functions/fanout/config";
import { Delivery } from "../../infra/constructs/delivery";
import { Fanout } from "../../infra/constructs/fanout";
import { NomadEventBus } from "../../infra/constructs/nomad-event-bus";
import { PayloadBucket } from "../../infra/constructs/payload-bucket";
import { PAYLOAD_KEY_PREFIX } from "../../shared/config/payload-config";
import { SinksApi } from "../../infra/constructs/sinks-api";
import { SinksTable } from "../../infra/constructs/sinks-table";
import { NomadEventSinksStack } from "../../infra/stack";
import { INGEST_QUEUE_MAX_RECEIVE_COUNT } from "../../shared/delivery/delivery-queue-settings";
import { BUS_SOURCE, gapMarker } from "../../shared/streamer/event-contract";
import { S3PayloadStore } from "../../shared/streamer/payload-store";

type Resources = Record<string, { Properties: Record<string, unknown> }>;

/** The one resource of `type` whose logical ID matches `id`: [logical ID, properties]. */
function only(template: Template, type: string, id: RegExp): [string, Record<string, unknown>] {
  const found = Object.entries(template.findResources(type) as Resources).filter(([logicalId]) => id.test(logicalId));
  if (found.length !== 1) throw new Error(`expected one ${type} matching ${id}, found ${found.map(([l]) => l).join(", ") || "none"}`);
  return [found[0]![0], found[0]![1].Properties];
}

/** A function's environment with every CloudFormation reference replaced by a placeholder string. */
function environmentOf(template: Template, functionId: RegExp): Record<string, string> {
  const [, props] = only(template, "AWS::Lambda::Function", functionId);
  const variables = (props.Environment as { Variables: Record<string, unknown> }).Variables;
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, typeof value === "string" ? value : `<${JSON.stringify(value)}>`]));
}

describe("CDK: bus, ingest, fan-out and payload bucket", () => {
  const bundleDir = inject("bundleDir");
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir }));
  });

  it("a custom bus and an archive of the project's source kept 365 days, both retained", () => {
    const [busId] = only(template, "AWS::Events::EventBus", /^Bus/);
    template.hasResource("AWS::Events::EventBus", { DeletionPolicy: "Retain" });
    template.hasResource("AWS::Events::Archive", {
      DeletionPolicy: "Retain",
      Properties: Match.objectLike({ SourceArn: { "Fn::GetAtt": [busId, "Arn"] }, EventPattern: { source: [BUS_SOURCE] }, RetentionDays: 365 }),
    });
    template.hasOutput("*", { Value: { Ref: busId }, Description: Match.stringLikeRegexp("EVENT_BUS_NAME") });
  });

  it("one rule on the bus, source nomad, to the ingest queue with a dead-letter queue and EventBridge's longest retry", () => {
    const [busId] = only(template, "AWS::Events::EventBus", /^Bus/);
    const [ingestId] = only(template, "AWS::SQS::Queue", /^BusIngestQueue/);
    const [targetDlqId] = only(template, "AWS::SQS::Queue", /^BusTargetDeadLetters/);
    template.resourceCountIs("AWS::Events::Rule", 1);
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: { Ref: busId },
      EventPattern: { source: ["nomad"] },
      State: "ENABLED",
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: { "Fn::GetAtt": [ingestId, "Arn"] },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [targetDlqId, "Arn"] } },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        },
      ],
    });
  });

  it("the ingest queue: standard, SSE, dead-lettered after INGEST_QUEUE_MAX_RECEIVE_COUNT receives, visibility six times the fan-out's timeout", () => {
    const [dlqId, dlq] = only(template, "AWS::SQS::Queue", /^BusIngestDeadLetters/);
    const [, ingest] = only(template, "AWS::SQS::Queue", /^BusIngestQueue/);
    const [, fanout] = only(template, "AWS::Lambda::Function", /^FanoutHandler/);
    expect(ingest).toEqual({
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 360,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] }, maxReceiveCount: INGEST_QUEUE_MAX_RECEIVE_COUNT },
    });
    expect(ingest.VisibilityTimeout).toBeGreaterThanOrEqual(6 * (fanout.Timeout as number));
    expect(dlq).toEqual({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
    const busQueues = Object.entries(template.findResources("AWS::SQS::Queue")).filter(([id]) => id.startsWith("Bus"));
    expect(busQueues).toHaveLength(3);
    for (const [, queue] of busQueues) {
      expect(queue).toMatchObject({ DeletionPolicy: "Retain", Properties: { SqsManagedSseEnabled: true } });
      expect(queue.Properties.FifoQueue).toBeUndefined();
    }
  });

  it("queue policies: TLS only everywhere, and only this rule (EventBridge, aws:SourceArn) may send to the ingest queue and the target's dead-letter queue", () => {
    const [ruleId] = only(template, "AWS::Events::Rule", /^BusToIngestQueue/);
    const policies = Object.values(template.findResources("AWS::SQS::QueuePolicy") as Resources).map((p) => ({
      queue: (p.Properties.Queues as Array<{ Ref: string }>)[0]!.Ref,
      statements: (p.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement,
    }));
    const byQueue = (id: RegExp) => policies.find((p) => id.test(p.queue))?.statements ?? [];
    const fromThisRule = { Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": [ruleId, "Arn"] } } } };

    for (const { statements } of policies) {
      expect(statements).toContainEqual(expect.objectContaining({ Effect: "Deny", Action: "sqs:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }));
    }
    const ingestAllows = byQueue(/^BusIngestQueue/).filter((s) => s.Effect === "Allow");
    expect(ingestAllows).toEqual([expect.objectContaining({ ...fromThisRule, Action: expect.arrayContaining(["sqs:SendMessage"]) })]);
    const targetDlqAllows = byQueue(/^BusTargetDeadLetters/).filter((s) => s.Effect === "Allow");
    expect(targetDlqAllows).toEqual([expect.objectContaining({ ...fromThisRule, Action: "sqs:SendMessage" })]);
    // Nothing sends to the ingest dead-letter queue but SQS's own redrive.
    expect(byQueue(/^BusIngestDeadLetters/).filter((s) => s.Effect === "Allow")).toEqual([]);
  });

  it("fanout reads the ingest queue and deliver the delivery queue, each batch 10 with partial batch responses; no other function reads a queue", () => {
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping") as Resources).map((m) => m.Properties);
    const reads = Object.fromEntries(
      mappings.map((m) => [(m.EventSourceArn as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0].replace(/[0-9A-F]{8}$/, ""), (m.FunctionName as { Ref: string }).Ref.replace(/[0-9A-F]{8}$/, "")]),
    );
    expect(reads).toEqual({ BusIngestQueue: "FanoutHandlerFunction", DeliveryQueue: "DeliveryHandlerFunction" });
    for (const m of mappings) expect(m).toMatchObject({ BatchSize: 10, FunctionResponseTypes: ["ReportBatchItemFailures"] });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [only(template, "AWS::SQS::Queue", /^BusIngestQueue/)[0], "Arn"] },
      ScalingConfig: { MaximumConcurrency: 100 },
    });
  });

  it("the fanout function: bundled like deliver (Node.js 22, ARM64, source maps, JSON logs kept a month), told exactly what readFanoutConfig reads", () => {
    const [, fanout] = only(template, "AWS::Lambda::Function", /^FanoutHandler/);
    expect(fanout).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"], Handler: "index.handler", Timeout: 60, MemorySize: 256, LoggingConfig: { LogFormat: "JSON" } });
    const logGroup = (fanout.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(only(template, "AWS::Logs::LogGroup", new RegExp(`^${logGroup}$`))[1]).toEqual({ RetentionInDays: 30 });

    const env = environmentOf(template, /^FanoutHandler/);
    // No NODE_OPTIONS: --enable-source-maps would keep the decoded map (≈ 50 MB) from the first stack trace on.
    expect(Object.keys(env).sort()).toEqual(["DELIVERY_QUEUE_URL", "PAYLOAD_BUCKET", "POWERTOOLS_SERVICE_NAME", "SINKS_TABLE", "SINK_CACHE_SECONDS"]);
    expect(env).toMatchObject({ POWERTOOLS_SERVICE_NAME: "fanout", SINK_CACHE_SECONDS: "5" });
    expect(env.SINKS_TABLE).toMatch(/SinksTable/);
    expect(env.DELIVERY_QUEUE_URL).toMatch(/DeliveryQueue/);
    expect(env.PAYLOAD_BUCKET).toMatch(/PayloadsBucket/);
    expect(readFanoutConfig(env)).toMatchObject({ sinksTable: env.SINKS_TABLE, queueUrl: env.DELIVERY_QUEUE_URL, sinkCacheMs: 5_000, payloadBucket: env.PAYLOAD_BUCKET });
  });

  it("deliver is told the payload bucket and still reads a whole configuration from its environment", () => {
    const env = environmentOf(template, /^DeliveryHandler/);
    expect(env.PAYLOAD_BUCKET).toMatch(/PayloadsBucket/);
    expect(readDeliverConfig(env)).toMatchObject({ payloadBucket: env.PAYLOAD_BUCKET, policy: expect.objectContaining({ horizonMs: 259_200_000 }) });
  });

  it("the payload bucket: encrypted, TLS 1.2 only, public access blocked, objects expire after 30 days, unversioned, no auto-delete, retained", () => {
    const [bucketId, bucket] = only(template, "AWS::S3::Bucket", /^PayloadsBucket/);
    expect(bucket).toEqual({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      LifecycleConfiguration: { Rules: [{ Id: "ExpirePayloads", Status: "Enabled", ExpirationInDays: 30, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: expect.stringMatching(/^PayloadsAccessLogs/) }, LogFilePrefix: "payloads/" },
    });
    template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    template.resourceCountIs("Custom::S3AutoDeleteObjects", 0);
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          Match.objectLike({ Effect: "Deny", Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } } }),
        ]),
      },
    });
  });

  it("the payload bucket's access logs: a private, TLS-only, SSE-S3 bucket kept 90 days, written by S3's logging service for that bucket only (bucket policy, no ACL)", () => {
    const [logsId, logs] = only(template, "AWS::S3::Bucket", /^PayloadsAccessLogs/);
    const [payloadsId] = only(template, "AWS::S3::Bucket", /^PayloadsBucket/);
    expect(logs).toEqual({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      LifecycleConfiguration: { Rules: [{ Id: "ExpireAccessLogs", Status: "Enabled", ExpirationInDays: 90 }] },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: logsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          {
            Effect: "Allow",
            Principal: { Service: "logging.s3.amazonaws.com" },
            Action: "s3:PutObject",
            Resource: { "Fn::Join": ["", [{ "Fn::GetAtt": [logsId, "Arn"] }, "/payloads/*"]] },
            Condition: { ArnLike: { "aws:SourceArn": { "Fn::GetAtt": [payloadsId, "Arn"] } }, StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
          },
        ]),
      },
    });
  });

  it("the granted payload prefix is where S3PayloadStore writes", async () => {
    let key: string | undefined;
    const client = { send: async (command: { input: { Key: string } }) => ((key = command.input.Key), {}) } as unknown as S3Client;
    await new S3PayloadStore({ bucket: "b", client }).offload(gapMarker("c1", 1, 2, "test"));
    expect(key?.startsWith(PAYLOAD_KEY_PREFIX)).toBe(true);
  });

  it("construct props are applied: archive retention 0 keeps events indefinitely, a longer visibility, fan-out concurrency and cache", () => {
    const stack = new Stack(new App(), "Props");
    const { table } = new SinksTable(stack, "T");
    const payloads = new PayloadBucket(stack, "P", { expirationDays: 60 });
    const bus = new NomadEventBus(stack, "B", { archiveRetentionDays: 0, ingestVisibilityTimeout: Duration.minutes(12) });
    const delivery = new Delivery(stack, "D", { sinksTable: table, bundleDir, payloads, retryHorizon: Duration.days(13) });
    new Fanout(stack, "F", { ingest: bus, sinksTable: table, deliveryQueue: delivery.queue, payloads, bundleDir, maxConcurrency: 7, sinkCacheTtl: Duration.seconds(0), timeout: Duration.minutes(2) });
    const t = Template.fromStack(stack);
    t.hasResourceProperties("AWS::Events::Archive", { RetentionDays: 0 });
    t.hasResourceProperties("AWS::SQS::Queue", { VisibilityTimeout: 720, RedrivePolicy: Match.objectLike({ maxReceiveCount: INGEST_QUEUE_MAX_RECEIVE_COUNT }) });
    t.hasResourceProperties("AWS::S3::Bucket", { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 60 })] } });
    t.hasResourceProperties("AWS::Lambda::EventSourceMapping", { ScalingConfig: { MaximumConcurrency: 7 } });
    t.hasResourceProperties("AWS::Lambda::Function", { Timeout: 120, Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: "fanout", SINK_CACHE_SECONDS: "0" }) } });
  });

  it("rejects bad props with what was given", () => {
    const stack = new Stack(new App(), "Bad");
    const { table } = new SinksTable(stack, "T");
    const payloads = new PayloadBucket(stack, "P");
    const bus = new NomadEventBus(stack, "B");
    const delivery = new Delivery(stack, "D", { sinksTable: table, bundleDir });
    const fanout = (id: string, props: Partial<ConstructorParameters<typeof Fanout>[2]>) => new Fanout(stack, id, { ingest: bus, sinksTable: table, deliveryQueue: delivery.queue, payloads, bundleDir, ...props });

    expect(() => new PayloadBucket(stack, "P1", { expirationDays: 0 })).toThrow("PayloadBucket P1: expirationDays must be an integer from 1 to 3650, but 0 was provided");
    expect(() => new PayloadBucket(stack, "P2", { expirationDays: 1.5 })).toThrow("expirationDays must be an integer from 1 to 3650, but 1.5 was provided");
    expect(() => new PayloadBucket(stack, "P4", { accessLogExpirationDays: 0 })).toThrow("PayloadBucket P4: accessLogExpirationDays must be an integer from 1 to 3650, but 0 was provided");
    expect(() => new NomadEventBus(stack, "B1", { archiveRetentionDays: -1 })).toThrow("NomadEventBus B1: archiveRetentionDays must be a whole number of days, 0 (keep indefinitely) or more, but -1 was provided");
    expect(() => new NomadEventBus(stack, "B2", { ingestVisibilityTimeout: Duration.hours(13) })).toThrow("ingestVisibilityTimeout must be between 1 second and 12 hours, but 13 hours was provided");
    expect(() => fanout("F1", { maxConcurrency: 1 })).toThrow("Fanout F1: maxConcurrency must be an integer from 2 to 1000, but 1 was provided");
    expect(() => fanout("F2", { sinkCacheTtl: Duration.minutes(6) })).toThrow("sinkCacheTtl must be a whole number of seconds from 0 to 300, but 6 minutes was provided");
    expect(() => fanout("F3", { sinkCacheTtl: Duration.millis(1500) })).toThrow("sinkCacheTtl must be a whole number of seconds from 0 to 300, but 1 second 500 millis was provided");
    expect(() => fanout("F4", { timeout: Duration.minutes(16) })).toThrow("timeout must be between 1 second and 15 minutes, but 16 minutes was provided");
    expect(() => fanout("F5", { timeout: Duration.seconds(61) })).toThrow("Fanout F5: the ingest queue's visibility timeout must be at least six times the function's timeout (1 minute 1 second), but 6 minutes was provided");
    expect(() => new Delivery(stack, "D2", { sinksTable: table, bundleDir, allowedCidrs: ["10.0.0.0/33"] })).toThrow(
      'Delivery D2: allowedCidrs must be IPv4 or IPv6 CIDRs or addresses, but CIDR list "10.0.0.0/33" is not valid: entry 1 "10.0.0.0/33" has prefix length "33"',
    );
    expect(() => new SinksApi(stack, "A1", { table, delivery, bundleDir, allowedCidrs: ["10.0.0.0/8, fd00::/8"] })).toThrow('SinksApi A1: allowedCidrs must hold one CIDR per entry, but "10.0.0.0/8, fd00::/8" was provided');
    // A dead letter can be redriven for the dead-letter queue's 14 days after the horizon: 3 + 14 days.
    expect(() => new Delivery(stack, "D1", { sinksTable: table, bundleDir, payloads: new PayloadBucket(stack, "P3", { expirationDays: 14 }) })).toThrow(
      "Delivery D1: the payload bucket must keep payloads at least as long as the retry horizon (3 days) plus the dead-letter queue's retention (14 days), 17 days, but expirationDays 14 was provided",
    );
  });
});
