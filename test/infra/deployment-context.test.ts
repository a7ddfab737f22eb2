import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, inject, it } from "vitest";
import { DeploymentContextError, readDeploymentContext } from "../../infra/constructs/deployment-context";
import { NomadEventSinksStack } from "../../infra/stack";
import { EXISTING_VPC_SETTINGS, TOKEN_SECRET_ARN } from "./streamer-settings";

const read = (context: Record<string, unknown>) => {
  const app = new App({ context });
  return readDeploymentContext(app.node.getAllContext() as Record<string, unknown>);
};

describe("CDK: deployment context", () => {
  const bundleDir = inject("bundleDir");

  it.each([
    [{ deliverMaxConcurency: 50 }, "deliverMaxConcurrency"],
    [{ alarmemail: "ops@example.com" }, "alarmEmail"],
    [{ NomadAddr: "https://nomad.internal:4646" }, "nomadAddr"],
    [{ allowedCidr: "10.0.0.0/8" }, "allowedCidrs"],
    [{ vpcid: "vpc-0123456789abcdef0" }, "vpcId"],
  ])("a misspelt key (%j) fails, naming the key it looks like", (context, meant) => {
    const key = Object.keys(context)[0]!;
    expect(() => read(context)).toThrow(DeploymentContextError);
    expect(() => read(context)).toThrow(`Context key ${key} is not one this app reads; did you mean ${meant}?`);
  });

  it("leaves other keys alone: CDK's own flags and a team's unrelated context", () => {
    expect(read({ "@aws-cdk/aws-lambda:recognizeLayerVersion": true, "aws-cdk:enableDiffNoFail": "true", costCenter: "platform", appId: "x", apiId: "y", deliverMaxConcurrency: 50 })).toEqual({ deliverMaxConcurrency: 50 });
  });

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

  it.each([
    [
      "-c strings",
      {
        nomadAddr: " https://nomad.internal:4646 ",
        nomadRegion: "eu",
        nomadNamespace: "*",
        nomadTokenSecretArn: TOKEN_SECRET_ARN,
        streamerCluster: "prod-eu",
        vpcId: "vpc-0123456789abcdef0",
        privateSubnetIds: "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2",
        availabilityZones: "eu-west-1a, eu-west-1b",
        privateSubnetRouteTableIds: "rtb-0bbbbbbbbbbbbbbb1,rtb-0bbbbbbbbbbbbbbb2",
        vpcEndpoints: "true",
      },
    ],
    [
      "cdk.json values",
      {
        nomadAddr: "https://nomad.internal:4646",
        nomadRegion: "eu",
        nomadNamespace: "*",
        nomadTokenSecretArn: TOKEN_SECRET_ARN,
        streamerCluster: "prod-eu",
        vpcId: "vpc-0123456789abcdef0",
        privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        availabilityZones: ["eu-west-1a", "eu-west-1b"],
        privateSubnetRouteTableIds: ["rtb-0bbbbbbbbbbbbbbb1", "rtb-0bbbbbbbbbbbbbbb2"],
        vpcEndpoints: true,
      },
    ],
  ])("reads the streamer's and an existing VPC's settings from %s", (_, context) => {
    expect(read(context)).toEqual({ ...EXISTING_VPC_SETTINGS, nomadRegion: "eu", nomadNamespace: "*", streamerCluster: "prod-eu", vpcEndpoints: true });
  });

  it("reads a new VPC's settings", () => {
    expect(read({ nomadAddr: "10.1.2.3:4646", natGateways: "0", vpcCidr: "10.42.0.0/20", vpcEndpoints: "false" })).toEqual({ nomadAddr: "10.1.2.3:4646", natGateways: 0, vpcCidr: "10.42.0.0/20", vpcEndpoints: false });
    expect(read({ nomadAddr: "http://nomad:4646", natGateways: 2 })).toEqual({ nomadAddr: "http://nomad:4646", natGateways: 2 });
  });

  it.each([
    [{ nomadAddr: "ftp://nomad" }, 'Context value nomadAddr must be Nomad\'s address as reachable from the VPC, such as https://nomad.internal:4646, but "ftp://nomad" was given'],
    [{ nomadAddr: "http://127.0.0.1:4646" }, 'Context value nomadAddr must be Nomad\'s address as reachable from the VPC, such as https://nomad.internal:4646 (a loopback address is the task itself), but "http://127.0.0.1:4646" was given'],
    [{ nomadAddr: "localhost:4646" }, "(a loopback address is the task itself)"],
    [{ nomadAddr: 4646 }, "Context value nomadAddr must be Nomad's address as reachable from the VPC, such as https://nomad.internal:4646, but number 4646 was given"],
    [{ nomadRegion: "eu" }, 'Context value nomadRegion configures the streamer\'s service, which is deployed only with nomadAddr: set nomadAddr too (in cdk.json "context" or with -c nomadAddr=https://nomad.internal:4646)'],
    [{ vpcId: "vpc-0123456789abcdef0" }, "Context value vpcId configures the streamer's service, which is deployed only with nomadAddr"],
    [{ nomadAddr: "http://nomad:4646", nomadNamespace: "prod/eu" }, 'Context value nomadNamespace must be a Nomad namespace name, or * for all, but "prod/eu" was given'],
    [{ nomadAddr: "http://nomad:4646", nomadTokenSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nomad-token" }, "Context value nomadTokenSecretArn must be the complete ARN of a Secrets Manager secret, with the 6-character suffix Secrets Manager adds"],
    [{ nomadAddr: "http://nomad:4646", streamerCluster: "prod eu" }, `Context value streamerCluster must be 1-64 letters, digits, '.', '_' or '-', but "prod eu" was given`],
    [{ nomadAddr: "http://nomad:4646", vpcEndpoints: "yes" }, 'Context value vpcEndpoints must be true or false, but "yes" was given'],
    [{ nomadAddr: "http://nomad:4646", natGateways: "3" }, 'Context value natGateways must be an integer from 0 to 2, but "3" was given'],
    [{ nomadAddr: "http://nomad:4646", vpcCidr: "10.0.0.0/8" }, 'Context value vpcCidr must be an IPv4 CIDR from /16 to /24, but "10.0.0.0/8" was given'],
    [{ nomadAddr: "http://nomad:4646", vpcCidr: "300.0.0.0/16" }, 'Context value vpcCidr must be an IPv4 CIDR from /16 to /24, but "300.0.0.0/16" was given'],
    [{ nomadAddr: "http://nomad:4646", privateSubnetIds: "subnet-0aaaaaaaaaaaaaaa1" }, "Context value privateSubnetIds describes an existing VPC: set vpcId too, or leave it out to create a VPC"],
    [{ ...EXISTING_VPC_SETTINGS, natGateways: 1 }, "Context value natGateways describes the VPC this stack creates, but vpcId names an existing one: leave out one or the other"],
    [{ nomadAddr: "http://nomad:4646", vpcId: "vpc-0123456789abcdef0" }, "Context value vpcId needs privateSubnetIds and availabilityZones too: the streamer's subnets and their zones (no lookup, so synthesis stays offline)"],
    [{ ...EXISTING_VPC_SETTINGS, vpcId: "vpc-1" }, 'Context value vpcId must be a VPC ID such as vpc-0123456789abcdef0, but "vpc-1" was given'],
    [{ ...EXISTING_VPC_SETTINGS, privateSubnetIds: [] }, "Context value privateSubnetIds must be subnet IDs (a JSON array of strings, or comma-separated), but an array [] was given"],
    [{ ...EXISTING_VPC_SETTINGS, privateSubnetRouteTableIds: undefined }, "Context values: privateSubnetRouteTableIds must be given with the VPC endpoints on (the S3 and DynamoDB gateway endpoints are routes in them), but none was provided (set it in cdk.json \"context\" or with -c key=...; vpcEndpoints=false needs no route tables)"],
    [{ ...EXISTING_VPC_SETTINGS, availabilityZones: "eu-west-1" }, 'Context values: availabilityZones must be zone names such as eu-west-1a, but "eu-west-1" was provided'],
  ])("rejects the streamer's setting %j", (context, message) => {
    expect(() => read(context)).toThrow(DeploymentContextError);
    expect(() => read(context)).toThrow(message);
  });

  it("the stack applies the streamer's settings to its container, its secret and the VPC it runs in", () => {
    const settings = read({ ...EXISTING_VPC_SETTINGS, nomadRegion: "eu", nomadNamespace: "prod", streamerCluster: "prod-eu" });
    const template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir, ...settings }));
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: "NOMAD_ADDR", Value: "https://nomad.internal:4646" },
            { Name: "NOMAD_REGION", Value: "eu" },
            { Name: "NOMAD_NAMESPACE", Value: "prod" },
            { Name: "STREAMER_CLUSTER", Value: "prod-eu" },
          ]),
          Secrets: [{ Name: "NOMAD_TOKEN", ValueFrom: TOKEN_SECRET_ARN }],
        }),
      ],
    });
    template.hasResourceProperties("AWS::ECS::Service", { NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ Subnets: EXISTING_VPC_SETTINGS.privateSubnetIds }) } });
    template.resourceCountIs("AWS::EC2::VPC", 0);
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
