import { ConfigError, intEnv, optionalEnv, requireEnv, type Env } from "../../shared/config/env";
import { readPayloadStoreConfig, type PayloadStoreConfig } from "../../shared/config/payload-config";
import { readMetricsNamespace } from "../../shared/observability/metrics";
import { readNomadConfig, type NomadConfig } from "../../shared/nomad/nomad-config";
import { DEFAULT_MAX_LINE_BYTES } from "../../shared/nomad/stream-client";
import { canonicalTopic } from "../../shared/nomad/topics";
import type { TopicFilter } from "../../shared/nomad/topic-filter";

export interface StreamerConfig extends PayloadStoreConfig {
  readonly nomad: NomadConfig;
  readonly cluster: string;
  readonly busName: string;
  readonly tableName: string;
  readonly topics?: TopicFilter;
  readonly namespacePollMs: number;
  readonly maxEntryBytes: number;
  readonly maxInFlight: number;
  readonly leaseDurationMs: number;
  readonly livenessMs: number;
  /** STREAM_MAX_LINE_BYTES: the longest stream line (one frame) read. */
  readonly maxLineBytes: number;
  readonly healthPort: number;
  /** The address the health server listens on (HEALTH_HOST): every interface in a task; npm start's HOST locally. */
  readonly healthHost: string;
  readonly shutdownMs: number;
  /** How often metrics are written (EMF); 0 writes none. */
  readonly metricsIntervalMs: number;
  readonly metricsNamespace: string;
}

/** `Job:web,Node,Evaluation:` → {"Job":["web"],"Node":["*"],"Evaluation":[""]}, as Nomad parses `topic=`. */
export function parseTopics(raw: string): TopicFilter {
  const topics: Record<string, string[]> = {};
  for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
    const pieces = part.split(":");
    if (pieces.length > 2) throw new ConfigError(`Environment variable STREAMER_TOPICS has ${JSON.stringify(part)}; each item must be Topic or Topic:Key`);
    const topic = canonicalTopic(pieces[0]!);
    if (topic === undefined) throw new ConfigError(`Environment variable STREAMER_TOPICS names unknown topic ${JSON.stringify(pieces[0])}`);
    const key = pieces.length === 1 ? "*" : pieces[1]!;
    const keys = (topics[topic] ??= []);
    if (!keys.includes(key)) keys.push(key);
  }
  if (Object.keys(topics).length === 0) throw new ConfigError("Environment variable STREAMER_TOPICS is set but names no topic");
  return topics;
}

/** What STREAMER_CLUSTER accepts (the CDK checks its context value with it too). */
export const STREAMER_CLUSTER_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const STREAMER_CLUSTER_RULE = "1-64 letters, digits, '.', '_' or '-'";

/** Reads and checks the whole configuration at start; a bad variable fails with its name. */
export function readStreamerConfig(env: Env): StreamerConfig {
  const nomad = readNomadConfig(env);
  const cluster = optionalEnv(env, "STREAMER_CLUSTER") ?? "default";
  if (!STREAMER_CLUSTER_PATTERN.test(cluster)) {
    throw new ConfigError(`Environment variable STREAMER_CLUSTER must be ${STREAMER_CLUSTER_RULE}, but ${JSON.stringify(cluster)} was given`);
  }
  const topicsRaw = optionalEnv(env, "STREAMER_TOPICS");
  return {
    nomad,
    cluster,
    busName: requireEnv(env, "EVENT_BUS_NAME", "the EventBridge bus the events are published to"),
    tableName: requireEnv(env, "STREAMER_TABLE", "the DynamoDB table of the streamer's lease and checkpoint"),
    ...(topicsRaw !== undefined ? { topics: parseTopics(topicsRaw) } : {}),
    namespacePollMs: intEnv(env, "NAMESPACE_POLL_SECONDS", 60, { min: 0, max: 86_400 }) * 1000,
    maxEntryBytes: intEnv(env, "EVENTBRIDGE_MAX_ENTRY_BYTES", 262_144, { min: 4_096, max: 1_048_576 }),
    maxInFlight: intEnv(env, "EVENTBRIDGE_MAX_IN_FLIGHT", 4, { min: 1, max: 64 }),
    leaseDurationMs: intEnv(env, "LEASE_DURATION_SECONDS", 15, { min: 1, max: 600 }) * 1000,
    livenessMs: intEnv(env, "STREAM_LIVENESS_SECONDS", 45, { min: 1, max: 3_600 }) * 1000,
    maxLineBytes: intEnv(env, "STREAM_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES, { min: 1_048_576, max: 1_073_741_824 }),
    healthPort: intEnv(env, "HEALTH_PORT", 8081, { min: 0, max: 65_535 }),
    healthHost: optionalEnv(env, "HEALTH_HOST") ?? "0.0.0.0",
    shutdownMs: intEnv(env, "SHUTDOWN_TIMEOUT_SECONDS", 25, { min: 1, max: 120 }) * 1000,
    ...readPayloadStoreConfig(env),
    metricsIntervalMs: intEnv(env, "METRICS_INTERVAL_SECONDS", 60, { min: 0, max: 3_600 }) * 1000,
    metricsNamespace: readMetricsNamespace(env),
  };
}
