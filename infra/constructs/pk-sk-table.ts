import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from "aws-cdk-lib/aws-dynamodb";
import type { Construct } from "constructs";
import { PK_SK_KEYS } from "../../shared/dynamo/pk-sk-table";

/**
 * A table with the project's generic `pk`/`sk` string keys: on demand, encrypted,
 * point-in-time recovery, deletion protection while retained.
 */
export function pkSkTable(scope: Construct, id: string, props: { removalPolicy?: RemovalPolicy; timeToLiveAttribute?: string } = {}): TableV2 {
  const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
  return new TableV2(scope, id, {
    partitionKey: { name: PK_SK_KEYS.partitionKey, type: AttributeType.STRING },
    sortKey: { name: PK_SK_KEYS.sortKey, type: AttributeType.STRING },
    billing: Billing.onDemand(),
    encryption: TableEncryptionV2.awsManagedKey(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
    ...(props.timeToLiveAttribute !== undefined ? { timeToLiveAttribute: props.timeToLiveAttribute } : {}),
  });
}

