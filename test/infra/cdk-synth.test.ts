import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  }, 90_000);

  it("stops at once on a bad context value, naming the key and what was given", async () => {
    const result = await cdk(["synth", "--quiet", "--no-notices", "--output", outDir, "-c", "fanoutMaxConcurrency=lots"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Context value fanoutMaxConcurrency must be an integer from 2 to 1000, but "lots" was given');
  }, 60_000);
});
