import { join, resolve } from "node:path";
import { App } from "aws-cdk-lib";
import { buildAll } from "../scripts/build";
import { NomadEventSinksStack } from "./stack";

// Synthesis bundles the functions with the same esbuild settings as `npm run build`.
const root = resolve(import.meta.dirname, "..");
const bundleDir = join(root, "dist");
await buildAll(root, bundleDir);

const app = new App();
new NomadEventSinksStack(app, "NomadEventSinks", {
  bundleDir,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
