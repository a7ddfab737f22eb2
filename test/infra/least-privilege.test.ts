import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { NomadEventSinksStack } from "../../infra/stack";
import { grantsOf, iamStatements, leastPrivilegeViolations, resourcesFor } from "./iam-policies";

/** Logical IDs end in an 8-hex hash; compare by the readable part. */
const named = (ids: readonly string[]) => ids.map((id) => id.replace(/[0-9A-F]{8}(?=$|\/)/, "")).sort();

describe("CDK: least privilege", () => {
  const bundleDir = inject("bundleDir");
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(new NomadEventSinksStack(new App(), "Test", { bundleDir }));
  });

  it("no wildcard action, NotAction or NotResource, and no Resource \"*\" on data stores, queues, secrets or the bus in any IAM policy", () => {
    expect(iamStatements(template).length).toBeGreaterThan(10);
    expect(leastPrivilegeViolations(template)).toEqual([]);
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

  it("no function may send to the ingest queue or either bus dead-letter queue (only the rule may), nor touch the bus", () => {
    for (const fn of [/^FanoutHandler/, /^DeliveryHandler/, /^SinksApiHandler/]) {
      const grants = grantsOf(template, fn);
      expect(resourcesFor(grants, "sqs:SendMessage").filter((r) => r.startsWith("Bus"))).toEqual([]);
      expect(grants.flatMap((g) => g.actions).filter((a) => a.startsWith("events:"))).toEqual([]);
    }
  });

  it("the sinks API has no access to the ingest side or the payload bucket", () => {
    const resources = grantsOf(template, /^SinksApiHandler/).flatMap((g) => g.resources);
    expect(resources.filter((r) => /^(Bus|Payloads)/.test(r))).toEqual([]);
  });
});
