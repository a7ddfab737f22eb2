import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Delivery } from "./constructs/delivery";
import type { DeploymentSettings } from "./constructs/deployment-context";
import { Fanout } from "./constructs/fanout";
import { Monitoring } from "./constructs/monitoring";
import { NomadEventBus } from "./constructs/nomad-event-bus";
import { PayloadBucket } from "./constructs/payload-bucket";
import { SinksApi } from "./constructs/sinks-api";
import { SinksTable } from "./constructs/sinks-table";

/** Each setting of DeploymentSettings is optional; unset, the construct's default applies. */
export interface NomadEventSinksStackProps extends StackProps, DeploymentSettings {
  /** Where `npm run build` wrote the function bundles. */
  readonly bundleDir: string;
}

/** The whole deployment; it only composes constructs. */
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
    const sinksApi = new SinksApi(this, "SinksApi", { table: sinks.table, delivery, allowedCidrs, bundleDir });
    new Monitoring(this, "Monitoring", { bus, fanout, delivery, sinksApi, alarmEmail: props.alarmEmail });
  }
}
