import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { PAYLOAD_KEY_PREFIX } from "../../shared/config/payload-config";
import { acknowledgeNag } from "./nag-checks";

/** S3 keeps lifecycle expirations in whole days; ten years is far past any use here. */
const MAX_EXPIRATION_DAYS = 3_650;

export interface PayloadBucketProps {
  /**
   * Days a stored payload is kept. It has to outlive every message that references it: the
   * ingest queue's wait, the delivery retry horizon (at most 13 days) and 14 days in the
   * delivery dead-letter queue, from where a redrive sends it again.
   * @default 30
   */
  readonly expirationDays?: number;
  /** Days the bucket's server access logs are kept. @default 90 */
  readonly accessLogExpirationDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The claim-check bucket: payloads too large for the bus (stored by the streamer) or for a
 * delivery message (stored by the fan-out), read back by deliver. Private, encrypted, TLS
 * only, unversioned (a re-send overwrites the same key with the same bytes), and every
 * object expires. Its server access logs go to a second bucket, kept private the same way.
 */
export class PayloadBucket extends Construct {
  readonly bucket: Bucket;
  /** Where S3 writes the payload bucket's server access logs. */
  readonly accessLogs: Bucket;
  readonly expirationDays: number;

  constructor(scope: Construct, id: string, props: PayloadBucketProps = {}) {
    super(scope, id);
    const days = props.expirationDays ?? 30;
    if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRATION_DAYS) {
      throw new Error(`PayloadBucket ${id}: expirationDays must be an integer from 1 to ${MAX_EXPIRATION_DAYS}, but ${days} was provided`);
    }
    const logDays = props.accessLogExpirationDays ?? 90;
    if (!Number.isInteger(logDays) || logDays < 1 || logDays > MAX_EXPIRATION_DAYS) {
      throw new Error(`PayloadBucket ${id}: accessLogExpirationDays must be an integer from 1 to ${MAX_EXPIRATION_DAYS}, but ${logDays} was provided`);
    }
    this.expirationDays = days;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // S3 delivers server access logs only to SSE-S3 buckets. With this flag the CDK lets the
    // logging service write by bucket policy, not by ACL (which BucketOwnerEnforced forbids),
    // whatever the app's own feature flags say.
    this.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    // Both buckets: encrypted, TLS 1.2+ only, never public, owner-enforced, unversioned.
    const privateBucket = {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
    } as const;
    this.accessLogs = new Bucket(this, "AccessLogs", {
      ...privateBucket,
      lifecycleRules: [{ id: "ExpireAccessLogs", expiration: Duration.days(logDays) }],
      removalPolicy,
    });
    acknowledgeNag(this.accessLogs, "AwsSolutions-S1", "This is the access-log bucket of the payload bucket; logging its own requests would log the log deliveries (S3 advises against a bucket logging to itself).");
    this.bucket = new Bucket(this, "Bucket", {
      ...privateBucket,
      autoDeleteObjects: false,
      lifecycleRules: [{ id: "ExpirePayloads", expiration: Duration.days(days), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "payloads/",
      removalPolicy,
    });
  }

  /** Lets `grantee` store payloads (s3:PutObject under the payload prefix, nothing else). */
  grantPutPayloads(grantee: IGrantable): Grant {
    this.acknowledgePrefixWildcard(grantee);
    return this.bucket.grants.actionsOnObjectKeys(grantee, `${PAYLOAD_KEY_PREFIX}*`, "s3:PutObject");
  }

  /** Lets `grantee` fetch payloads back (s3:GetObject under the payload prefix, nothing else). */
  grantReadPayloads(grantee: IGrantable): Grant {
    this.acknowledgePrefixWildcard(grantee);
    return this.bucket.grants.actionsOnObjectKeys(grantee, `${PAYLOAD_KEY_PREFIX}*`, "s3:GetObject");
  }

  /** The `*` of `payloads/*` is every payload key (one per event): the narrowest scope there is. */
  private acknowledgePrefixWildcard(grantee: IGrantable): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    const bucketId = Stack.of(this).resolve((this.bucket.node.defaultChild as CfnBucket).logicalId) as string;
    acknowledgeNag(
      principal,
      `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${PAYLOAD_KEY_PREFIX}*]`,
      `The object keys under ${PAYLOAD_KEY_PREFIX} are the payloads, one per event (payloads/<cluster>/<event id>.json), unknown until written; the grant is one action on that prefix only.`,
    );
  }
}
