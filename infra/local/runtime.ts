import { join, resolve } from "node:path";
import type { Logger } from "@aws-lambda-powertools/logger";
import { deliverFromEnv } from "../../functions/deliver/app";
import { fanoutFromEnv } from "../../functions/fanout/app";
import { sinksApiFromEnv } from "../../functions/sinks-api/app";
import { readStreamerConfig } from "../../functions/streamer/config";
import { lagMs, startStreamerProcess, type StreamerProcess } from "../../functions/streamer/process";
import { sqsClient } from "../../shared/aws/sqs-client";
import { intEnv, optionalEnv, type Env } from "../../shared/config/env";
import { ensureDeliveriesTable } from "../../shared/delivery/delivery-log";
import { INGEST_QUEUE_MAX_RECEIVE_COUNT } from "../../shared/delivery/delivery-queue-settings";
import { CountingMetrics } from "../../shared/observability/metrics";
import { createLogger } from "../../shared/observability/logger";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { ensureStreamerTable } from "../../shared/streamer/streamer-table";
import { startDynamoDbLocal } from "./dynamodb-local";
import { localReplayer } from "./eventbridge/local-replayer";
import { DynamoReplayStore } from "../../shared/replay/dynamo-replay-store";
import { ensurePortFree, lockDataDir } from "./exclusive";
import { startHttpApiServer } from "./http-api-server";
import { httpUrl } from "./http-url";
import { localAwsEnvironment } from "./local-aws";
import { localManagementToken, managementTokenFile } from "./management-token";
import { startSimulatedCluster, type SimulatedCluster } from "./nomad/simulated-cluster";
import { startSqsEventSource, type SqsEventSource } from "./sqs/event-source";
import { ensureQueueWithDlq } from "./sqs/queues";
import { restoreQueueSnapshot, saveQueueSnapshot } from "./sqs/snapshot";
import { startStandIns } from "./stand-ins";
import { LeanDynamoDBClient } from "../../shared/aws/lean-clients";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { signingSecrets } from "../../shared/sinks/sink";

/**
 * The whole pipeline on one machine, on the same handler and streamer code that runs on
 * AWS, each AWS service replaced by a local stand-in that the SDK reaches through its own
 * `AWS_ENDPOINT_URL_*` variables:
 *
 *   Nomad (NOMAD_ADDR, or the simulated cluster)
 *     → streamer (lease and checkpoint in DynamoDB Local)
 *     → PutEvents endpoint (AWS's limits) → rule `source: nomad` → SQS ingest queue (fauxqs), and the archive file
 *     → fanout (a poller like Lambda's SQS event source) → FIFO delivery queue, one group per sink
 *     → deliver (the same kind of poller) → webhooks
 *   sinks API (HTTP API v2 events from real HTTP requests) on PORT
 *
 * State lives under the data directory: DynamoDB Local's files (sinks, deliveries, the
 * streamer's checkpoint), the management token, the archive, the simulated cluster's state,
 * and, between a stop and the next start, the queues' messages (fauxqs keeps them in memory;
 * see sqs/snapshot.ts). So a restart continues where the last run stopped.
 *
 * One runtime per process: it points this process's AWS SDK at its stand-ins (process.env).
 */
export interface LocalRuntime {
  readonly apiUrl: string;
  /** The streamer's `GET /health` (HEALTH_PORT: any free port unless set). */
  readonly healthUrl: string;
  readonly token: string;
  readonly tokenSource: "environment" | "generated" | "saved";
  /** SINKS_MANAGEMENT_TOKEN is set and a different token is saved in the data directory (refused while it is set). */
  readonly savedTokenRefused: boolean;
  readonly dataDir: string;
  /** Where events come from: a Nomad at NOMAD_ADDR, or the built-in simulated cluster. */
  readonly source: { readonly kind: "nomad"; readonly address: string } | { readonly kind: "simulated"; readonly cluster: SimulatedCluster; readonly eventsPerSecond: number; readonly namespaces: readonly string[] };
  /** The banner's example sink `demo`, when an earlier run registered it: its address and valid secrets. */
  readonly demoSink: { readonly address: string; readonly secrets: readonly string[]; readonly disabled: string | undefined } | undefined;
  /** Messages found saved from the last run and put back on their queues, per queue. */
  readonly restored: Readonly<Record<string, number>>;
  readonly settings: LocalRuntimeSettings;
  counters(): RuntimeCounters;
  /** Stops the streamer (publishing what it read), the pollers, then saves the queues and stops the stand-ins. */
  stop(): Promise<void>;
  /** Rejects if a stand-in fails while running (the thread running fauxqs and the bus); never resolves. */
  readonly failure: Promise<never>;
}

