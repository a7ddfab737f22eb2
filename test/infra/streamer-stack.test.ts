import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { EventBus } from "aws-cdk-lib/aws-events";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readStreamerConfig } from "../../functions/streamer/config";
import type { DeploymentSettings } from "../../infra/constructs/deployment-context";
import { Network } from "../../infra/constructs/network";
import { PayloadBucket } from "../../infra/constructs/payload-bucket";
import { Streamer } from "../../infra/constructs/streamer";
import { NomadEventSinksStack } from "../../infra/stack";
import { EXISTING_VPC_SETTINGS, STREAMER_SETTINGS, TOKEN_SECRET_ARN } from "./streamer-settings";

type Resources = Record<string, { Properties: Record<string, unknown> }>;

/** The one resource of `type` whose logical ID matches `id`: [logical ID, properties]. */
function only(template: Template, type: string, id: RegExp = /./): [string, Record<string, unknown>] {
  const found = Object.entries(template.findResources(type) as Resources).filter(([logicalId]) => id.test(logicalId));
  if (found.length !== 1) throw new Error(`expected one ${type} matching ${id}, found ${found.map(([l]) => l).join(", ") || "none"}`);
  return [found[0]![0], found[0]![1].Properties];
}

interface ContainerDefinition {
  Environment: Array<{ Name: string; Value: unknown }>;
  Secrets?: Array<{ Name: string; ValueFrom: unknown }>;
  [key: string]: unknown;
}

