import type { Logger } from "@aws-lambda-powertools/logger";
import { DynamoCheckpointStore } from "../../shared/streamer/checkpoint-store";
import { EventBridgePublisher } from "../../shared/streamer/eventbridge-publisher";
import { DynamoLease, keepLease, leaseHolderId, waitForLease } from "../../shared/streamer/lease";
import { Streamer } from "../../shared/streamer/streamer";
import type { StreamerConfig } from "./config";
import { startHealthServer } from "./health-server";

export interface StreamerProcess {
  readonly healthPort: number;
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
  const lease = new DynamoLease({ tableName: config.tableName, cluster: config.cluster, holder, durationMs: config.leaseDurationMs });
  const checkpoints = new DynamoCheckpointStore({ tableName: config.tableName, cluster: config.cluster, lease });
  const stopping = new AbortController();
  let current: Streamer | undefined;
  let role: "standby" | "active" = "standby";
  const startedAt = Date.now();

  const publisher = new EventBridgePublisher({
    signal: stopping.signal,
    onRetry: (info) => logger.warn("EventBridge did not accept every entry; retrying", { attempt: info.attempt, failedEntries: info.failedEntries, errorCodes: info.errorCodes, callError: (info.callError as Error | undefined)?.message, waitMs: info.waitMs }),
  });

  // The S3 client is loaded only with a payload bucket: without one, its code is never run.
  const payloads =
    config.payloadBucket !== undefined
      ? new (await import("../../shared/streamer/payload-store")).S3PayloadStore({ bucket: config.payloadBucket, clientConfig: { forcePathStyle: config.s3ForcePathStyle } })
      : undefined;

  const health = await startHealthServer(config.healthPort, () => {
    const status = current?.status;
    const lastFrameAgeMs = status?.lastFrameAt !== undefined ? Date.now() - status.lastFrameAt : undefined;
    // Heartbeats arrive every 30 s; an active streamer silent for two liveness windows is stuck.
    const quietFor = Date.now() - (status?.lastFrameAt ?? startedAt);
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
      lastFrameAgeMs,
      eventsIn: status?.eventsIn,
      eventsOut: status?.eventsOut,
      bytesIn: status?.bytesIn,
      reconnects: status?.reconnects,
      gaps: status?.gaps,
      lastError: status?.lastError,
    };
  });

  const loop = async () => {
    while (!stopping.signal.aborted) {
      logger.info("standby: waiting for the lease", { holder, cluster: config.cluster });
      const acquired = await waitForLease(lease, { signal: stopping.signal, pollMs: Math.max(1_000, config.leaseDurationMs / 3), onError: (error) => logger.warn("lease check failed", { error: (error as Error).message }) });
      if (!acquired) break;
      role = "active";
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
        ...(payloads ? { offload: (detail) => payloads.offload(detail) } : {}),
        logger,
        livenessMs: config.livenessMs,
        maxEntryBytes: config.maxEntryBytes,
        maxInFlight: config.maxInFlight,
        namespacePollMs: config.namespacePollMs,
      });
      try {
        await current.run(term.signal);
      } finally {
        term.abort();
        stopping.signal.removeEventListener("abort", onStop);
        await keeping.catch(() => undefined);
        role = "standby";
      }
    }
  };

  const done = loop()
    .catch((error: unknown) => logger.error("streamer stopped on an error", { error: error as Error }))
    .finally(async () => {
      await lease.release().catch((error: unknown) => logger.warn("could not release the lease; the standby takes over at expiry", { error: (error as Error).message }));
      await health.close();
    });

  return {
    healthPort: health.port,
    done,
    stop: async (reason) => {
      logger.info("stopping", { reason });
      stopping.abort(new Error(reason));
      await done;
    },
  };
}
