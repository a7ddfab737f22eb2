import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, inject, it } from "vitest";
import { DeploymentContextError, readDeploymentContext } from "../../infra/constructs/deployment-context";
import { NomadEventSinksStack } from "../../infra/stack";

const read = (context: Record<string, unknown>) => readDeploymentContext((key) => new App({ context }).node.tryGetContext(key));

describe("CDK: deployment context", () => {
  const bundleDir = inject("bundleDir");

  it("nothing set: no settings, so every construct default applies", () => {
    expect(read({})).toEqual({});
    expect(read({ alarmEmail: "", allowedCidrs: "" })).toEqual({});
  });

  it.each([
    ["-c strings", { alarmEmail: " ops@example.com ", archiveRetentionDays: "0", deliverMaxConcurrency: "50", fanoutMaxConcurrency: "200", allowedCidrs: "10.0.0.0/8, fd00::/8", retryHorizonSeconds: "3600" }],
    ["cdk.json values", { alarmEmail: "ops@example.com", archiveRetentionDays: 0, deliverMaxConcurrency: 50, fanoutMaxConcurrency: 200, allowedCidrs: ["10.0.0.0/8", "fd00::/8"], retryHorizonSeconds: 3600 }],
  ])("reads %s", (_, context) => {
    expect(read(context)).toEqual({ alarmEmail: "ops@example.com", archiveRetentionDays: 0, deliverMaxConcurrency: 50, fanoutMaxConcurrency: 200, allowedCidrs: ["10.0.0.0/8", "fd00::/8"], retryHorizonSeconds: 3600 });
  });

  it.each([
    [{ alarmEmail: "ops" }, 'Context value alarmEmail must be an e-mail address, but "ops" was given (set it in cdk.json "context" or with -c alarmEmail=...)'],
    [{ alarmEmail: 42 }, "Context value alarmEmail must be an e-mail address, but number 42 was given"],
    [{ archiveRetentionDays: "-1" }, 'Context value archiveRetentionDays must be an integer of 0 or more, but "-1" was given'],
    [{ archiveRetentionDays: "a year" }, 'Context value archiveRetentionDays must be an integer of 0 or more, but "a year" was given'],
    [{ deliverMaxConcurrency: "1" }, 'Context value deliverMaxConcurrency must be an integer from 2 to 1000, but "1" was given'],
    [{ deliverMaxConcurrency: 2.5 }, "Context value deliverMaxConcurrency must be an integer from 2 to 1000, but number 2.5 was given"],
    [{ fanoutMaxConcurrency: "1001" }, 'Context value fanoutMaxConcurrency must be an integer from 2 to 1000, but "1001" was given'],
    [{ fanoutMaxConcurrency: "1e3" }, 'Context value fanoutMaxConcurrency must be an integer from 2 to 1000, but "1e3" was given'],
    [{ retryHorizonSeconds: "0" }, 'Context value retryHorizonSeconds must be an integer from 1 to 1123200 (13 days: SQS keeps a message 14 days at most), but "0" was given'],
    [{ allowedCidrs: "10.0.0.0/33" }, 'Context value allowedCidrs must list IPv4 or IPv6 CIDRs, but CIDR list "10.0.0.0/33" is not valid: entry 1 "10.0.0.0/33"'],
    [{ allowedCidrs: { cidr: "10.0.0.0/8" } }, 'Context value allowedCidrs must be a list of CIDRs (a JSON array of strings, or comma-separated), but an object {"cidr":"10.0.0.0/8"} was given'],
  ])("rejects %j", (context, message) => {
    expect(() => read(context)).toThrow(DeploymentContextError);
    expect(() => read(context)).toThrow(message);
  });

  it("the stack applies the settings to the archive, the functions, their event sources and the alarm topic", () => {
    const settings = read({ alarmEmail: "ops@example.com", archiveRetentionDays: "90", deliverMaxConcurrency: "40", fanoutMaxConcurrency: "8", allowedCidrs: "10.0.0.0/8", retryHorizonSeconds: "86400" });
    const template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir, ...settings }));
    template.hasResourceProperties("AWS::Events::Archive", { RetentionDays: 90 });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^DeliveryQueue"), "Arn"] }, ScalingConfig: { MaximumConcurrency: 40 } });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { EventSourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^BusIngestQueue"), "Arn"] }, ScalingConfig: { MaximumConcurrency: 8 } });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: "deliver", DELIVERY_RETRY_HORIZON_SECONDS: "86400", WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/8" }) },
    });
    template.hasResourceProperties("AWS::Lambda::Function", { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: "sinks-api", WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/8" }) } });
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com" });
  });
});
