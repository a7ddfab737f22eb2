import { join, resolve } from "node:path";
import { App } from "aws-cdk-lib";
import { buildAll } from "../scripts/build";
import { DeploymentContextError, readDeploymentContext, type DeploymentSettings } from "./constructs/deployment-context";
import { addNagChecks } from "./constructs/nag-checks";
import { NomadEventSinksStack } from "./stack";

const app = new App();
// Deploy-time settings come from context (cdk.json or -c key=value), checked before the bundling.
let settings: DeploymentSettings;
try {
  settings = readDeploymentContext(app.node.getAllContext() as Record<string, unknown>);
} catch (error) {
  if (!(error instanceof DeploymentContextError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

// Synthesis bundles the functions with the same esbuild settings as `npm run build`.
const root = resolve(import.meta.dirname, "..");
const bundleDir = join(root, "dist");
await buildAll(root, bundleDir);

new NomadEventSinksStack(app, "NomadEventSinks", {
  bundleDir,
  ...settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag's AWS Solutions checks: an unacknowledged finding fails the synthesis.
addNagChecks(app);
app.synth();
