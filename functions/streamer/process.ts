import type { Logger } from "@aws-lambda-powertools/logger";
import { nomadDispatcher } from "../../shared/nomad/stream-client";
import { DynamoCheckpointStore } from "../../shared/streamer/checkpoint-store";
import { EventBridgePublisher } from "../../shared/streamer/eventbridge-publisher";
import { DynamoLease, keepLease, leaseHolderId, waitForLease } from "../../shared/streamer/lease";
import { EmfMetrics, type MetricsSink } from "../../shared/observability/metrics";
import { Streamer, type StreamerStatus } from "../../shared/streamer/streamer";
import type { StreamerConfig } from "./config";
import { startHealthServer } from "./health-server";
import { LeanDynamoDBClient } from "../../shared/aws/lean-clients";

export interface StreamerProcess {
  readonly healthPort: number;
  /** The current term's figures (undefined while standby before the first term). */
  status(): StreamerStatus | undefined;
  /** Stops reading, publishes what was read, writes the checkpoint, releases the lease. */
  stop(reason: string): Promise<void>;
  /** Resolves when the process has stopped for good. */
  readonly done: Promise<void>;
}

/**
 * The long-lived streamer: waits as standby until it holds the lease, streams while it
 * holds it, and goes back to standby if it loses it. One active publisher at a time.
 */
export async function startStreamerProcess(config: StreamerConfig, logger: Logger): Promise<StreamerProcess> {
  const holder = leaseHolderId();
  // One DynamoDB client and one Nomad connection pool for the process, whatever the number of terms.
  const dynamo = new LeanDynamoDBClient({});
  const nomadPool = nomadDispatcher(config.nomad);
  const lease = new DynamoLease({ tableName: config.tableName, cluster: config.cluster, holder, durationMs: config.leaseDurationMs, client: dynamo });
  const checkpoints = new DynamoCheckpointStore({ tableName: config.tableName, cluster: config.cluster, lease, client: dynamo });
  const stopping = new AbortController();
  let current: Streamer | undefined;
  let role: "standby" | "active" = "standby";
  /** Since when the current role holds: silence is measured from here until Nomad's first byte. */
  let roleSince = Date.now();

  const publisher = new EventBridgePublisher({
    signal: stopping.signal,
    onRetry: (info) => logger.warn("EventBridge did not accept every entry; retrying", { attempt: info.attempt, failedEntries: info.failedEntries, errorCodes: info.errorCodes, callError: (info.callError as Error | undefined)?.message, waitMs: info.waitMs }),
  });

  // The S3 client is loaded only with a payload bucket: without one, its code is never run.
  const payloads =
    config.payloadBucket !== undefined
      ? (await import("../../shared/streamer/payload-store")).S3PayloadStore.fromConfig(config)
      : undefined;

  const metrics = config.metricsIntervalMs > 0 ? startStreamerMetrics(() => current?.status, new EmfMetrics({ namespace: config.metricsNamespace, serviceName: "streamer", dimensions: { cluster: config.cluster } }), config.metricsIntervalMs) : undefined;

  const health = await startHealthServer(config.healthPort, () => {
    const status = current?.status;
    const lastFrameAgeMs = status?.lastFrameAt !== undefined ? Date.now() - status.lastFrameAt : undefined;
    // Heartbeats arrive every 30 s; an active streamer silent for two liveness windows is stuck.
    const quietFor = Date.now() - Math.max(status?.lastByteAt ?? 0, roleSince);
    const healthy = role === "standby" || status?.connected === true || quietFor < 2 * config.livenessMs;
    return {
      healthy,
      role,
      holder,
      cluster: config.cluster,
      leaseHeld: lease.held,
      connected: status?.connected ?? false,
      checkpoint: status?.checkpoint,
      highestIndex: status?.highestIndex,
      lagIndexes: status ? status.highestIndex - status.checkpoint : undefined,
      lagMs: status ? lagMs(status) : undefined,
      lastFrameAgeMs,
      eventsIn: status?.eventsIn,
      eventsOut: status?.eventsOut,
      bytesIn: status?.bytesIn,
      reconnects: status?.reconnects,
      gaps: status?.gaps,
      lastError: status?.lastError,
    };
  }, config.healthHost);

  const loop = async () => {
    while (!stopping.signal.aborted) {
      logger.info("standby: waiting for the lease", { holder, cluster: config.cluster });
      const acquired = await waitForLease(lease, { signal: stopping.signal, pollMs: Math.max(1_000, config.leaseDurationMs / 3), onError: (error) => logger.warn("lease check failed", { error: (error as Error).message }) });
      if (!acquired) break;
      role = "active";
      roleSince = Date.now();
      logger.info("active: holding the lease", { holder, fencingToken: lease.fencingToken });
      const term = new AbortController();
      const onStop = () => term.abort(stopping.signal.reason);
      stopping.signal.addEventListener("abort", onStop, { once: true });
      const keeping = keepLease(lease, {
        signal: term.signal,
        onLost: (reason) => {
          logger.error("lost the lease; stopping publication", { reason: reason.message });
          term.abort(reason);
        },
      });
      current = new Streamer({
        nomad: config.nomad,
        cluster: config.cluster,
        busName: config.busName,
        ...(config.topics ? { topics: config.topics } : {}),
        checkpoints,
        publish: (entries) => publisher.send(entries),
        ...(payloads ? { storePayload: (cluster, eventId, payloadJson) => payloads.storePayload(cluster, eventId, payloadJson) } : {}),
        logger,
        livenessMs: config.livenessMs,
        maxLineBytes: config.maxLineBytes,
        maxEntryBytes: config.maxEntryBytes,
        maxInFlight: config.maxInFlight,
        namespacePollMs: config.namespacePollMs,
        dispatcher: nomadPool,
      });
      try {
        await current.run(term.signal);
      } finally {
        term.abort();
        stopping.signal.removeEventListener("abort", onStop);
        await keeping.catch(() => undefined);
        role = "standby";
        roleSince = Date.now();
      }
    }
  };

  const done = loop()
    .catch((error: unknown) => logger.error("streamer stopped on an error", { error: error as Error }))
    .finally(async () => {
      await lease.release().catch((error: unknown) => logger.warn("could not release the lease; the standby takes over at expiry", { error: (error as Error).message }));
      metrics?.stop();
      await health.close();
      await nomadPool.close().catch(() => undefined);
      publisher.destroy();
      dynamo.destroy();
    });

  return {
    healthPort: health.port,
    status: () => current?.status,
    done,
    stop: async (reason) => {
      logger.info("stopping", { reason });
      stopping.abort(new Error(reason));
      await done;
    },
  };
}

