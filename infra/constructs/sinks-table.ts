import { RemovalPolicy } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { pkSkTable } from "./pk-sk-table";

export interface SinksTableProps {
  /** What happens to the table when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The sinks table, with the key layout of shared/sinks/sinks-table.ts. */
export class SinksTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: SinksTableProps = {}) {
    super(scope, id);
    this.table = pkSkTable(this, "Table", props.removalPolicy !== undefined ? { removalPolicy: props.removalPolicy } : {});
  }
}
