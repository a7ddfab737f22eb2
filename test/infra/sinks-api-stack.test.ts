import { join } from "node:path";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { Delivery } from "../../infra/constructs/delivery";
import { SinksApi } from "../../infra/constructs/sinks-api";
import { SinksTable } from "../../infra/constructs/sinks-table";
import { NomadEventSinksStack } from "../../infra/stack";

describe("CDK: sinks table and API", () => {
  // Built once for the run by the global setup.
  const bundleDir = inject("bundleDir");
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir }));
  });

  it("a sinks table with the shared key layout, point-in-time recovery, encryption, and retained", () => {
    template.hasResource("AWS::DynamoDB::GlobalTable", {
      DeletionPolicy: "Retain",
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        BillingMode: "PAY_PER_REQUEST",
        SSESpecification: Match.objectLike({ SSEEnabled: true }),
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true })],
      }),
    });
  });

  it("the sinks-api function: Node.js 22 on ARM64, source maps, told its table and token secret", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      Environment: {
        Variables: {
          POWERTOOLS_SERVICE_NAME: "sinks-api",
          SINKS_TABLE: { Ref: Match.stringLikeRegexp("SinksTable") },
          SINKS_MANAGEMENT_TOKEN_SECRET_ARN: { Ref: Match.stringLikeRegexp("ManagementToken") },
          DELIVERIES_TABLE: { Ref: Match.stringLikeRegexp("Deliveries") },
          DELIVERY_QUEUE_URL: { Ref: Match.stringLikeRegexp("DeliveryQueue") },
          DELIVERY_DLQ_URL: { Ref: Match.stringLikeRegexp("DeliveryDeadLetters") },
        },
      },
    });
  });

  it("grants the function data access to its table and read of its secret, nothing wider", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const statements = Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> } } }).Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Scan", "secretsmanager:GetSecretValue"]));
    for (const s of statements) {
      expect([s.Action].flat().some((a) => a === "*" || a.endsWith(":*"))).toBe(false);
      const resources = [s.Resource].flat();
      if ([s.Action].flat().some((a) => a.startsWith("dynamodb:") || a.startsWith("secretsmanager:"))) {
        expect(resources).not.toContain("*");
      }
    }
  });

  it("an HTTP API whose default route invokes the function, throttled, with access logs", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "$default" });
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    template.hasOutput("*", { Description: Match.stringLikeRegexp("Base URL of the sinks API") });
    template.hasOutput("*", { Value: { Ref: Match.stringLikeRegexp("ManagementToken") }, Description: Match.stringLikeRegexp("management token") });
  });

  it("rejects bad props with what was given", () => {
    const stack = new Stack(new App(), "Bad");
    const { table } = new SinksTable(stack, "T");
    const delivery = new Delivery(stack, "D", { sinksTable: table, bundleDir });
    expect(() => new SinksApi(stack, "A", { table, delivery, bundleDir, throttleBurstLimit: 0 })).toThrow("throttleBurstLimit must be a positive integer, but 0 was provided");
    expect(() => new SinksApi(stack, "B", { table, delivery, bundleDir: join(bundleDir, "nope") })).toThrow(/no bundle at .*nope\/sinks-api\/index.mjs; run `npm run build` first/);
    expect(() => new Delivery(stack, "E", { sinksTable: table, bundleDir, retryHorizon: Duration.days(20) })).toThrow("retryHorizon must be between 1 second and 13 days (SQS keeps messages 14 days at most), but 20 days was provided");
    expect(() => new Delivery(stack, "F", { sinksTable: table, bundleDir, maxConcurrency: 1 })).toThrow("maxConcurrency must be an integer from 2 to 1000, but 1 was provided");
  });

  it("delivery: a high-throughput FIFO queue with a FIFO dead-letter queue, the deliver function on it with partial batch responses, an attempt table with TTL", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      FifoQueue: true,
      DeduplicationScope: "messageGroup",
      FifoThroughputLimit: "perMessageGroupId",
      VisibilityTimeout: 720,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 1000 },
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { BatchSize: 10, FunctionResponseTypes: ["ReportBatchItemFailures"], ScalingConfig: { MaximumConcurrency: 20 } });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: "deliver", DELIVERY_RETRY_HORIZON_SECONDS: "259200" }) },
    });
    template.hasResourceProperties("AWS::DynamoDB::GlobalTable", { TimeToLiveSpecification: { AttributeName: "ExpiresAt", Enabled: true } });
  });
});
