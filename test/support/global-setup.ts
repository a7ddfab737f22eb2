// The SDK warns on Node 20; the tests run here on Node 20 by design (Lambda runs 22).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../infra/local/dynamodb-local";
import { startFauxqsServer } from "../../infra/local/fauxqs-server";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { localAwsEnvironment } from "../../infra/local/local-aws";
import { buildAll } from "../../scripts/build";

declare module "vitest" {
  export interface ProvidedContext {
    awsEnvironment: Record<string, string>;
    /** Where `npm run build`'s bundles were written once for the whole run (the CDK and process tests use them). */
    bundleDir: string;
  }
}

/**
 * Starts the real local stand-ins once per run: AWS's DynamoDB Local (in memory) and
 * fauxqs (SQS and S3). If either fails, the whole run fails with the reason: no test is
 * skipped for want of a service.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bundleDir = mkdtempSync(join(tmpdir(), "nes-bundles-"));
  const [dynamo, fauxqs] = await Promise.all([startDynamoDbLocal(), startFauxqsServer(), buildAll(resolve(import.meta.dirname, "../.."), bundleDir)]);
  project.provide("bundleDir", bundleDir);
  // fauxqs serves S3 too (path-style addressing).
  project.provide("awsEnvironment", localAwsEnvironment({ dynamodb: dynamo.endpoint, sqs: fauxqs.endpoint, s3: fauxqs.endpoint }));
  return async () => {
    await Promise.all([dynamo.stop(), fauxqs.stop()]);
    rmSync(bundleDir, { recursive: true, force: true });
  };
}