function containerOf(template: Template): ContainerDefinition {
  const [, task] = only(template, "AWS::ECS::TaskDefinition");
  const containers = task.ContainerDefinitions as ContainerDefinition[];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

/** The container's environment with every CloudFormation reference replaced by a placeholder string. */
function environmentOf(template: Template): Record<string, string> {
  return Object.fromEntries(containerOf(template).Environment.map(({ Name, Value }) => [Name, typeof Value === "string" ? Value : `<${JSON.stringify(Value)}>`]));
}

const stackWith = (bundleDir: string, settings: DeploymentSettings, app = new App()) => new NomadEventSinksStack(app, "Test", { bundleDir, ...settings });

describe("CDK: the streamer's service and its network", () => {
  const bundleDir = inject("bundleDir");
  const outDirs: string[] = [];
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(stackWith(bundleDir, STREAMER_SETTINGS));
  });
  afterAll(() => {
    for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
  });

  it("without nomadAddr: no service and no VPC, and the synthesis warns, naming the key", () => {
    const stack = stackWith(bundleDir, {});
    const t = Template.fromStack(stack);
    for (const type of ["AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition", "AWS::EC2::VPC", "AWS::EC2::VPCEndpoint", "AWS::EC2::NatGateway"]) t.resourceCountIs(type, 0);
    Annotations.fromStack(stack).hasWarning("/Test", Match.stringLikeRegexp("^nomadAddr is not set, so the streamer's Fargate service and its VPC are not deployed.*-c nomadAddr="));
  });

  it("a Fargate task for ARM64 Linux: 0.25 vCPU, 512 MiB, one essential container with a read-only root file system", () => {
    const [, task] = only(template, "AWS::ECS::TaskDefinition");
    expect(task).toMatchObject({ RequiresCompatibilities: ["FARGATE"], NetworkMode: "awsvpc", Cpu: "256", Memory: "512", RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" } });
    expect(containerOf(template)).toMatchObject({ Essential: true, ReadonlyRootFilesystem: true });
  });

  it("the container is told exactly what readStreamerConfig reads, and reads a whole configuration from it", () => {
    const env = environmentOf(template);
    expect(Object.keys(env).sort()).toEqual(["EVENT_BUS_NAME", "HEALTH_PORT", "METRICS_NAMESPACE", "NOMAD_ADDR", "PAYLOAD_BUCKET", "SHUTDOWN_TIMEOUT_SECONDS", "STREAMER_CLUSTER", "STREAMER_TABLE"]);
    expect(env).toMatchObject({ NOMAD_ADDR: "https://nomad.internal:4646", STREAMER_CLUSTER: "default", METRICS_NAMESPACE: "NomadEventSinks", HEALTH_PORT: "8081", SHUTDOWN_TIMEOUT_SECONDS: "25" });
    expect(env.EVENT_BUS_NAME).toMatch(/"Ref":"Bus[0-9A-F]{8}"/);
    expect(env.STREAMER_TABLE).toMatch(/"Ref":"StreamerState[0-9A-F]{8}"/);
    expect(env.PAYLOAD_BUCKET).toMatch(/"Ref":"PayloadsBucket[0-9A-F]{8}"/);
    expect(readStreamerConfig({ ...env, NOMAD_TOKEN: "from-secrets-manager" })).toMatchObject({
      nomad: { address: "https://nomad.internal:4646", token: "from-secrets-manager", namespace: "*" },
      cluster: "default",
      busName: env.EVENT_BUS_NAME,
      tableName: env.STREAMER_TABLE,
      payloadBucket: env.PAYLOAD_BUCKET,
      healthPort: 8081,
      shutdownMs: 25_000,
      metricsNamespace: "NomadEventSinks",
    });
  });

  it("NOMAD_TOKEN comes from the secret named by its complete ARN, injected by ECS (the execution role reads it, not the task)", () => {
    expect(containerOf(template).Secrets).toEqual([{ Name: "NOMAD_TOKEN", ValueFrom: TOKEN_SECRET_ARN }]);
  });

  it("the optional Nomad settings reach the container, and no token means no secret", () => {
    const t = Template.fromStack(stackWith(bundleDir, { nomadAddr: "nomad.internal:4646", nomadRegion: "eu", nomadNamespace: "prod", streamerCluster: "prod-eu" }));
    const env = environmentOf(t);
    expect(env).toMatchObject({ NOMAD_ADDR: "nomad.internal:4646", NOMAD_REGION: "eu", NOMAD_NAMESPACE: "prod", STREAMER_CLUSTER: "prod-eu" });
    expect(readStreamerConfig(env)).toMatchObject({ nomad: { address: "http://nomad.internal:4646", region: "eu", namespace: "prod" }, cluster: "prod-eu" });
    expect(containerOf(t).Secrets).toBeUndefined();
  });

  it("a container health check on /health with node's fetch (the image has no curl), and 10 s past the shutdown bound before SIGKILL", () => {
    const dockerfile = readFileSync(join(import.meta.dirname, "../../functions/streamer/Dockerfile"), "utf8");
    expect(dockerfile).not.toMatch(/curl/);
    expect(containerOf(template)).toMatchObject({
      HealthCheck: { Command: ["CMD", "node", "-e", expect.stringContaining("fetch('http://127.0.0.1:8081/health')")], Interval: 15, Timeout: 5, Retries: 3, StartPeriod: 30 },
      StopTimeout: 35,
    });
  });

  it("logs to its own log group, kept a month, without blocking the streamer", () => {
    const [logsId, logs] = only(template, "AWS::Logs::LogGroup", /^StreamerLogs/);
    expect(logs).toEqual({ RetentionInDays: 30 });
    expect(containerOf(template).LogConfiguration).toEqual({
      LogDriver: "awslogs",
      Options: { "awslogs-group": { Ref: logsId }, "awslogs-stream-prefix": "streamer", "awslogs-region": { Ref: "AWS::Region" }, mode: "non-blocking", "max-buffer-size": "26214400b" },
    });
  });

  it("the image is the Dockerfile's, built for ARM64 from the repository root; synthesis only stages it (no Docker)", () => {
    const outdir = mkdtempSync(join(tmpdir(), "nes-streamer-"));
    outDirs.push(outdir);
    const app = new App({ outdir });
    stackWith(bundleDir, STREAMER_SETTINGS, app);
    app.synth();
    const manifest = JSON.parse(readFileSync(join(outdir, "Test.assets.json"), "utf8")) as { dockerImages: Record<string, { source: { directory: string; dockerFile?: string; platform?: string } }> };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source).toMatchObject({ dockerFile: "functions/streamer/Dockerfile", platform: "linux/arm64" });
    const staged = join(outdir, images[0]!.source.directory);
    // The root's .dockerignore keeps the context to the bundle; the Dockerfile must be staged too for the build.
    expect(existsSync(join(staged, "functions/streamer/Dockerfile"))).toBe(true);
    expect(existsSync(join(staged, "node_modules"))).toBe(false);
    expect(existsSync(join(staged, "shared"))).toBe(false);
    expect(containerOf(Template.fromStack(app.node.findChild("Test") as Stack)).Image).toEqual({ "Fn::Sub": expect.stringMatching(/container-assets.*:[0-9a-f]{64}$/) });
  });

  it("one task, replaced by starting the new one first (the lease hands over), a circuit breaker that rolls back, private subnets, no public IP", () => {
    const [, service] = only(template, "AWS::ECS::Service");
    const [sgId] = only(template, "AWS::EC2::SecurityGroup", /^StreamerSecurityGroup/);
    expect(service).toMatchObject({
      LaunchType: "FARGATE",
      PlatformVersion: "LATEST",
      DesiredCount: 1,
      EnableExecuteCommand: false,
      DeploymentConfiguration: { MinimumHealthyPercent: 100, MaximumPercent: 200, DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: "DISABLED", SecurityGroups: [{ "Fn::GetAtt": [sgId, "GroupId"] }], Subnets: [{ Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1/) }, { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2/) }] } },
    });
    template.hasResourceProperties("AWS::ECS::Cluster", { ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }] });
  });

  it("its lease and checkpoint table: pk/sk, on demand, point-in-time recovery, retained", () => {
    const [, table] = only(template, "AWS::DynamoDB::GlobalTable", /^StreamerState/);
    expect(table).toMatchObject({
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      Replicas: [expect.objectContaining({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true })],
    });
    template.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Retain", Properties: Match.objectLike({ Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })] }) });
  });

  it("the streamer's security group: no inbound; outbound HTTPS and Nomad's port only (one rule when Nomad is on 443)", () => {
    const [, sg] = only(template, "AWS::EC2::SecurityGroup", /^StreamerSecurityGroup/);
    expect(sg.SecurityGroupIngress).toBeUndefined();
    expect(sg.SecurityGroupEgress).toEqual([
      expect.objectContaining({ CidrIp: "0.0.0.0/0", IpProtocol: "tcp", FromPort: 443, ToPort: 443 }),
      expect.objectContaining({ CidrIp: "0.0.0.0/0", IpProtocol: "tcp", FromPort: 4646, ToPort: 4646 }),
    ]);
    const onHttps = Template.fromStack(stackWith(bundleDir, { nomadAddr: "https://nomad.example.com" }));
    expect(only(onHttps, "AWS::EC2::SecurityGroup", /^StreamerSecurityGroup/)[1].SecurityGroupEgress).toEqual([expect.objectContaining({ FromPort: 443, ToPort: 443 })]);
  });

  it("a new VPC: two zones, one NAT gateway, private subnets with a route out, flow logs kept a month", () => {
    template.resourceCountIs("AWS::EC2::VPC", 1);
    template.resourceCountIs("AWS::EC2::NatGateway", 1);
    template.resourceCountIs("AWS::EC2::Subnet", 4);
    template.hasResourceProperties("AWS::EC2::Subnet", { MapPublicIpOnLaunch: false, Tags: Match.arrayWith([{ Key: "aws-cdk:subnet-type", Value: "Private" }]) });
    template.hasResourceProperties("AWS::EC2::Route", { DestinationCidrBlock: "0.0.0.0/0", NatGatewayId: Match.anyValue() });
    const [flowLogsId, flowLogs] = only(template, "AWS::Logs::LogGroup", /^NetworkFlowLogs/);
    expect(flowLogs).toEqual({ RetentionInDays: 30 });
    template.hasResourceProperties("AWS::EC2::FlowLog", { ResourceType: "VPC", TrafficType: "ALL", LogDestinationType: "cloud-watch-logs", LogGroupName: { Ref: flowLogsId } });
    template.hasResourceProperties("AWS::EC2::VPC", { CidrBlock: "10.0.0.0/16" });
  });

  it("endpoints keep the streamer's AWS traffic in the VPC: interface endpoints open to the streamer only, S3 and DynamoDB gateways on the private route tables", () => {
    const endpoints = Object.values(template.findResources("AWS::EC2::VPCEndpoint") as Resources).map((e) => e.Properties);
    const service = (e: Record<string, unknown>) => ((e.ServiceName as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1].at(-1) as string).slice(1);
    const [endpointSgId, endpointSg] = only(template, "AWS::EC2::SecurityGroup", /^NetworkEndpointSecurityGroup/);
    const [streamerSgId] = only(template, "AWS::EC2::SecurityGroup", /^StreamerSecurityGroup/);
    expect(endpoints.filter((e) => e.VpcEndpointType === "Interface").map(service).sort()).toEqual(["ecr.api", "ecr.dkr", "events", "logs", "secretsmanager"]);
    for (const e of endpoints.filter((x) => x.VpcEndpointType === "Interface")) {
      expect(e).toMatchObject({ PrivateDnsEnabled: true, SecurityGroupIds: [{ "Fn::GetAtt": [endpointSgId, "GroupId"] }], SubnetIds: [{ Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1/) }, { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2/) }] });
    }
    const gateways = endpoints.filter((e) => e.VpcEndpointType === "Gateway");
    expect(gateways.map(service).sort()).toEqual(["dynamodb", "s3"]);
    for (const g of gateways) expect(g.RouteTableIds).toEqual([{ Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet1RouteTable/) }, { Ref: expect.stringMatching(/^NetworkVpcPrivateSubnet2RouteTable/) }]);
    expect(endpointSg.SecurityGroupIngress).toBeUndefined();
    expect(Object.values(template.findResources("AWS::EC2::SecurityGroupIngress") as Resources).map((r) => r.Properties)).toEqual([
      expect.objectContaining({ GroupId: { "Fn::GetAtt": [endpointSgId, "GroupId"] }, SourceSecurityGroupId: { "Fn::GetAtt": [streamerSgId, "GroupId"] }, IpProtocol: "tcp", FromPort: 443, ToPort: 443 }),
    ]);
  });

  it("natGateways 0: isolated private subnets, no NAT or internet gateway (Nomad by peering); the endpoints still serve AWS", () => {
    const t = Template.fromStack(stackWith(bundleDir, { ...STREAMER_SETTINGS, natGateways: 0, vpcCidr: "10.42.0.0/20" }));
    t.resourceCountIs("AWS::EC2::NatGateway", 0);
    t.resourceCountIs("AWS::EC2::InternetGateway", 0);
    t.resourceCountIs("AWS::EC2::Subnet", 2);
    t.hasResourceProperties("AWS::EC2::Subnet", { Tags: Match.arrayWith([{ Key: "aws-cdk:subnet-type", Value: "Isolated" }]) });
    t.hasResourceProperties("AWS::EC2::VPC", { CidrBlock: "10.42.0.0/20" });
    t.resourceCountIs("AWS::EC2::VPCEndpoint", 7);
  });

  it("an existing VPC by ID (no lookup): the service in the given subnets, gateway endpoints on the given route tables, no VPC, NAT or flow log created", () => {
    const t = Template.fromStack(stackWith(bundleDir, EXISTING_VPC_SETTINGS));
    for (const type of ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::FlowLog"]) t.resourceCountIs(type, 0);
    expect(only(t, "AWS::ECS::Service")[1].NetworkConfiguration).toEqual({ AwsvpcConfiguration: expect.objectContaining({ Subnets: EXISTING_VPC_SETTINGS.privateSubnetIds }) });
    t.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Interface", VpcId: EXISTING_VPC_SETTINGS.vpcId, SubnetIds: EXISTING_VPC_SETTINGS.privateSubnetIds });
    t.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Gateway", VpcId: EXISTING_VPC_SETTINGS.vpcId, RouteTableIds: EXISTING_VPC_SETTINGS.privateSubnetRouteTableIds });
    t.hasResourceProperties("AWS::EC2::SecurityGroup", { VpcId: EXISTING_VPC_SETTINGS.vpcId });
  });

  it("vpcEndpoints false: no endpoints and no endpoint security group (the VPC has its own), so no route tables are needed", () => {
    const { privateSubnetRouteTableIds: _, ...withoutTables } = EXISTING_VPC_SETTINGS;
    const t = Template.fromStack(stackWith(bundleDir, { ...withoutTables, vpcEndpoints: false }));
    t.resourceCountIs("AWS::EC2::VPCEndpoint", 0);
    t.resourceCountIs("AWS::EC2::SecurityGroupIngress", 0);
    t.resourceCountIs("AWS::EC2::SecurityGroup", 1);
  });

  it("construct props are applied: cluster label, metrics namespace, shutdown bound, size, and the stop timeout follows the bound", () => {
    const stack = new Stack(new App(), "Props");
    const network = new Network(stack, "N", { natGateways: 2 });
    new Streamer(stack, "S", {
      network,
      bus: new EventBus(stack, "B"),
      payloads: new PayloadBucket(stack, "P"),
      nomadAddr: "http://10.0.0.10:4646",
      nomadCluster: "eu.prod_1",
      metricsNamespace: "Custom",
      shutdownTimeout: Duration.seconds(110),
      cpu: 512,
      memoryLimitMiB: 1024,
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs("AWS::EC2::NatGateway", 2);
    const [, task] = only(t, "AWS::ECS::TaskDefinition");
    expect(task).toMatchObject({ Cpu: "512", Memory: "1024" });
    const container = containerOf(t);
    expect(container.StopTimeout).toBe(120);
    expect(container.Environment).toEqual(expect.arrayContaining([{ Name: "STREAMER_CLUSTER", Value: "eu.prod_1" }, { Name: "METRICS_NAMESPACE", Value: "Custom" }, { Name: "SHUTDOWN_TIMEOUT_SECONDS", Value: "110" }]));
  });

  it("rejects bad props with what was given", () => {
    const stack = new Stack(new App(), "Bad");
    const network = new Network(stack, "N");
    const base = { network, bus: new EventBus(stack, "B"), payloads: new PayloadBucket(stack, "P"), nomadAddr: "http://nomad:4646" };
    expect(() => new Streamer(stack, "S1", { ...base, nomadAddr: "ftp://nomad" })).toThrow('Streamer S1: nomadAddr must be a URL such as https://nomad.internal:4646, but "ftp://nomad" was provided');
    expect(() => new Streamer(stack, "S2", { ...base, nomadCluster: "eu prod" })).toThrow(`Streamer S2: nomadCluster must be 1-64 letters, digits, '.', '_' or '-', but "eu prod" was provided`);
    expect(() => new Streamer(stack, "S3", { ...base, shutdownTimeout: Duration.seconds(111) })).toThrow("Streamer S3: shutdownTimeout must be a whole number of seconds from 1 to 110 (Fargate stops a container at most 120 s after SIGTERM), but 1 minute 51 seconds was provided");
    expect(() => new Streamer(stack, "S4", { ...base, shutdownTimeout: Duration.millis(1500) })).toThrow("shutdownTimeout must be a whole number of seconds from 1 to 110");
    expect(() => new Network(stack, "N1", { natGateways: 3 })).toThrow("Network N1: natGateways must be an integer from 0 to 2 (one per zone at most), but 3 was provided");
    expect(() => new Network(stack, "N2", { cidr: "10.0.0.0/8" })).toThrow('Network N2: cidr must be an IPv4 CIDR from /16 to /24, but "10.0.0.0/8" was provided');
    const existingVpc = { vpcId: EXISTING_VPC_SETTINGS.vpcId, privateSubnetIds: EXISTING_VPC_SETTINGS.privateSubnetIds, availabilityZones: EXISTING_VPC_SETTINGS.availabilityZones, privateSubnetRouteTableIds: EXISTING_VPC_SETTINGS.privateSubnetRouteTableIds };
    expect(() => new Network(stack, "N3", { existingVpc, natGateways: 1 })).toThrow("Network N3: natGateways and cidr describe a new VPC; they cannot be combined with existingVpc (vpc-0123456789abcdef0)");
    expect(() => new Network(stack, "N4", { existingVpc: { ...existingVpc, privateSubnetIds: ["subnet-1"] } })).toThrow('Network N4: privateSubnetIds must be subnet IDs such as subnet-0123456789abcdef0, but "subnet-1" was provided');
    expect(() => new Network(stack, "N5", { existingVpc: { ...existingVpc, availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"] } })).toThrow(
      'Network N5: privateSubnetIds must hold a multiple of the 3 availability zones\' count of subnets, but ["subnet-0aaaaaaaaaaaaaaa1","subnet-0aaaaaaaaaaaaaaa2"] was provided',
    );
    const { privateSubnetRouteTableIds: _, ...withoutTables } = existingVpc;
    expect(() => new Network(stack, "N6", { existingVpc: withoutTables })).toThrow("Network N6: privateSubnetRouteTableIds must be given with the VPC endpoints on (the S3 and DynamoDB gateway endpoints are routes in them), but none was provided");
    expect(() => new Network(stack, "N7", { existingVpc: { ...existingVpc, privateSubnetRouteTableIds: ["rtb-0bbbbbbbbbbbbbbb1"] } })).toThrow("Network N7: privateSubnetRouteTableIds must name one route table per subnet (2)");
  });
});
