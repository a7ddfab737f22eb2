import { resolve } from "node:path";
import { CfnOutput, Duration, RemovalPolicy, Size } from "aws-cdk-lib";
import { Metric } from "aws-cdk-lib/aws-cloudwatch";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Peer, Port, SecurityGroup } from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import {
  AwsLogDriverMode,
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
  PropagatedTagSource,
  Secret as EcsSecret,
  type ContainerDefinition,
} from "aws-cdk-lib/aws-ecs";
import type { IEventBus } from "aws-cdk-lib/aws-events";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { readMetricsNamespace } from "../../shared/observability/metrics";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { STREAMER_CLUSTER_PATTERN, STREAMER_CLUSTER_RULE } from "../../functions/streamer/config";
import { acknowledgeNag } from "./nag-checks";
import type { Network } from "./network";
import type { PayloadBucket } from "./payload-bucket";
import { pkSkTable } from "./pk-sk-table";

/** The repository root: the streamer image's build context (the Dockerfile copies `dist/streamer/`). */
const REPO_ROOT = resolve(import.meta.dirname, "../..");
/** The port of `GET /health` (HEALTH_PORT; the image's default too). */
const STREAMER_HEALTH_PORT = 8081;
/** Fargate gives a container at most 120 s between SIGTERM and SIGKILL. */
const MAX_STOP_TIMEOUT_SECONDS = 120;
/** Time past the streamer's own shutdown bound before ECS kills it: the flush may end just at the bound. */
const STOP_MARGIN_SECONDS = 10;

/**
 * The streamer's image, built from `functions/streamer/Dockerfile` with the repository root as
 * context, for ARM64. Synthesis only stages it (the root's `.dockerignore` keeps the context to
 * `dist/streamer/`, so `npm run build` must have run: `infra/app.ts` does); Docker builds it at
 * deploy time.
 */
export function streamerImage(): ContainerImage {
  return ContainerImage.fromAsset(REPO_ROOT, {
    file: "functions/streamer/Dockerfile",
    platform: Platform.LINUX_ARM64,
    // The .dockerignore excludes everything but the bundle; the build still needs its Dockerfile in the staged context.
    exclude: ["!functions/streamer/Dockerfile"],
  });
}

export interface StreamerProps {
  /** Where the task runs: the VPC, its private subnets, and the endpoints it must be let through to. */
  readonly network: Pick<Network, "vpc" | "subnets" | "allowEndpointAccess">;
  /** The bus the events are published to (EVENT_BUS_NAME). */
  readonly bus: IEventBus;
  /** The claim-check bucket for events too large for the bus (PAYLOAD_BUCKET). */
  readonly payloads: Pick<PayloadBucket, "bucket" | "grantPutPayloads">;
  /** Nomad's address as reachable from the VPC (NOMAD_ADDR), e.g. `https://nomad.internal:4646`. */
  readonly nomadAddr: string;
  /** NOMAD_REGION. @default the agent's region */
  readonly nomadRegion?: string;
  /** NOMAD_NAMESPACE: the namespace to follow, `*` for all. @default "*" */
  readonly nomadNamespace?: string;
  /** A secret whose string value is the Nomad ACL token (NOMAD_TOKEN); the task's execution role alone may read it. @default no token */
  readonly nomadToken?: ISecret;
  /** Label of the Nomad cluster (STREAMER_CLUSTER): `detail.cluster` of its events, one lease and checkpoint per label. @default "default" */
  readonly nomadCluster?: string;
  /** CloudWatch namespace of the streamer's embedded metrics (METRICS_NAMESPACE). @default "NomadEventSinks" */
  readonly metricsNamespace?: string;
  /** Bound on the SIGTERM flush (SHUTDOWN_TIMEOUT_SECONDS), whole seconds; ECS waits 10 s more before SIGKILL. @default Duration.seconds(25) */
  readonly shutdownTimeout?: Duration;
  /** @default streamerImage() */
  readonly image?: ContainerImage;
  /** Fargate CPU units. @default 256 */
  readonly cpu?: number;
  /** @default 512 */
  readonly memoryLimitMiB?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the state table and the log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The streamer on ECS Fargate (ARM64): one task reading Nomad's event stream and publishing
 * to the bus, its lease and checkpoint table, and its logs. It may put events on the bus,
 * read and write its table, store payloads under `payloads/`, and (its execution role) read
 * the Nomad token's secret: nothing else.
 */
export class Streamer extends Construct {
  /** The lease and checkpoint table (STREAMER_TABLE). */
  readonly table: TableV2;
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly service: FargateService;
  readonly securityGroup: SecurityGroup;
  readonly logGroup: LogGroup;
  readonly nomadCluster: string;
  readonly metricsNamespace: string;

