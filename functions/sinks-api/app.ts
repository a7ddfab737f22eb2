import type { Logger } from "@aws-lambda-powertools/logger";
import { staticTokenSource } from "../../shared/api/auth";
import { SecretsManagerTokenSource } from "../../shared/api/secrets-manager-token-source";
import { createSinksApi } from "../../shared/api/sinks-api";
import type { Env } from "../../shared/config/env";
import { DynamoDeliveryLog } from "../../shared/delivery/delivery-log";
import { SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import { AddressGuard } from "../../shared/delivery/ssrf-guard";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { DynamoTokenStore } from "../../shared/tokens/dynamo-token-store";
import { DynamoReplayStore } from "../../shared/replay/dynamo-replay-store";
import { EventBridgeReplayer, type Replayer } from "../../shared/replay/replayer";
import { readSinksApiConfig } from "./config";
import { LeanDynamoDBClient } from "../../shared/aws/lean-clients";

/**
 * Builds the API from configuration: one store and one token source per process. Replays
 * go through EventBridge's archive when ARCHIVE_ARN, EVENT_BUS_ARN and INGEST_RULE_ARN are
 * set; `overrides.replayer` replaces that (the local runtime replays its own archive).
 */
export function sinksApiFromEnv(env: Env, logger: Logger, overrides: { replayer?: Replayer } = {}) {
  const config = readSinksApiConfig(env);
  // One client (one credential chain, one connection pool) for the sink store and the attempt log.
  const dynamo = new LeanDynamoDBClient({});
  const tokens = "value" in config.token ? staticTokenSource(config.token.value) : new SecretsManagerTokenSource({ secretId: config.token.secretId });
  const queue = new SqsDeliveryQueue({ queueUrl: config.queueUrl, deadLetterQueueUrl: config.deadLetterQueueUrl });
  return createSinksApi({
    store: new DynamoSinkStore({ tableName: config.tableName, client: dynamo }),
    tokens,
    // Team and management tokens live in the sinks table, with the sinks they own.
    acl: new DynamoTokenStore({ tableName: config.tableName, client: dynamo }),
    replays: new DynamoReplayStore({ tableName: config.tableName, client: dynamo }),
    ...(overrides.replayer ? { replayer: overrides.replayer } : config.replay ? { replayer: new EventBridgeReplayer(config.replay) } : {}),
    logger,
    addressGuard: new AddressGuard({ allowedCidrs: config.allowedCidrs }),
    deliveries: new DynamoDeliveryLog({ tableName: config.deliveriesTable, ttlDays: config.logTtlDays, client: dynamo }),
    redrive: (sinkId) => queue.redrive(sinkId),
  });
}
