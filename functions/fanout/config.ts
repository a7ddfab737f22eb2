import { intEnv, requireEnv, type Env } from "../../shared/config/env";
import { readPayloadStoreConfig, type PayloadStoreConfig } from "../../shared/config/payload-config";
import { sinkCacheMs, sinkCheckMs } from "../../shared/delivery/sink-cache";

export interface FanoutConfig extends PayloadStoreConfig {
  readonly sinksTable: string;
  readonly queueUrl: string;
  readonly sinkCacheMs: number;
  readonly sinkCheckMs: number;
  readonly maxMessageBytes: number;
}

/** Reads and checks the fan-out function's configuration; a bad variable fails with its name. */
export function readFanoutConfig(env: Env): FanoutConfig {
  return {
    sinksTable: requireEnv(env, "SINKS_TABLE", "the DynamoDB table that holds the sinks"),
    queueUrl: requireEnv(env, "DELIVERY_QUEUE_URL", "the FIFO delivery queue"),
    sinkCacheMs: sinkCacheMs(env),
    sinkCheckMs: sinkCheckMs(env, 0),
    maxMessageBytes: intEnv(env, "SQS_MAX_MESSAGE_BYTES", 262_144, { min: 1_024, max: 1_048_576 }),
    ...readPayloadStoreConfig(env),
  };
}
