import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { sinksApiFromEnv } from "../../functions/sinks-api/app";
import { intEnv, optionalEnv } from "../../shared/config/env";
import { createLogger } from "../../shared/observability/logger";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { sqsClient } from "../../shared/aws/sqs-client";
import { ensureDeliveriesTable } from "../../shared/delivery/delivery-log";
import { startDynamoDbLocal } from "./dynamodb-local";
import { startFauxqsServer } from "./fauxqs-server";
import { ensureFifoQueueWithDlq } from "./sqs/queues";
import { startHttpApiServer } from "./http-api-server";
import { localAwsEnvironment } from "./local-aws";
import { localManagementToken } from "./management-token";

const HELP = `nomad-event-sinks local runtime

Usage: npm start [-- --help]

Runs the sinks API on this machine over AWS's DynamoDB Local, persisted under the data
directory, so sinks survive a restart. Stop it with Ctrl-C.

Environment:
  PORT                    port of the sinks API (default 8080)
  HOST                    address the API listens on (default 127.0.0.1)
  SINKS_MANAGEMENT_TOKEN  the management token; when unset, one is generated once,
                          saved in <data dir>/management-token and printed
  SINKS_TABLE             DynamoDB table name (default nomad-event-sinks)
  DELIVERIES_TABLE        DynamoDB table of delivery attempts (default nomad-event-sinks-deliveries)
  WEBHOOK_ALLOWED_CIDRS   internal CIDRs webhooks may reach anyway, e.g. 127.0.0.0/8
                          (default none: loopback and private addresses are refused)
  LOCAL_DATA_DIR          where local state is kept (default .data)
`;

// The local runtime runs on Node 20 by design; Lambda runs Node 22 (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** What has been started, stopped last-first: on Ctrl-C, and when start-up fails half way (no orphaned Java process). */
const started: Array<() => unknown> = [];
async function stopStarted(): Promise<void> {
  for (const stop of started.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(HELP);
    return;
  }
  const env = process.env;
  const port = intEnv(env, "PORT", 8080, { min: 0, max: 65535 });
  const host = optionalEnv(env, "HOST") ?? "127.0.0.1";
  const dataDir = resolve(optionalEnv(env, "LOCAL_DATA_DIR") ?? ".data");
  const tableName = optionalEnv(env, "SINKS_TABLE") ?? "nomad-event-sinks";
  const { token, source } = localManagementToken(env.SINKS_MANAGEMENT_TOKEN, join(dataDir, "management-token"));

  const dynamo = await startDynamoDbLocal({ dataDir: join(dataDir, "dynamodb") });
  started.push(() => dynamo.stop());
  const fauxqs = await startFauxqsServer();
  started.push(() => fauxqs.stop());
  const deliveriesTable = optionalEnv(env, "DELIVERIES_TABLE") ?? "nomad-event-sinks-deliveries";
  Object.assign(process.env, localAwsEnvironment({ dynamodb: dynamo.endpoint, sqs: fauxqs.endpoint }), { SINKS_TABLE: tableName, DELIVERIES_TABLE: deliveriesTable, SINKS_MANAGEMENT_TOKEN: token });
  const client = new DynamoDBClient({});
  started.push(() => client.destroy());
  await Promise.all([ensureSinksTable(client, tableName), ensureDeliveriesTable(client, deliveriesTable)]);
  const sqs = sqsClient();
  started.push(() => sqs.destroy());
  const queues = await ensureFifoQueueWithDlq(sqs, "nomad-event-sinks-delivery");
  Object.assign(process.env, { DELIVERY_QUEUE_URL: queues.queueUrl, DELIVERY_DLQ_URL: queues.dlqUrl });

  const logger = createLogger("local");
  const api = await startHttpApiServer(sinksApiFromEnv(process.env, logger), { port, host });
  started.push(() => api.close());

  const tokenNote = source === "environment" ? "(from SINKS_MANAGEMENT_TOKEN)" : source === "generated" ? `(generated, saved in ${join(dataDir, "management-token")})` : `(saved in ${join(dataDir, "management-token")})`;
  process.stdout.write(`
nomad-event-sinks is running locally.

  Sinks API         ${api.url}/v1/event/sinks
  Management token  ${token}  ${tokenNote}
  Data              ${dataDir}

Register a sink:

  curl -X PUT ${api.url}/v1/event/sink/my-sink \\
    -H "X-Nomad-Token: ${token}" \\
    -d '{"ID":"my-sink","Type":"webhook","Address":"https://example.com/hook","Topics":{"Job":["*"]}}'

List sinks:

  curl -H "X-Nomad-Token: ${token}" ${api.url}/v1/event/sinks?pretty

Ctrl-C stops everything; sinks are kept for the next start.
`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping…\n`);
    await stopStarted();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch(async (error: unknown) => {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopStarted();
  process.exit(1);
});
