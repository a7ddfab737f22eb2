import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { NomadEventSinksStack } from "../../infra/stack";
import { grantsOf, grantsOfRole, iamStatements, leastPrivilegeViolations, resourcesFor, rolesAllowed, taskRolesOf } from "./iam-policies";
import { STREAMER_SETTINGS, TOKEN_SECRET_ARN } from "./streamer-settings";

/** Logical IDs end in an 8-hex hash; compare by the readable part. */
const named = (ids: readonly string[]) => ids.map((id) => id.replace(/[0-9A-F]{8}(?=$|\/)/, "")).sort();

describe("CDK: least privilege", () => {
  const bundleDir = inject("bundleDir");
  let template: Template;
  /** The stack with the streamer's service, its network and a token secret. */
  let withStreamer: Template;

  beforeAll(() => {
    template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir }));
    withStreamer = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir, ...STREAMER_SETTINGS }));
  });

  it("no wildcard action, NotAction or NotResource, and no Resource \"*\" on data stores, queues, secrets or the bus in any IAM policy", () => {
    expect(iamStatements(template).length).toBeGreaterThan(10);
    expect(leastPrivilegeViolations(template)).toEqual([]);
    expect(iamStatements(withStreamer).length).toBeGreaterThan(iamStatements(template).length);
    expect(leastPrivilegeViolations(withStreamer)).toEqual([]);
  });

  it("no role has an AWS managed policy (the basic execution role would let a function write to every log group)", () => {
    for (const t of [template, withStreamer]) {
      const roles = Object.entries(t.findResources("AWS::IAM::Role") as Record<string, { Properties: { ManagedPolicyArns?: unknown } }>);
      expect(roles.length).toBeGreaterThan(2);
      expect(roles.filter(([, role]) => role.Properties.ManagedPolicyArns !== undefined).map(([id]) => id)).toEqual([]);
    }
  });

  it("each function writes logs to its own log group only", () => {
    for (const fn of ["FanoutHandler", "DeliveryHandler", "SinksApiHandler"]) {
      const grants = grantsOf(template, new RegExp(`^${fn}Function`));
      expect(named(resourcesFor(grants, "logs:PutLogEvents"))).toEqual([`${fn}Logs`]);
      expect(named(resourcesFor(grants, "logs:CreateLogStream"))).toEqual([`${fn}Logs`]);
      expect(grants.flatMap((g) => g.actions).filter((a) => a.startsWith("logs:")).sort()).toEqual(["logs:CreateLogStream", "logs:PutLogEvents"]);
    }
  });

  it("the streamer's task: puts events on the bus, reads and writes its own table, stores payloads; nothing else, and no secret", () => {
    const { taskRole } = taskRolesOf(withStreamer, /^StreamerTask/);
    const grants = grantsOfRole(withStreamer, taskRole);
    expect([...new Set(grants.flatMap((g) => g.actions).map((a) => a.split(":")[0]))].sort()).toEqual(["dynamodb", "events", "s3"]);
    expect(grants.flatMap((g) => g.actions).filter((a) => a.startsWith("events:"))).toEqual(["events:PutEvents"]);
    expect(named(resourcesFor(grants, "events:PutEvents"))).toEqual(["Bus"]);
    for (const action of ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:PutItem"]) expect(named(resourcesFor(grants, action))).toEqual(["StreamerState"]);
    expect(named(grants.filter((g) => g.actions.some((a) => a.startsWith("dynamodb:"))).flatMap((g) => g.resources))).toEqual(["StreamerState", "StreamerState"]);
    expect(grants.flatMap((g) => g.actions).filter((a) => a.startsWith("s3:"))).toEqual(["s3:PutObject"]);
    expect(named(resourcesFor(grants, "s3:PutObject"))).toEqual(["PayloadsBucket/payloads/*"]);
  });

  it("the streamer's execution role: pulls the image, writes the streamer's log group, reads the token secret; nothing else", () => {
    const { executionRole } = taskRolesOf(withStreamer, /^StreamerTask/);
    const grants = grantsOfRole(withStreamer, executionRole);
    expect(resourcesFor(grants, "secretsmanager:GetSecretValue")).toEqual([TOKEN_SECRET_ARN]);
    expect(named(resourcesFor(grants, "logs:PutLogEvents"))).toEqual(["StreamerLogs"]);
    expect(resourcesFor(grants, "ecr:GetAuthorizationToken")).toEqual(["*"]);
    expect(resourcesFor(grants, "ecr:BatchGetImage")).toEqual([expect.stringContaining("container-assets")]);
    expect([...new Set(grants.flatMap((g) => g.actions).map((a) => a.split(":")[0]))].sort()).toEqual(["ecr", "logs", "secretsmanager"]);
  });

  it("only the streamer's task may put events on the bus, read the token or write the streamer's table", () => {
    const { taskRole, executionRole } = taskRolesOf(withStreamer, /^StreamerTask/);
    expect(rolesAllowed(withStreamer, "events:PutEvents", "Bus")).toEqual([taskRole]);
    expect(rolesAllowed(withStreamer, "dynamodb:UpdateItem", "StreamerState")).toEqual([taskRole]);
    expect(rolesAllowed(withStreamer, "secretsmanager:GetSecretValue", TOKEN_SECRET_ARN)).toEqual([executionRole]);
  });

  it("the check finds a wildcard action and an unscoped queue statement", () => {
    const stack = new Stack(new App(), "Wide");
    const role = new Role(stack, "Role", { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    role.addToPolicy(new PolicyStatement({ actions: ["sqs:*"], resources: ["*"] }));
    role.addToPolicy(new PolicyStatement({ actions: ["s3:GetObject*"], resources: ["arn:aws:s3:::b/*"] }));
    expect(leastPrivilegeViolations(Template.fromStack(stack))).toEqual([
      expect.stringMatching(/wildcard action sqs:\*$/),
      expect.stringMatching(/Resource "\*" for sqs:\*$/),
      expect.stringMatching(/wildcard action s3:GetObject\*$/),
    ]);
  });

  it("fanout: reads sinks, consumes the ingest queue, sends to the delivery queue, stores payloads; nothing else on data", () => {
    const grants = grantsOf(template, /^FanoutHandler/);
    const dataActions = grants.flatMap((g) => g.actions).filter((a) => !a.startsWith("xray:"));
    expect(dataActions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toEqual([]);
    expect(named(resourcesFor(grants, "dynamodb:Scan"))).toEqual(["SinksTable"]);
    expect(named(resourcesFor(grants, "sqs:ReceiveMessage"))).toEqual(["BusIngestQueue"]);
    expect(named(resourcesFor(grants, "sqs:DeleteMessage"))).toEqual(["BusIngestQueue"]);
    expect(named(resourcesFor(grants, "sqs:SendMessage"))).toEqual(["DeliveryQueue"]);
    expect(named(resourcesFor(grants, "s3:PutObject"))).toEqual(["PayloadsBucket/payloads/*"]);
    expect(dataActions.filter((a) => a.startsWith("s3:"))).toEqual(["s3:PutObject"]);
  });

  it("deliver: gets stored payloads and nothing else from the bucket", () => {
    const grants = grantsOf(template, /^DeliveryHandler/);
    expect(named(resourcesFor(grants, "s3:GetObject"))).toEqual(["PayloadsBucket/payloads/*"]);
    expect(grants.flatMap((g) => g.actions).filter((a) => a.startsWith("s3:"))).toEqual(["s3:GetObject"]);
  });

  it("no function may send to the ingest queue or either bus dead-letter queue (only the rule may), nor touch the bus; the sinks API may only start and read archive replays", () => {
    for (const fn of [/^FanoutHandler/, /^DeliveryHandler/, /^SinksApiHandler/]) {
      const grants = grantsOf(template, fn);
      expect(resourcesFor(grants, "sqs:SendMessage").filter((r) => r.startsWith("Bus"))).toEqual([]);
      const events = grants.flatMap((g) => g.actions).filter((a) => a.startsWith("events:"));
      expect(events.sort()).toEqual(fn.source.includes("SinksApi") ? ["events:DescribeReplay", "events:StartReplay"] : []);
    }
    // On the archive and on replays of its own naming, nothing else (not the bus: EventBridge itself puts replayed events).
    const replayGrants = grantsOf(template, /^SinksApiHandler/).filter((g) => g.actions.some((a) => a.startsWith("events:")));
    expect(replayGrants.flatMap((g) => g.resources).sort()).toEqual(["BusArchiveD76499E2", "arn:AWS::Partition:events:AWS::Region:AWS::AccountId:replay/replay-*"].sort());
  });

  it("the sinks API has no access to the ingest side or the payload bucket (only the archive, to replay it)", () => {
    const resources = grantsOf(template, /^SinksApiHandler/).flatMap((g) => g.resources);
    expect(resources.filter((r) => /^(Bus|Payloads)/.test(r))).toEqual(["BusArchiveD76499E2"]);
  });
});
