import { createReadStream } from "node:fs";
import { mkdir, open, rename, stat, type FileHandle } from "node:fs/promises";
import { createInterface } from "node:readline";
import { dirname } from "node:path";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import { fullJitter, sleep } from "../../../shared/retry/backoff";
import { envelopeHead, eventEnvelopeJson, withReplayName, type AcceptedEvent } from "./accepted-event";

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
  /**
   * Replays the archive's events whose `time` is in [from, to) through the rule, in archive
   * order, each with `"replay-name": name` as EventBridge adds it (replayed events are not
   * archived again). Calls `onProgress` after each batch; resolves with the count.
   */
  readonly replay: (options: { name: string; from: number; to: number; onProgress?: (replayed: number, lastTime: number) => void }) => Promise<number>;
  readonly stats: { routed: number; archived: number };
  /** Finishes the archive's pending writes and closes its file. */
  readonly close: () => Promise<void>;
}

const SEND_ATTEMPTS = 5;

export function busTargets(options: BusTargetsOptions): BusTargets {
  const stats = { routed: 0, archived: 0 };
  const maxBatchBytes = options.maxBatchBytes ?? 262_144;
  const archiveMaxBytes = options.archiveMaxBytes ?? 256 * 1024 * 1024;
  let archiveBytes = 0;
  // The archive file stays open (opening and closing it per call cost more than the write); writes
  // go one after another, in the order calls were accepted, so a rotation never splits one.
  let handle: FileHandle | undefined;
  let writes: Promise<unknown> = Promise.resolve();
  let closed = false;
  const archive = (file: string, lines: string): Promise<void> => {
    if (closed) return Promise.reject(new Error("the local bus is stopping; its archive is closed"));
    const write = writes.then(async () => {
      if (handle === undefined) {
        await mkdir(dirname(file), { recursive: true });
        handle = await open(file, "a+");
        archiveBytes = (await handle.stat()).size;
        // A write cut short (a full disk, a killed process) leaves half a line: the next line starts afresh.
        if (archiveBytes > 0) {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, archiveBytes - 1);
          if (last[0] !== 0x0a) archiveBytes += (await handle.write("\n")).bytesWritten;
        }
      }
      const bytes = Buffer.byteLength(lines);
      if (archiveBytes > 0 && archiveBytes + bytes > archiveMaxBytes) {
        await handle.close();
        handle = undefined;
        await rename(file, `${file}.1`);
        handle = await open(file, "a");
        archiveBytes = 0;
      }
      await handle.write(lines);
      archiveBytes += bytes;
    });
    // A failed write fails its call (the streamer sends those events again); the next write reopens the file.
    writes = write.catch(async () => {
      await handle?.close().catch(() => undefined);
      handle = undefined;
    });
    return write;
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

  /** Sends bodies through the rule in batches of at most 10 entries and maxBatchBytes, in order. */
  const route = async (bodies: readonly string[]) => {
    let batch: string[] = [];
    let bytes = 0;
    for (const body of bodies) {
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
  };

  return {
    stats,
    close: async () => {
      // Writes already queued finish first; later ones are refused (the bus has stopped taking calls).
      closed = true;
      await writes;
      await handle?.close();
      handle = undefined;
    },
    replay: async ({ name, from, to, onProgress }) => {
      const file = options.archiveFile;
      if (file === undefined) throw new Error("this bus keeps no archive to replay from");
      await writes;
      let replayed = 0;
      let lastTime = 0;
      for (const path of [`${file}.1`, file]) {
        const exists = await stat(path).then(
          () => true,
          () => false,
        );
        if (!exists) continue;
        let pending: string[] = [];
        for await (const line of createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity })) {
          const head = line === "" ? undefined : envelopeHead(line);
          if (head === undefined || head.time < from || head.time >= to || !options.sources.includes(head.source)) continue;
          pending.push(withReplayName(line, name));
          lastTime = head.time;
          if (pending.length === 100) {
            await route(pending);
            replayed += pending.length;
            pending = [];
            onProgress?.(replayed, lastTime);
          }
        }
        await route(pending);
        replayed += pending.length;
        onProgress?.(replayed, lastTime);
      }
      return replayed;
    },
    onAccepted: async (events) => {
      const bodies = events.map((event) => eventEnvelopeJson(event));
      if (options.archiveFile !== undefined) {
        await archive(options.archiveFile, bodies.join("\n") + "\n");
        stats.archived += bodies.length;
      }
      await route(bodies.filter((_, i) => options.sources.includes(events[i]!.source)));
    },
  };
}
