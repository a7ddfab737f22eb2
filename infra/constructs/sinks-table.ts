import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { SINKS_TABLE_KEYS } from "../../shared/sinks/sinks-table";

export interface SinksTableProps {
  /** What happens to the table when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The sinks table, with the key layout of shared/sinks/sinks-table.ts. */
export class SinksTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: SinksTableProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, "Table", {
      partitionKey: { name: SINKS_TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: SINKS_TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
