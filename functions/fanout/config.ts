import { intEnv, optionalEnv, requireEnv, type Env } from "../../shared/config/env";

export interface FanoutConfig {
  readonly sinksTable: string;
  readonly queueUrl: string;
  readonly sinkCacheMs: number;
  readonly maxMessageBytes: number;
  readonly payloadBucket?: string;
  readonly s3ForcePathStyle: boolean;
}

/** Reads and checks the fan-out function's configuration; a bad variable fails with its name. */
export function readFanoutConfig(env: Env): FanoutConfig {
  const payloadBucket = optionalEnv(env, "PAYLOAD_BUCKET");
  return {
    sinksTable: requireEnv(env, "SINKS_TABLE", "the DynamoDB table that holds the sinks"),
    queueUrl: requireEnv(env, "DELIVERY_QUEUE_URL", "the FIFO delivery queue"),
    sinkCacheMs: intEnv(env, "SINK_CACHE_SECONDS", 5, { min: 0, max: 300 }) * 1000,
    maxMessageBytes: intEnv(env, "SQS_MAX_MESSAGE_BYTES", 262_144, { min: 1_024, max: 1_048_576 }),
    ...(payloadBucket !== undefined ? { payloadBucket } : {}),
    s3ForcePathStyle: optionalEnv(env, "S3_FORCE_PATH_STYLE") === "true",
  };
}
