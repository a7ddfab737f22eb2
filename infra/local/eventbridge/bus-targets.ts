import { appendFile, mkdir, rename, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import { fullJitter, sleep } from "../../../shared/retry/backoff";
import { eventEnvelopeJson, type AcceptedEvent } from "./accepted-event";

/**
 * What the AWS stack attaches to the bus, for the local PutEvents endpoint's `onAccepted`:
 * a rule (by `source`) whose target is the SQS ingest queue, and an archive of every event.
 * Each target gets the event as EventBridge hands it to targets (the envelope, the detail
 * byte for byte). The hook runs before PutEvents answers, so an event is acknowledged to the
 * streamer only once it is in the queue and the archive; a failure fails the call's entries
 * and the streamer sends them again (at least once, as with AWS).
 */
export interface BusTargetsOptions {
  readonly sqs: SQSClient;
  /** The rule's target. */
  readonly ingestQueueUrl: string;
  /** The rule's pattern: `{"source": [...]}`. */
  readonly sources: readonly string[];
  /** The archive: one envelope per line, appended. Omit for none. */
  readonly archiveFile?: string;
  /** Past this size the archive file becomes `<file>.1` (replacing an older one) and a new one starts. @default 256 MiB */
  readonly archiveMaxBytes?: number;
  /** Summed body bytes of one SendMessageBatch. @default 262,144 (SQS's classic batch limit) */
  readonly maxBatchBytes?: number;
}

export interface BusTargets {
  readonly onAccepted: (events: readonly AcceptedEvent[]) => Promise<void>;
  readonly stats: { routed: number; archived: number };
}

const SEND_ATTEMPTS = 5;

export function busTargets(options: BusTargetsOptions): BusTargets {
  const stats = { routed: 0, archived: 0 };
  const maxBatchBytes = options.maxBatchBytes ?? 262_144;
  let archiveReady: Promise<unknown> | undefined;
  const archiveMaxBytes = options.archiveMaxBytes ?? 256 * 1024 * 1024;
  let archiveBytes = 0;
  const archive = async (file: string, lines: string) => {
    archiveReady ??= mkdir(dirname(file), { recursive: true }).then(() =>
      stat(file).then(
        (s) => (archiveBytes = s.size),
        () => undefined,
      ),
    );
    await archiveReady;
    const bytes = Buffer.byteLength(lines);
    if (archiveBytes > 0 && archiveBytes + bytes > archiveMaxBytes) {
      await rename(file, `${file}.1`);
      archiveBytes = 0;
    }
    await appendFile(file, lines);
    archiveBytes += bytes;
  };

  const send = async (bodies: string[]) => {
    let pending: SendMessageBatchRequestEntry[] = bodies.map((body, i) => ({ Id: `e${i}`, MessageBody: body }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const result = await options.sqs.send(new SendMessageBatchCommand({ QueueUrl: options.ingestQueueUrl, Entries: pending }));
      const failed = new Set((result.Failed ?? []).map((entry) => entry.Id));
      stats.routed += pending.length - failed.size;
      if (failed.size === 0) return;
      if (attempt >= SEND_ATTEMPTS) throw new Error(`the ingest queue refused ${failed.size} event(s): ${result.Failed?.[0]?.Code} ${result.Failed?.[0]?.Message ?? ""}`);
      pending = pending.filter((entry) => failed.has(entry.Id));
      await sleep(fullJitter(attempt, 50, 1_000));
    }
  };

  return {
    stats,
    onAccepted: async (events) => {
      const bodies = events.map((event) => eventEnvelopeJson(event));
      if (options.archiveFile !== undefined) {
        await archive(options.archiveFile, bodies.join("\n") + "\n");
        stats.archived += bodies.length;
      }
      const routed = bodies.filter((_, i) => options.sources.includes(events[i]!.source));
      // Batches of at most 10 entries and maxBatchBytes, in order.
      let batch: string[] = [];
      let bytes = 0;
      for (const body of routed) {
        const size = Buffer.byteLength(body);
        if (batch.length > 0 && (batch.length === 10 || bytes + size > maxBatchBytes)) {
          await send(batch);
          batch = [];
          bytes = 0;
        }
        batch.push(body);
        bytes += size;
      }
      if (batch.length > 0) await send(batch);
    },
  };
}
