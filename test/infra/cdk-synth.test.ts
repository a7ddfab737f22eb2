import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const CDK = join(ROOT, "node_modules/aws-cdk/bin/cdk");

/** Runs the CDK CLI as `npx cdk` would, from the project root. */
function cdk(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CDK, ...args], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

// The contract: `npx cdk synth` works offline, and quickly enough to run on every change.
describe("cdk synth (the CLI, offline)", () => {
  const outDir = mkdtempSync(join(tmpdir(), "nes-cdk-out-"));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("synthesizes the whole stack in under 60 seconds", async () => {
    const started = Date.now();
    const result = await cdk(["synth", "--quiet", "--no-notices", "--output", outDir]);
    const elapsedMs = Date.now() - started;
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    expect(elapsedMs).toBeLessThan(60_000);
    const template = JSON.parse(readFileSync(join(outDir, "NomadEventSinks.template.json"), "utf8")) as { Resources: Record<string, { Type: string }> };
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const type of ["AWS::Events::EventBus", "AWS::Events::Archive", "AWS::Events::Rule", "AWS::S3::Bucket", "AWS::CloudWatch::Dashboard", "AWS::SNS::Topic"]) expect(types).toContain(type);
    // Without nomadAddr there is no streamer service, and the synthesis says so.
    expect(types).not.toContain("AWS::ECS::Service");
    expect(result.stderr).toContain("nomadAddr is not set, so the streamer's Fargate service and its VPC are not deployed");
    // cdk-nag ran and found nothing unacknowledged.
    expect(JSON.parse(readFileSync(join(outDir, "validation-report.json"), "utf8"))).toMatchObject({ pluginReports: [] });
  }, 90_000);

  it("with nomadAddr: the streamer's service and VPC, its image staged from the Dockerfile without Docker, cdk-nag clean, in under 60 seconds", async () => {
    const started = Date.now();
    const result = await cdk(["synth", "--quiet", "--no-notices", "--output", outDir, "-c", "nomadAddr=https://nomad.internal:4646", "-c", "streamerCluster=prod"]);
    const elapsedMs = Date.now() - started;
    expect(result.stderr).not.toMatch(/Error|nomadAddr is not set/);
    expect(result.code).toBe(0);
    expect(elapsedMs).toBeLessThan(60_000);
    const template = JSON.parse(readFileSync(join(outDir, "NomadEventSinks.template.json"), "utf8")) as { Resources: Record<string, { Type: string }> };
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const type of ["AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition", "AWS::EC2::VPC", "AWS::EC2::VPCEndpoint", "AWS::EC2::FlowLog"]) expect(types).toContain(type);
    const assets = JSON.parse(readFileSync(join(outDir, "NomadEventSinks.assets.json"), "utf8")) as { dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }> };
    const [image, ...others] = Object.values(assets.dockerImages);
    expect(others).toEqual([]);
    expect(image!.source).toMatchObject({ dockerFile: "functions/streamer/Dockerfile", platform: "linux/arm64" });
    // The staged context is what `docker build` gets at deploy time: the fresh bundle and the Dockerfile, nothing else.
    const staged = join(outDir, image!.source.directory);
    for (const file of ["functions/streamer/Dockerfile", "dist/streamer/index.mjs", ".dockerignore"]) expect(existsSync(join(staged, file))).toBe(true);
    for (const dir of ["node_modules", "shared", "dist/fanout", "infra"]) expect(existsSync(join(staged, dir))).toBe(false);
    expect(JSON.parse(readFileSync(join(outDir, "validation-report.json"), "utf8"))).toMatchObject({ pluginReports: [] });
  }, 90_000);

  it("stops at once on a bad context value, naming the key and what was given", async () => {
    const result = await cdk(["synth", "--quiet", "--no-notices", "--output", outDir, "-c", "fanoutMaxConcurrency=lots"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Context value fanoutMaxConcurrency must be an integer from 2 to 1000, but "lots" was given');
  }, 60_000);
});
