import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Delivery } from "./constructs/delivery";
import { SinksApi } from "./constructs/sinks-api";
import { SinksTable } from "./constructs/sinks-table";

export interface NomadEventSinksStackProps extends StackProps {
  /** Where `npm run build` wrote the function bundles. */
  readonly bundleDir: string;
}

/** The whole deployment; it only composes constructs. */
export class NomadEventSinksStack extends Stack {
  constructor(scope: Construct, id: string, props: NomadEventSinksStackProps) {
    super(scope, id, props);
    const sinks = new SinksTable(this, "Sinks");
    const delivery = new Delivery(this, "Delivery", { sinksTable: sinks.table, bundleDir: props.bundleDir });
    new SinksApi(this, "SinksApi", { table: sinks.table, delivery, bundleDir: props.bundleDir });
  }
}
