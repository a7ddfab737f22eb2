import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

/** Where S3PayloadStore (shared/streamer/payload-store.ts) keeps payloads: its default prefix. */
export const PAYLOAD_KEY_PREFIX = "payloads/";

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
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The claim-check bucket: payloads too large for the bus (stored by the streamer) or for a
 * delivery message (stored by the fan-out), read back by deliver. Private, encrypted, TLS
 * only, unversioned (a re-send overwrites the same key with the same bytes), and every
 * object expires.
 */
export class PayloadBucket extends Construct {
  readonly bucket: Bucket;
  readonly expirationDays: number;

  constructor(scope: Construct, id: string, props: PayloadBucketProps = {}) {
    super(scope, id);
    const days = props.expirationDays ?? 30;
    if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRATION_DAYS) {
      throw new Error(`PayloadBucket ${id}: expirationDays must be an integer from 1 to ${MAX_EXPIRATION_DAYS}, but ${days} was provided`);
    }
    this.expirationDays = days;
    this.bucket = new Bucket(this, "Bucket", {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      autoDeleteObjects: false,
      lifecycleRules: [{ id: "ExpirePayloads", expiration: Duration.days(days), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Lets `grantee` store payloads (s3:PutObject under the payload prefix, nothing else). */
  grantPutPayloads(grantee: IGrantable): Grant {
    return this.bucket.grants.actionsOnObjectKeys(grantee, `${PAYLOAD_KEY_PREFIX}*`, "s3:PutObject");
  }

  /** Lets `grantee` fetch payloads back (s3:GetObject under the payload prefix, nothing else). */
  grantReadPayloads(grantee: IGrantable): Grant {
    return this.bucket.grants.actionsOnObjectKeys(grantee, `${PAYLOAD_KEY_PREFIX}*`, "s3:GetObject");
  }
}