export interface RuntimeCounters {
  /** Events the streamer put on the bus (this run). */
  readonly streamed: number;
  /** Deliveries queued by the fan-out: (sink, event) pairs. */
  readonly matched: number;
  /** Events delivered to webhooks. */
  readonly delivered: number;
  /** Failed POSTs scheduled for a retry. */
  readonly retried: number;
  readonly deadLettered: number;
  /** How long the oldest event read from Nomad but not yet on the bus has waited, ms. */
  readonly lagMs: number;
  readonly streamerRole: "active" | "standby" | "stopped";
  readonly connected: boolean;
}

/** The variables the runtime reads itself (the functions and streamer read theirs, listed in HELP). */
export interface LocalRuntimeSettings {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly nomadAddress: string | undefined;
  readonly eventsPerSecond: number;
  readonly namespaces: readonly string[];
  /** Invocations at once of each function's poller (Lambda's maximum concurrency). */
  readonly fanoutConcurrency: number;
  readonly deliverConcurrency: number;
  /** How often main.ts prints the counters when its output is not a terminal (0: never). */
  readonly countersIntervalSeconds: number;
}

export const LOCAL_NAMES = {
  sinksTable: "nomad-event-sinks",
  deliveriesTable: "nomad-event-sinks-deliveries",
  streamerTable: "nomad-event-sinks-streamer",
  bus: "nomad-event-sinks",
  ingestQueue: "nomad-event-sinks-ingest",
  deliveryQueue: "nomad-event-sinks-delivery",
} as const;

/** Reads the runtime's own variables; a bad one throws ConfigError naming it. */
export function readLocalRuntimeSettings(env: Env): LocalRuntimeSettings {
  const namespaces = (optionalEnv(env, "SIMULATED_NAMESPACES") ?? "default,web,batch")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  return {
    port: intEnv(env, "PORT", 8080, { min: 0, max: 65535 }),
    host: optionalEnv(env, "HOST") ?? "127.0.0.1",
    dataDir: resolve(optionalEnv(env, "LOCAL_DATA_DIR") ?? ".data"),
    nomadAddress: optionalEnv(env, "NOMAD_ADDR"),
    eventsPerSecond: intEnv(env, "SIMULATED_EVENTS_PER_SECOND", 20, { min: 0, max: 100_000 }),
    namespaces: namespaces.length > 0 ? namespaces : ["default"],
    fanoutConcurrency: intEnv(env, "FANOUT_CONCURRENCY", 2, { min: 1, max: 50 }),
    // One sink is one FIFO message group: invocations beyond the number of busy sinks wait idle.
    deliverConcurrency: intEnv(env, "DELIVER_CONCURRENCY", 10, { min: 1, max: 100 }),
    countersIntervalSeconds: intEnv(env, "COUNTERS_INTERVAL_SECONDS", 10, { min: 0, max: 3600 }),
  };
}

/** Loopback, where npm start lets webhooks go (the demo receiver, your own test server). */
export const LOCAL_WEBHOOK_ALLOWED_CIDRS = "127.0.0.0/8,::1/128";

