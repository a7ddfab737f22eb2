import { existsSync } from "node:fs";
import { join } from "node:path";
import { Duration } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Code, Function, LoggingFormat, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { acknowledgeNag } from "./nag-checks";

export interface BundledFunctionProps {
  /** The folder under `functions/`; its bundle is `<bundleDir>/<name>/index.mjs`. */
  readonly name: string;
  /** Where `npm run build` wrote the bundles. */
  readonly bundleDir: string;
  /** Environment of the function: only what it needs. @default {} */
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * A Lambda function running the esbuild bundle `npm run build` made: Node.js 22 on ARM64,
 * source maps on, active tracing, JSON logs to its own log group. Its role may write to that
 * log group and nothing else until the caller grants more (no AWS managed policy: the basic
 * execution role would let it write to every log group).
 */
export class BundledFunction extends Construct {
  readonly function: Function;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: BundledFunctionProps) {
    super(scope, id);
    const dir = join(props.bundleDir, props.name);
    if (!existsSync(join(dir, "index.mjs"))) {
      throw new Error(`BundledFunction ${id}: no bundle at ${join(dir, "index.mjs")}; run \`npm run build\` first`);
    }
    if (props.memorySize !== undefined && (props.memorySize < 128 || props.memorySize > 10_240)) {
      throw new Error(`BundledFunction ${id}: memorySize must be between 128 and 10,240 MB, but ${props.memorySize} was provided`);
    }
    const logGroup = new LogGroup(this, "Logs", { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    this.role = new Role(this, "Role", { assumedBy: new ServicePrincipal("lambda.amazonaws.com"), description: `nomad-event-sinks ${props.name} function` });
    logGroup.grants.write(this.role);
    acknowledgeNag(this.role, "AwsSolutions-IAM5[Resource::*]", "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so they can only be granted on \"*\" (the least-privilege test keeps \"*\" off every data store, queue, secret and the bus).");
    this.function = new Function(this, "Function", {
      role: this.role,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      handler: "index.handler",
      code: Code.fromAsset(dir),
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 256,
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      // No NODE_OPTIONS=--enable-source-maps: the first stack trace it maps decodes the bundle's whole
      // source map and keeps it (≈ 50 MB and ≈ 150 ms in a 256 MB function); traces name functions anyway.
      environment: { POWERTOOLS_SERVICE_NAME: props.name, ...props.environment },
    });
    acknowledgeNag(this.function, "AwsSolutions-L1", "Node.js 22 is the runtime the bundles are built for (esbuild target node22), the streamer's image runs and the project supports; moving to a newer runtime is a deliberate upgrade of all three, not a side effect of a deploy.");
  }
}