/** How long the oldest event read but not yet on the bus has waited (0 when all are published). */
export function lagMs(status: StreamerStatus, now = Date.now()): number {
  return status.oldestUnpublishedAt !== undefined ? Math.max(0, now - status.oldestUnpublishedAt) : 0;
}

/**
 * Writes the streamer's figures every `everyMs`: counters as the change since the last
 * write (EventsIn, EventsOut, BytesIn, Reconnects, StreamGaps), and the lag as it is now
 * (LagIndexes: highest index read minus the checkpoint; PublishLag: age of the oldest
 * event not yet on the bus). A new term (after a lease change) starts its counters at 0.
 */
export function startStreamerMetrics(status: () => StreamerStatus | undefined, sink: MetricsSink, everyMs: number): { stop(): void; flush(): void } {
  let last: StreamerStatus | undefined;
  let lastObject: StreamerStatus | undefined;
  const flush = () => {
    const now = status();
    if (now === undefined) return;
    const before = now === lastObject ? last : undefined;
    const delta = (key: "eventsIn" | "eventsOut" | "bytesIn" | "reconnects" | "gaps") => now[key] - (before?.[key] ?? 0);
    sink.add("EventsIn", "Count", delta("eventsIn"));
    sink.add("EventsOut", "Count", delta("eventsOut"));
    sink.add("BytesIn", "Bytes", delta("bytesIn"));
    sink.add("Reconnects", "Count", delta("reconnects"));
    sink.add("StreamGaps", "Count", delta("gaps"));
    sink.add("LagIndexes", "Count", now.highestIndex - now.checkpoint);
    sink.add("PublishLag", "Milliseconds", lagMs(now));
    sink.flush();
    last = { ...now };
    lastObject = now;
  };
  const timer = setInterval(flush, everyMs);
  timer.unref();
  return {
    flush,
    stop: () => {
      clearInterval(timer);
      flush();
    },
  };
}