/** Defaults for the functions' and streamer's own variables, where the local runtime differs from AWS. */
const LOCAL_DEFAULTS: Readonly<Record<string, string>> = {
  // Loopback webhooks (the demo receiver, your own test server) are allowed on this machine.
  WEBHOOK_ALLOWED_CIDRS: LOCAL_WEBHOOK_ALLOWED_CIDRS,
  // The streamer's health server listens on any free port; its figures are in the counters.
  HEALTH_PORT: "0",
  // Metrics are counted in process and shown as counters, not written as EMF on stdout.
  METRICS_INTERVAL_SECONDS: "0",
  // Only warnings and errors: the counters show the flow.
  POWERTOOLS_LOG_LEVEL: "WARN",
  // DynamoDB Local commits its writes one at a time (≈ 700 a second on a disk here): a sink's
  // LatestIndex is written at most once a second, not once a batch (docs/benchmarks.md, e2e).
  DELIVERY_LATEST_INDEX_EVERY_MS: "1000",
  // The fan-out reads the sinks' change version at most once a second, not once a batch (its AWS
  // default): every change is made in this process (through its API, or by the deliverer
  // disabling a sink), and the store tells the functions' copies to read it at their next batch
  // (SinkStore.onChange), so a changed sink or token still applies from the next event.
  SINK_CHECK_MS: "1000",
  SINKS_TABLE: LOCAL_NAMES.sinksTable,
  DELIVERIES_TABLE: LOCAL_NAMES.deliveriesTable,
  STREAMER_TABLE: LOCAL_NAMES.streamerTable,
  EVENT_BUS_NAME: LOCAL_NAMES.bus,
};

