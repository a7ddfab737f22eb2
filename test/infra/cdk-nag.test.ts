import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Bucket } from "aws-cdk-lib/aws-s3";
import type { IConstruct } from "constructs";
import { afterAll, describe, expect, inject, it, vi } from "vitest";
import type { DeploymentSettings } from "../../infra/constructs/deployment-context";
import { acknowledgeNag, addNagChecks } from "../../infra/constructs/nag-checks";
import { NomadEventSinksStack } from "../../infra/stack";
import { EXISTING_VPC_SETTINGS, STREAMER_SETTINGS } from "./streamer-settings";

interface ValidationReport {
  pluginReports: Array<{ pluginName: string; violations: Array<{ ruleName: string; severity: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
}

const outDirs: string[] = [];
afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Synthesizes `app` with cdk-nag's AWS Solutions pack registered as `infra/app.ts` does, and
 * returns every finding of every validation plugin (cdk-nag and the CDK's own CloudFormation
 * checks), one `plugin: rule at path` line each.
 */
function findings(build: (app: App) => void): string[] {
  const outdir = mkdtempSync(join(tmpdir(), "nes-nag-"));
  outDirs.push(outdir);
  const app = new App({ outdir });
  build(app);
  addNagChecks(app);
  // A failed validation prints the report and throws; the report file is what is checked.
  const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    app.synth();
  } catch {
    // read below
  } finally {
    quiet.mockRestore();
  }
  const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as ValidationReport;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((violation) => violation.violatingConstructs.map((c) => `${plugin.pluginName}: ${violation.severity} ${violation.ruleName} at ${c.constructPath}`)),
  );
}

/**
 * Every acknowledgment of a cdk-nag rule under `root`: path, rule and reason. (The CDK makes
 * acknowledgments of its own, such as `CloudFormation-Validate::W3010` on a stack whose VPC
 * names its zones; those are not ours to review.)
 */
function nagAcknowledgments(root: IConstruct): Array<{ path: string; rule: string; reason: string; onStack: boolean }> {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .map(([rule, reason]) => ({ rule: rule.replace(/^annotation::/i, ""), reason }))
      .filter(({ rule }) => rule.startsWith("AwsSolutions-"))
      .map(({ rule, reason }) => ({
        path: construct.node.path,
        rule: rule.replace(/<PayloadsBucket[0-9A-F]{8}\.Arn>/, "<PayloadsBucket.Arn>"),
        reason,
        onStack: Stack.isStack(construct) || construct === root,
      })),
  );
}

describe("CDK: cdk-nag (AWS Solutions)", () => {
  const bundleDir = inject("bundleDir");

  it.each<[string, DeploymentSettings]>([
    ["without the streamer", {}],
    ["with the streamer in a new VPC", STREAMER_SETTINGS],
    ["with the streamer in a new VPC without NAT (isolated subnets)", { ...STREAMER_SETTINGS, natGateways: 0 }],
    ["with the streamer in an existing VPC", EXISTING_VPC_SETTINGS],
    ["with the streamer in an existing VPC that has its own endpoints", { nomadAddr: "http://10.1.2.3:4646", vpcId: EXISTING_VPC_SETTINGS.vpcId, privateSubnetIds: EXISTING_VPC_SETTINGS.privateSubnetIds, availabilityZones: ["eu-west-1a"], vpcEndpoints: false }],
  ])("the stack %s has no unacknowledged finding, and passes the CloudFormation checks", (_, settings) => {
    expect(findings((app) => new NomadEventSinksStack(app, "NomadEventSinks", { bundleDir, ...settings }))).toEqual([]);
  });

  it("the check reports what it should: an unlogged bucket is a finding until it is acknowledged", () => {
    expect(findings((app) => new Bucket(new Stack(app, "S"), "B", { enforceSSL: true }))).toEqual(["AwsSolutions: error AwsSolutions-S1 at S/B/Resource"]);
    expect(
      findings((app) => {
        const bucket = new Bucket(new Stack(app, "S"), "B", { enforceSSL: true });
        acknowledgeNag(bucket, "AwsSolutions-S1", "a bucket for this test only, with nothing in it to log");
      }),
    ).toEqual([]);
  });

  it("every acknowledgment is on the resource it is about (never a stack or the app) and says why; the list is the reviewed one", () => {
    const app = new App();
    new NomadEventSinksStack(app, "NomadEventSinks", { bundleDir, ...STREAMER_SETTINGS });
    const found = nagAcknowledgments(app);
    expect(found.filter((a) => a.onStack)).toEqual([]);
    for (const { reason } of found) expect(reason.length).toBeGreaterThan(60);
    // Adding one to this list is a review decision: say why in the code, next to the resource.
    expect(found.map((a) => `${a.path} ${a.rule}`).sort()).toEqual(
      [
        "NomadEventSinks/Bus/TargetDeadLetters AwsSolutions-SQS3",
        "NomadEventSinks/Delivery/Handler/Function AwsSolutions-L1",
        "NomadEventSinks/Delivery/Handler/Role AwsSolutions-IAM5[Resource::*]",
        "NomadEventSinks/Delivery/Handler/Role AwsSolutions-IAM5[Resource::<PayloadsBucket.Arn>/payloads/*]",
        "NomadEventSinks/Fanout/Handler/Function AwsSolutions-L1",
        "NomadEventSinks/Fanout/Handler/Role AwsSolutions-IAM5[Resource::*]",
        "NomadEventSinks/Fanout/Handler/Role AwsSolutions-IAM5[Resource::<PayloadsBucket.Arn>/payloads/*]",
        "NomadEventSinks/Payloads/AccessLogs AwsSolutions-S1",
        "NomadEventSinks/SinksApi/Api/DefaultRoute AwsSolutions-APIG4",
        "NomadEventSinks/SinksApi/Handler/Function AwsSolutions-L1",
        "NomadEventSinks/SinksApi/Handler/Role AwsSolutions-IAM5[Resource::*]",
        "NomadEventSinks/SinksApi/Handler/Role AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:replay/replay-*]",
        "NomadEventSinks/SinksApi/ManagementToken AwsSolutions-SMG4",
        "NomadEventSinks/Streamer/Task AwsSolutions-ECS2",
        "NomadEventSinks/Streamer/Task/ExecutionRole AwsSolutions-IAM5[Resource::*]",
        "NomadEventSinks/Streamer/Task/TaskRole AwsSolutions-IAM5[Resource::<PayloadsBucket.Arn>/payloads/*]",
      ].sort(),
    );
  });

  it("acknowledgeNag refuses a stack and a reason that says nothing", () => {
    const stack = new Stack(new App(), "S");
    expect(() => acknowledgeNag(stack, "AwsSolutions-S1", "a reason long enough to pass the length check")).toThrow("cdk-nag finding AwsSolutions-S1 must be acknowledged on the resource it is about, not on the stack S");
    expect(() => acknowledgeNag(new Bucket(stack, "B"), "AwsSolutions-S1", "because")).toThrow('cdk-nag finding AwsSolutions-S1 on S/B needs a reason saying why it is acceptable, but "because" was provided');
  });
});
