import { ConfigError, intEnv, requireEnv, type Env } from "../../shared/config/env";
import { readPayloadStoreConfig, type PayloadStoreConfig } from "../../shared/config/payload-config";
import { readAllowedCidrs } from "../../shared/delivery/allowed-cidrs";
import { sinkCacheMs, sinkCheckMs } from "../../shared/delivery/sink-cache";
import type { Cidr } from "../../shared/delivery/ssrf-guard";
import { DEFAULT_RETRY_POLICY, MAX_RETRY_HORIZON_SECONDS, SQS_MAX_VISIBILITY_SECONDS, type RetryPolicy } from "../../shared/delivery/retry-policy";

export interface DeliverConfig extends PayloadStoreConfig {
  readonly sinksTable: string;
  readonly deliveriesTable: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly allowedCidrs: Cidr[];
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly policy: RetryPolicy;
  readonly maxEventsPerRequest: number;
  readonly maxRequestBytes: number;
  readonly logTtlDays: number;
  readonly sinkCacheMs: number;
  readonly sinkCheckMs: number;
  readonly latestIndexEveryMs: number;
}

/** Reads and checks the deliver function's configuration; a bad variable fails with its name. */
export function readDeliverConfig(env: Env): DeliverConfig {
  const defaults = DEFAULT_RETRY_POLICY;
  const baseSeconds = intEnv(env, "DELIVERY_RETRY_BASE_SECONDS", defaults.baseMs / 1000, { min: 1, max: SQS_MAX_VISIBILITY_SECONDS });
  const capSeconds = intEnv(env, "DELIVERY_RETRY_CAP_SECONDS", defaults.capMs / 1000, { min: 1, max: SQS_MAX_VISIBILITY_SECONDS });
  if (capSeconds < baseSeconds) throw new ConfigError(`Environment variable DELIVERY_RETRY_CAP_SECONDS (${capSeconds}) must not be below DELIVERY_RETRY_BASE_SECONDS (${baseSeconds})`);
  return {
    sinksTable: requireEnv(env, "SINKS_TABLE", "the DynamoDB table that holds the sinks"),
    deliveriesTable: requireEnv(env, "DELIVERIES_TABLE", "the DynamoDB table of delivery attempts"),
    queueUrl: requireEnv(env, "DELIVERY_QUEUE_URL", "the FIFO delivery queue"),
    deadLetterQueueUrl: requireEnv(env, "DELIVERY_DLQ_URL", "the delivery queue's FIFO dead-letter queue"),
    allowedCidrs: readAllowedCidrs(env),
    connectTimeoutMs: intEnv(env, "WEBHOOK_CONNECT_TIMEOUT_MS", 5_000, { min: 100, max: 60_000 }),
    timeoutMs: intEnv(env, "WEBHOOK_TIMEOUT_MS", 15_000, { min: 100, max: 300_000 }),
    policy: {
      baseMs: baseSeconds * 1000,
      capMs: capSeconds * 1000,
      retryAfterCapMs: intEnv(env, "DELIVERY_RETRY_AFTER_MAX_SECONDS", defaults.retryAfterCapMs / 1000, { min: 1, max: SQS_MAX_VISIBILITY_SECONDS }) * 1000,
      horizonMs: intEnv(env, "DELIVERY_RETRY_HORIZON_SECONDS", defaults.horizonMs / 1000, { min: 1, max: MAX_RETRY_HORIZON_SECONDS }) * 1000,
    },
    maxEventsPerRequest: intEnv(env, "DELIVERY_MAX_EVENTS_PER_REQUEST", 10, { min: 1, max: 10 }),
    maxRequestBytes: intEnv(env, "DELIVERY_MAX_REQUEST_BYTES", 262_144, { min: 1_024, max: 6_291_456 }),
    logTtlDays: intEnv(env, "DELIVERY_LOG_TTL_DAYS", 7, { min: 1, max: 365 }),
    sinkCacheMs: sinkCacheMs(env),
    sinkCheckMs: sinkCheckMs(env, 1_000),
    latestIndexEveryMs: intEnv(env, "DELIVERY_LATEST_INDEX_EVERY_MS", 0, { min: 0, max: 60_000 }),
    ...readPayloadStoreConfig(env),
  };
}
