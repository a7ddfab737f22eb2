import { boolEnv, optionalEnv, type Env } from "./env";

/** Where payloads too large for the bus or a queue are kept (claim check); read by the streamer, fanout and deliver. */
export interface PayloadStoreConfig {
  /** S3 bucket (`PAYLOAD_BUCKET`); unset means no claim check. */
  readonly payloadBucket?: string;
  /** Path-style S3 addressing (`S3_FORCE_PATH_STYLE=true`), for S3-compatible servers such as the local one. */
  readonly s3ForcePathStyle: boolean;
}

/** Where claim-checked payloads are kept in the bucket (the CDK grants access to this prefix only). */
export const PAYLOAD_KEY_PREFIX = "payloads/";

export function readPayloadStoreConfig(env: Env): PayloadStoreConfig {
  const payloadBucket = optionalEnv(env, "PAYLOAD_BUCKET");
  return { ...(payloadBucket !== undefined ? { payloadBucket } : {}), s3ForcePathStyle: boolEnv(env, "S3_FORCE_PATH_STYLE") };
}
