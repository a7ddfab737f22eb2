import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { SINKS_TABLE_KEYS } from "../../shared/sinks/sinks-table";

export interface SinksTableProps {
  /** What happens to the table when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A table with the project's generic `pk`/`sk` string keys: on demand, encrypted,
 * point-in-time recovery, deletion protection while retained.
 */
export function pkSkTable(scope: Construct, id: string, props: { removalPolicy?: RemovalPolicy; timeToLiveAttribute?: string } = {}): TableV2 {
  const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
  return new TableV2(scope, id, {
    partitionKey: { name: SINKS_TABLE_KEYS.partitionKey, type: AttributeType.STRING },
    sortKey: { name: SINKS_TABLE_KEYS.sortKey, type: AttributeType.STRING },
    billing: Billing.onDemand(),
    encryption: TableEncryptionV2.awsManagedKey(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
    ...(props.timeToLiveAttribute !== undefined ? { timeToLiveAttribute: props.timeToLiveAttribute } : {}),
  });
}

/** The sinks table, with the key layout of shared/sinks/sinks-table.ts. */
export class SinksTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: SinksTableProps = {}) {
    super(scope, id);
    this.table = pkSkTable(this, "Table", props.removalPolicy !== undefined ? { removalPolicy: props.removalPolicy } : {});
  }
}
