import { existsSync } from "node:fs";
import { join } from "node:path";
import { Duration } from "aws-cdk-lib";
import { Architecture, Code, Function, LoggingFormat, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

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

/** A Lambda function running the esbuild bundle `npm run build` made: Node.js 22 on ARM64, source maps on. */
export class BundledFunction extends Construct {
  readonly function: Function;

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
    this.function = new Function(this, "Function", {
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      handler: "index.handler",
      code: Code.fromAsset(dir),
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 256,
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      environment: { NODE_OPTIONS: "--enable-source-maps", POWERTOOLS_SERVICE_NAME: props.name, ...props.environment },
    });
  }
}