  constructor(scope: Construct, id: string, props: StreamerProps) {
    super(scope, id);
    let nomadPort: number;
    try {
      const { address } = readNomadConfig({ NOMAD_ADDR: props.nomadAddr });
      const url = new URL(address);
      nomadPort = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    } catch (error) {
      throw new Error(`Streamer ${id}: nomadAddr must be a URL such as https://nomad.internal:4646, but ${JSON.stringify(props.nomadAddr)} was provided`, { cause: error });
    }
    const nomadCluster = props.nomadCluster ?? "default";
    if (!STREAMER_CLUSTER_PATTERN.test(nomadCluster)) throw new Error(`Streamer ${id}: nomadCluster must be ${STREAMER_CLUSTER_RULE}, but ${JSON.stringify(nomadCluster)} was provided`);
    const shutdown = props.shutdownTimeout ?? Duration.seconds(25);
    const shutdownSeconds = shutdown.toSeconds({ integral: false });
    if (!Number.isInteger(shutdownSeconds) || shutdownSeconds < 1 || shutdownSeconds + STOP_MARGIN_SECONDS > MAX_STOP_TIMEOUT_SECONDS) {
      throw new Error(`Streamer ${id}: shutdownTimeout must be a whole number of seconds from 1 to ${MAX_STOP_TIMEOUT_SECONDS - STOP_MARGIN_SECONDS} (Fargate stops a container at most 120 s after SIGTERM), but ${shutdown.toHumanString()} was provided`);
    }
    this.nomadCluster = nomadCluster;
    this.metricsNamespace = props.metricsNamespace ?? readMetricsNamespace({});
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { vpc, subnets } = props.network;

    this.table = pkSkTable(this, "State", { removalPolicy });
    this.logGroup = new LogGroup(this, "Logs", { retention: props.logRetention ?? RetentionDays.ONE_MONTH, removalPolicy });
    // Container Insights gives the service's RunningTaskCount, which the "not running" alarm watches.
    this.cluster = new Cluster(this, "Cluster", { vpc, containerInsightsV2: ContainerInsights.ENABLED });

    this.taskDefinition = new FargateTaskDefinition(this, "Task", {
      cpu: props.cpu ?? 256,
      memoryLimitMiB: props.memoryLimitMiB ?? 512,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.ARM64, operatingSystemFamily: OperatingSystemFamily.LINUX },
    });
    this.container = this.taskDefinition.addContainer("Streamer", {
      image: props.image ?? streamerImage(),
      essential: true,
      readonlyRootFilesystem: true,
      environment: {
        NOMAD_ADDR: props.nomadAddr,
        ...(props.nomadRegion !== undefined ? { NOMAD_REGION: props.nomadRegion } : {}),
        ...(props.nomadNamespace !== undefined ? { NOMAD_NAMESPACE: props.nomadNamespace } : {}),
        EVENT_BUS_NAME: props.bus.eventBusName,
        STREAMER_TABLE: this.table.tableName,
        STREAMER_CLUSTER: nomadCluster,
        PAYLOAD_BUCKET: props.payloads.bucket.bucketName,
        METRICS_NAMESPACE: this.metricsNamespace,
        HEALTH_PORT: String(STREAMER_HEALTH_PORT),
        SHUTDOWN_TIMEOUT_SECONDS: String(shutdownSeconds),
      },
      ...(props.nomadToken !== undefined ? { secrets: { NOMAD_TOKEN: EcsSecret.fromSecretsManager(props.nomadToken) } } : {}),
      // The image has no curl: Node's fetch asks the streamer's own /health (503 when an active streamer has heard nothing from Nomad for two liveness windows).
      healthCheck: {
        command: ["CMD", "node", "-e", `fetch('http://127.0.0.1:${STREAMER_HEALTH_PORT}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      stopTimeout: Duration.seconds(shutdownSeconds + STOP_MARGIN_SECONDS),
      // Non-blocking: were CloudWatch Logs unreachable, a blocking driver would stall the streamer's writes to stdout, and with them the stream.
      logging: LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: "streamer", mode: AwsLogDriverMode.NON_BLOCKING, maxBufferSize: Size.mebibytes(25) }),
    });

    // No inbound at all; outbound only HTTPS (the AWS endpoints, or AWS through the NAT) and Nomad's port.
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", { vpc, description: "nomad-event-sinks streamer: no inbound, outbound HTTPS and the Nomad API port only", allowAllOutbound: false });
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), "HTTPS: AWS APIs and their VPC endpoints");
    if (nomadPort !== 443) this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(nomadPort), "Nomad HTTP API (NOMAD_ADDR)");

    this.service = new FargateService(this, "Service", {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: 1,
      // Start the replacement before stopping the old task. The lease, not the deployment,
      // keeps to one publisher: the new task waits as standby (healthy) until the old one,
      // stopped once the new is healthy, flushes, checkpoints and releases the lease, and takes
      // over within a lease poll (5 s). Stopping first (0/100) would leave no reader for the
      // whole start of a task (a minute or more), long enough on a busy cluster for events to
      // leave Nomad's event buffer (a gap); and a replacement that never gets healthy would
      // leave none at all, where here the circuit breaker rolls back with the old task still
      // streaming.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      vpcSubnets: subnets,
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      platformVersion: FargatePlatformVersion.LATEST,
      propagateTags: PropagatedTagSource.SERVICE,
      enableExecuteCommand: false,
    });
    props.network.allowEndpointAccess(this.service);

    const taskRole = this.taskDefinition.taskRole;
    props.bus.grantPutEventsTo(taskRole);
    this.table.grantReadWriteData(taskRole);
    props.payloads.grantPutPayloads(taskRole);
    // The execution role (image pull, log stream, secret injection) is the CDK's; its one wildcard is ECR's.
    const executionRole = this.taskDefinition.obtainExecutionRole();
    acknowledgeNag(executionRole, "AwsSolutions-IAM5[Resource::*]", "ecr:GetAuthorizationToken, which the execution role needs to pull the image, supports no resource-level permissions; the pull itself (BatchGetImage, GetDownloadUrlForLayer) is granted on the one asset repository.");
    acknowledgeNag(
      this.taskDefinition,
      "AwsSolutions-ECS2",
      "The environment holds names and addresses only (bus, table, bucket, Nomad's address, cluster label, metric namespace, ports): none is secret, and each comes from this stack, so a change is a deployment anyway. The Nomad token is injected from Secrets Manager.",
    );

    new CfnOutput(this, "ServiceName", { value: this.service.serviceName, description: "ECS service of the streamer" });
    new CfnOutput(this, "ClusterName", { value: this.cluster.clusterName, description: "ECS cluster of the streamer" });
    new CfnOutput(this, "LogGroupName", { value: this.logGroup.logGroupName, description: "The streamer's logs (structured JSON, and its EMF metrics)" });
  }

  /** Tasks of the service running (Container Insights). */
  metricRunningTasks(period = Duration.minutes(1)): Metric {
    return new Metric({
      namespace: "ECS/ContainerInsights",
      metricName: "RunningTaskCount",
      dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: this.service.serviceName },
      statistic: "Minimum",
      period,
    });
  }

  /** One of the streamer's embedded metrics (`EventsIn`, `PublishLag`, `LagIndexes`, `StreamGaps`, ...), dimensions service and cluster. */
  metric(metricName: string, statistic = "Sum", period = Duration.minutes(5)): Metric {
    return new Metric({ namespace: this.metricsNamespace, metricName, dimensionsMap: { service: "streamer", cluster: this.nomadCluster }, statistic, period });
  }
}