export async function startLocalRuntime(env: NodeJS.ProcessEnv = process.env): Promise<LocalRuntime> {
  const settings = readLocalRuntimeSettings(env);
  const stops: Array<() => unknown> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
  };
  try {
    return await start(env, settings, stops, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function start(env: NodeJS.ProcessEnv, settings: LocalRuntimeSettings, stops: Array<() => unknown>, stopAll: () => Promise<void>): Promise<LocalRuntime> {
  const { dataDir } = settings;
  // Before anything starts: the API's port is free, and no other runtime uses this directory.
  await ensurePortFree(settings.host, settings.port);
  stops.push(lockDataDir(dataDir));
  // An unset or blank variable takes the local default, as optionalEnv reads them.
  for (const [name, value] of Object.entries(LOCAL_DEFAULTS)) if (optionalEnv(env, name) === undefined) env[name] = value;
  // The streamer's health server listens where the API does (127.0.0.1 unless HOST says otherwise).
  if (optionalEnv(env, "HEALTH_HOST") === undefined) env.HEALTH_HOST = settings.host;
  const { token, source: tokenSource, savedRefused: savedTokenRefused } = localManagementToken(env.SINKS_MANAGEMENT_TOKEN, managementTokenFile(dataDir));
  const snapshotFile = join(dataDir, "queues.json");

  const dynamo = await startDynamoDbLocal({ dataDir: join(dataDir, "dynamodb") });
  stops.push(() => dynamo.stop());
  // fauxqs and the local bus run on a thread of their own (stand-ins.ts).
  const standIns = await startStandIns();
  stops.push(() => standIns.stop());

  let simulated: SimulatedCluster | undefined;
  if (settings.nomadAddress === undefined) {
    simulated = await startSimulatedCluster({ eventsPerSecond: settings.eventsPerSecond, namespaces: settings.namespaces, stateFile: join(dataDir, "simulated-nomad.json") });
    const cluster = simulated;
    stops.push(() => cluster.stop());
  }

  Object.assign(env, localAwsEnvironment({ dynamodb: dynamo.endpoint, sqs: standIns.sqsEndpoint }), {
    SINKS_MANAGEMENT_TOKEN: token,
    ...(simulated ? { NOMAD_ADDR: simulated.url } : {}),
  });
  const client = new LeanDynamoDBClient({});
  stops.push(() => client.destroy());
  await Promise.all([ensureSinksTable(client, env.SINKS_TABLE!), ensureDeliveriesTable(client, env.DELIVERIES_TABLE!), ensureStreamerTable(client, env.STREAMER_TABLE!)]);

  const sqs = sqsClient();
  stops.push(() => sqs.destroy());
  const ingest = await ensureQueueWithDlq(sqs, LOCAL_NAMES.ingestQueue, { fifo: false, visibilityTimeoutSeconds: 60, maxReceiveCount: INGEST_QUEUE_MAX_RECEIVE_COUNT });
  const delivery = await ensureQueueWithDlq(sqs, LOCAL_NAMES.deliveryQueue, { fifo: true });
  Object.assign(env, { DELIVERY_QUEUE_URL: delivery.queueUrl, DELIVERY_DLQ_URL: delivery.dlqUrl });
  const queueNames = [ingest.name, ingest.dlqName, delivery.name, delivery.dlqName];
  const restored = await restoreQueueSnapshot(sqs, snapshotFile, { [ingest.name]: ingest.queueUrl, [ingest.dlqName]: ingest.dlqUrl, [delivery.name]: delivery.queueUrl, [delivery.dlqName]: delivery.dlqUrl });
  // From here on, stopping saves what is on the queues (pushed before the pollers, so it runs after they stop).
  stops.push(async () => saveQueueSnapshot(snapshotFile, await standIns.snapshot(queueNames)));

  env.AWS_ENDPOINT_URL_EVENTBRIDGE = await standIns.startBus({ busName: env.EVENT_BUS_NAME!, ingestQueueUrl: ingest.queueUrl, archiveFile: join(dataDir, "eventbridge", `${env.EVENT_BUS_NAME}-archive.ndjson`) });
  stops.push(() => standIns.stopBus());

  const fanoutMetrics = new CountingMetrics();
  const deliverMetrics = new CountingMetrics();
  const [fanoutLogger, deliverLogger] = [createLogger("fanout"), createLogger("deliver")];
  const onError = (logger: Logger) => (error: unknown) => logger.warn("invocation failed; its records come back after their visibility timeout", { error: error as Error });
  const fanout = fanoutFromEnv(env, fanoutLogger, fanoutMetrics);
  const deliver = deliverFromEnv(env, deliverLogger, deliverMetrics);
  // Runs once the pollers have stopped (pushed before them): the LatestIndex advances still deferred are written.
  stops.push(() => deliver.flush());
  const sources: SqsEventSource[] = [
    startSqsEventSource({ endpoint: standIns.sqsEndpoint, queueUrl: ingest.queueUrl, handler: fanout, batchSize: 10, concurrency: settings.fanoutConcurrency, onError: onError(fanoutLogger) }),
    startSqsEventSource({ endpoint: standIns.sqsEndpoint, queueUrl: delivery.queueUrl, handler: deliver, batchSize: 10, concurrency: settings.deliverConcurrency, onError: onError(deliverLogger) }),
  ];
  stops.push(() => Promise.all(sources.map((source) => source.stop())));

  // Replays read the local bus's archive, as EventBridge's replay reads the bus's archive in AWS.
  const apiLogger = createLogger("sinks-api");
  const replayer = localReplayer(standIns, new DynamoReplayStore({ tableName: env.SINKS_TABLE!, client }), apiLogger);
  const api = await startHttpApiServer(sinksApiFromEnv(env, apiLogger, { replayer }), { port: settings.port, host: settings.host });
  stops.push(() => api.close());

  const demo = (await new DynamoSinkStore({ tableName: env.SINKS_TABLE!, client }).get("demo")).value;

  const streamer: StreamerProcess = await startStreamerProcess(readStreamerConfig(env), createLogger("streamer"));
  let streamerStopped = false;
  stops.push(async () => {
    streamerStopped = true;
    await streamer.stop("local runtime stopping");
  });

  return {
    apiUrl: api.url,
    // A server on every interface is reached here on loopback.
    healthUrl: `${httpUrl(env.HEALTH_HOST === "0.0.0.0" || env.HEALTH_HOST === "::" ? "127.0.0.1" : env.HEALTH_HOST!, streamer.healthPort)}/health`,
    token,
    tokenSource,
    savedTokenRefused,
    dataDir,
    source: simulated ? { kind: "simulated", cluster: simulated, eventsPerSecond: settings.eventsPerSecond, namespaces: settings.namespaces } : { kind: "nomad", address: settings.nomadAddress! },
    demoSink: demo ? { address: demo.Address, secrets: signingSecrets(demo), disabled: demo.Disabled?.Reason } : undefined,
    restored,
    settings,
    counters: () => {
      const status = streamer.status();
      return {
        streamed: status?.eventsOut ?? 0,
        matched: fanoutMetrics.total("FanoutMessagesQueued"),
        delivered: deliverMetrics.total("Delivered"),
        retried: deliverMetrics.total("DeliveryRetries"),
        deadLettered: deliverMetrics.total("DeadLettered"),
        lagMs: status ? lagMs(status) : 0,
        streamerRole: streamerStopped ? "stopped" : status ? "active" : "standby",
        connected: status?.connected ?? false,
      };
    },
    stop: stopAll,
    failure: standIns.failure,
  };
}
