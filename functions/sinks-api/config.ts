import { ConfigError, intEnv, optionalEnv, requireEnv, type Env } from "../../shared/config/env";
import { readAllowedCidrs } from "../../shared/delivery/allowed-cidrs";
import type { Cidr } from "../../shared/delivery/ssrf-guard";

export interface SinksApiConfig {
  readonly tableName: string;
  readonly deliveriesTable: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly allowedCidrs: Cidr[];
  readonly logTtlDays: number;
  readonly token: { readonly value: string } | { readonly secretId: string };
  /** EventBridge archive replay: all three set, or none (replays then answer 501). */
  readonly replay?: { readonly archiveArn: string; readonly busArn: string; readonly ingestRuleArn: string };
}

const REPLAY_VARIABLES = ["ARCHIVE_ARN", "EVENT_BUS_ARN", "INGEST_RULE_ARN"] as const;

function readReplayConfig(env: Env): SinksApiConfig["replay"] {
  const set = REPLAY_VARIABLES.filter((name) => optionalEnv(env, name) !== undefined);
  if (set.length === 0) return undefined;
  if (set.length < REPLAY_VARIABLES.length) {
    throw new ConfigError(`Set all of ${REPLAY_VARIABLES.join(", ")} for archive replays, or none; only ${set.join(", ")} ${set.length === 1 ? "is" : "are"} set`);
  }
  return { archiveArn: optionalEnv(env, "ARCHIVE_ARN")!, busArn: optionalEnv(env, "EVENT_BUS_ARN")!, ingestRuleArn: optionalEnv(env, "INGEST_RULE_ARN")! };
}

/** Reads the sinks API's configuration; throws ConfigError naming the variable. */
export function readSinksApiConfig(env: Env): SinksApiConfig {
  const replay = readReplayConfig(env);
  const delivery = {
    tableName: requireEnv(env, "SINKS_TABLE", "the DynamoDB table that holds the sinks"),
    deliveriesTable: requireEnv(env, "DELIVERIES_TABLE", "the DynamoDB table of delivery attempts"),
    queueUrl: requireEnv(env, "DELIVERY_QUEUE_URL", "the FIFO delivery queue, where redriven deliveries go"),
    deadLetterQueueUrl: requireEnv(env, "DELIVERY_DLQ_URL", "the delivery queue's FIFO dead-letter queue"),
    allowedCidrs: readAllowedCidrs(env),
    logTtlDays: intEnv(env, "DELIVERY_LOG_TTL_DAYS", 7, { min: 1, max: 365 }),
    ...(replay !== undefined ? { replay } : {}),
  };

  const value = optionalEnv(env, "SINKS_MANAGEMENT_TOKEN");
  const secretId = optionalEnv(env, "SINKS_MANAGEMENT_TOKEN_SECRET_ARN");
  if (value !== undefined && secretId !== undefined) {
    throw new ConfigError("Set only one of SINKS_MANAGEMENT_TOKEN and SINKS_MANAGEMENT_TOKEN_SECRET_ARN, not both");
  }
  if (value !== undefined) return { ...delivery, token: { value } };
  if (secretId !== undefined) return { ...delivery, token: { secretId } };
  throw new ConfigError("Environment variable SINKS_MANAGEMENT_TOKEN or SINKS_MANAGEMENT_TOKEN_SECRET_ARN is required (the management token that authorizes API calls)");
}
