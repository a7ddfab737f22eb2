import { CfnOutput, Duration, Stack, Token } from "aws-cdk-lib";
import type { Archive, IEventBus, IRule } from "aws-cdk-lib/aws-events";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { CfnStage, HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { ITableV2 } from "aws-cdk-lib/aws-dynamodb";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret, type ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { ALLOWED_CIDRS_ENV } from "../../shared/delivery/ssrf-guard";
import { checkAllowedCidrs } from "./allowed-cidrs";
import { BundledFunction } from "./bundled-function";
import type { Delivery } from "./delivery";
import { acknowledgeNag } from "./nag-checks";

export interface SinksApiProps {
  readonly table: ITableV2;
  /** Delivery resources: the attempt log (read) and the queues (redrive). */
  readonly delivery: Pick<Delivery, "deliveriesTable" | "queue" | "deadLetterQueue">;
  /** The bus, its archive and its ingest rule: replays (`POST /v1/event/replay`) replay the archive to that rule. @default no replays (501) */
  readonly replay?: { readonly bus: IEventBus; readonly archive: Archive; readonly ingestRule: IRule };
  /** Internal CIDRs webhooks may be registered with anyway. @default none */
  readonly allowedCidrs?: readonly string[];
  readonly bundleDir: string;
  /** The management token's secret. @default a generated secret */
  readonly managementToken?: ISecret;
  /** Steady-state requests per second across the API. @default 50 */
  readonly throttleRateLimit?: number;
  /** @default 100 */
  readonly throttleBurstLimit?: number;
}

/** The sinks API: an HTTP API whose every route goes to the sinks-api function (it answers Nomad's 404/405 itself). */
export class SinksApi extends Construct {
  readonly api: HttpApi;
  readonly managementToken: ISecret;
  readonly handler: BundledFunction;

  constructor(scope: Construct, id: string, props: SinksApiProps) {
    super(scope, id);
    const rate = props.throttleRateLimit ?? 50;
    const burst = props.throttleBurstLimit ?? 100;
    if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`SinksApi ${id}: throttleRateLimit must be a positive number, but ${rate} was provided`);
    if (!Number.isInteger(burst) || burst < 1) throw new Error(`SinksApi ${id}: throttleBurstLimit must be a positive integer, but ${burst} was provided`);
    checkAllowedCidrs(`SinksApi ${id}`, props.allowedCidrs);

    this.managementToken =
      props.managementToken ??
      new Secret(this, "ManagementToken", {
        description: "nomad-event-sinks management token (X-Nomad-Token for the sinks API)",
        generateSecretString: { passwordLength: 40, excludePunctuation: true },
      });
    if (this.managementToken instanceof Secret) {
      acknowledgeNag(
        this.managementToken,
        "AwsSolutions-SMG4",
        "A static bearer token the operators hold, not a credential of an AWS service: no rotation function could hand a new value to its clients. Rotate it by hand (put-secret-value); sinks-api re-reads it every 5 minutes, so no deploy is needed.",
      );
    }
    this.handler = new BundledFunction(this, "Handler", {
      name: "sinks-api",
      bundleDir: props.bundleDir,
      timeout: Duration.seconds(10),
      environment: {
        SINKS_TABLE: props.table.tableName,
        SINKS_MANAGEMENT_TOKEN_SECRET_ARN: this.managementToken.secretArn,
        DELIVERIES_TABLE: props.delivery.deliveriesTable.tableName,
        DELIVERY_QUEUE_URL: props.delivery.queue.queueUrl,
        DELIVERY_DLQ_URL: props.delivery.deadLetterQueue.queueUrl,
        ...(props.allowedCidrs?.length ? { [ALLOWED_CIDRS_ENV]: props.allowedCidrs.join(",") } : {}),
        ...(props.replay ? { ARCHIVE_ARN: props.replay.archive.archiveArn, EVENT_BUS_ARN: props.replay.bus.eventBusArn, INGEST_RULE_ARN: props.replay.ingestRule.ruleArn } : {}),
      },
    });
    if (props.replay) {
      // StartReplay on the archive, and DescribeReplay of the replays it names (replay-<uuid>).
      const stack = Stack.of(this);
      this.handler.function.addToRolePolicy(
        new PolicyStatement({
          actions: ["events:StartReplay", "events:DescribeReplay"],
          resources: [props.replay.archive.archiveArn, stack.formatArn({ service: "events", resource: "replay", resourceName: "replay-*" })],
        }),
      );
      acknowledgeNag(
        this.handler.role,
        // cdk-nag names the resource as synthesized: concrete region and account when the stack has them.
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:${Token.isUnresolved(stack.region) ? "<AWS::Region>" : stack.region}:${Token.isUnresolved(stack.account) ? "<AWS::AccountId>" : stack.account}:replay/replay-*]`,
        "Each replay is named replay-<uuid> when it starts, so its ARN cannot be known in advance; the grant covers only DescribeReplay/StartReplay of replays with that prefix in this account and region.",
      );
    }
    props.table.grantReadWriteData(this.handler.function);
    props.delivery.deliveriesTable.grantReadData(this.handler.function);
    // Redrive: take a sink's messages off the dead-letter queue and send them back.
    props.delivery.deadLetterQueue.grantConsumeMessages(this.handler.function);
    props.delivery.queue.grantSendMessages(this.handler.function);
    this.managementToken.grantRead(this.handler.function);

    this.api = new HttpApi(this, "Api", {
      description: "nomad-event-sinks: Nomad-compatible event sink API",
      defaultIntegration: new HttpLambdaIntegration("Sinks", this.handler.function),
    });
    const defaultRoute = this.api.node.tryFindChild("DefaultRoute");
    if (defaultRoute !== undefined) {
      acknowledgeNag(
        defaultRoute,
        "AwsSolutions-APIG4",
        "The function authorizes every request itself, as Nomad's API does: X-Nomad-Token or Authorization: Bearer compared in constant time with the management token, or looked up by its SHA-256 among the stored team and management tokens (shared/api/access.ts), answering Nomad's own 403; an API Gateway authorizer could not give Nomad-compatible answers.",
      );
    }
    const accessLogs = new LogGroup(this, "AccessLogs", { retention: RetentionDays.THREE_MONTHS });
    const stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    stage.defaultRouteSettings = { throttlingRateLimit: rate, throttlingBurstLimit: burst };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: "$context.requestId",
        ip: "$context.identity.sourceIp",
        method: "$context.httpMethod",
        path: "$context.path",
        status: "$context.status",
        latencyMs: "$context.responseLatency",
        integrationError: "$context.integrationErrorMessage",
      }),
    };
    new CfnOutput(this, "Url", { value: this.api.apiEndpoint, description: "Base URL of the sinks API (NOMAD_EVENT_SINKS_ADDR for the nomad-event-sinks CLI; NOMAD_ADDR for Nomad 1.0-beta's `nomad event sink`)" });
    new CfnOutput(this, "ManagementTokenSecretArn", { value: this.managementToken.secretArn, description: "Secrets Manager secret holding the management token (aws secretsmanager get-secret-value --secret-id <this>)" });
  }
}
