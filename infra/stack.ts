import { Annotations, Duration, Stack, type StackProps } from "aws-cdk-lib";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { Delivery } from "./constructs/delivery";
import type { DeploymentSettings } from "./constructs/deployment-context";
import { Fanout } from "./constructs/fanout";
import { Monitoring } from "./constructs/monitoring";
import { Network } from "./constructs/network";
import { NomadEventBus } from "./constructs/nomad-event-bus";
import { PayloadBucket } from "./constructs/payload-bucket";
import { SinksApi } from "./constructs/sinks-api";
import { SinksTable } from "./constructs/sinks-table";
import { Streamer } from "./constructs/streamer";

/** Each setting of DeploymentSettings is optional; unset, the construct's default applies. */
export interface NomadEventSinksStackProps extends StackProps, DeploymentSettings {
  /** Where `npm run build` wrote the function bundles. */
  readonly bundleDir: string;
}

/**
 * The whole deployment; it only composes constructs. The streamer's service and its network
 * come with `nomadAddr`: without it the rest is deployed (the streamer can run anywhere that
 * reaches Nomad and the bus) and the synthesis warns.
 */
export class NomadEventSinksStack extends Stack {
  constructor(scope: Construct, id: string, props: NomadEventSinksStackProps) {
    super(scope, id, props);
    const { bundleDir, allowedCidrs } = props;
    const sinks = new SinksTable(this, "Sinks");
    const payloads = new PayloadBucket(this, "Payloads");
    const bus = new NomadEventBus(this, "Bus", { archiveRetentionDays: props.archiveRetentionDays });
    const delivery = new Delivery(this, "Delivery", {
      sinksTable: sinks.table,
      payloads,
      bundleDir,
      allowedCidrs,
      maxConcurrency: props.deliverMaxConcurrency,
      retryHorizon: props.retryHorizonSeconds !== undefined ? Duration.seconds(props.retryHorizonSeconds) : undefined,
    });
    const fanout = new Fanout(this, "Fanout", { ingest: bus, sinksTable: sinks.table, deliveryQueue: delivery.queue, payloads, bundleDir, maxConcurrency: props.fanoutMaxConcurrency });
    const sinksApi = new SinksApi(this, "SinksApi", { table: sinks.table, delivery, allowedCidrs, bundleDir, replay: { bus: bus.bus, archive: bus.archive, ingestRule: bus.rule } });
    const streamer = props.nomadAddr !== undefined ? this.addStreamer(props, props.nomadAddr, bus.bus, payloads) : undefined;
    if (streamer === undefined) {
      Annotations.of(this).addWarningV2(
        "nomad-event-sinks:noStreamer",
        "nomadAddr is not set, so the streamer's Fargate service and its VPC are not deployed and nothing publishes Nomad's events to the bus. Set -c nomadAddr=https://<Nomad, as reachable from the VPC>:4646 to deploy them, or run the streamer's container yourself with EVENT_BUS_NAME set to the bus.",
      );
    }
    new Monitoring(this, "Monitoring", { bus, fanout, delivery, sinksApi, ...(streamer !== undefined ? { streamer } : {}), alarmEmail: props.alarmEmail });
  }

  private addStreamer(props: NomadEventSinksStackProps, nomadAddr: string, bus: NomadEventBus["bus"], payloads: PayloadBucket): Streamer {
    const existingVpc =
      props.vpcId !== undefined
        ? {
            vpcId: props.vpcId,
            privateSubnetIds: props.privateSubnetIds ?? [],
            availabilityZones: props.availabilityZones ?? [],
            ...(props.privateSubnetRouteTableIds !== undefined ? { privateSubnetRouteTableIds: props.privateSubnetRouteTableIds } : {}),
          }
        : undefined;
    const network = new Network(this, "Network", {
      ...(existingVpc !== undefined ? { existingVpc } : {}),
      ...(props.natGateways !== undefined ? { natGateways: props.natGateways } : {}),
      ...(props.vpcCidr !== undefined ? { cidr: props.vpcCidr } : {}),
      ...(props.vpcEndpoints !== undefined ? { endpoints: props.vpcEndpoints } : {}),
    });
    return new Streamer(this, "Streamer", {
      network,
      bus,
      payloads,
      nomadAddr,
      nomadRegion: props.nomadRegion,
      nomadNamespace: props.nomadNamespace,
      nomadCluster: props.streamerCluster,
      ...(props.nomadTokenSecretArn !== undefined ? { nomadToken: Secret.fromSecretCompleteArn(this, "NomadToken", props.nomadTokenSecretArn) } : {}),
    });
  }
}
