import { readFileSync, renameSync, writeFileSync, rmSync } from "node:fs";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { FauxqsServer } from "../fauxqs-server";
import { compareSequenceNumbers } from "./fauxqs-fifo";

/**
 * fauxqs keeps queues in memory; the local runtime keeps their messages across a restart
 * by writing them to a file when it stops (after the pollers have stopped, so nothing is
 * in a handler) and sending them again, in order, when it starts.
 *
 * Kept: body, message group, deduplication ID, message attributes, and the order (FIFO
 * sequence number, else send time). Not kept: receive counts, send times and visibility, so
 * a message waiting for its retry is tried again at once after a restart, and SQS's
 * deduplication memory (the streamer re-sends nothing after a clean stop, see its checkpoint).
 */
export interface SavedMessage {
  readonly body: string;
  readonly groupId?: string;
  readonly deduplicationId?: string;
  readonly attributes?: Record<string, { DataType: string; StringValue?: string }>;
}

export type QueueSnapshot = Record<string, SavedMessage[]>;

/** Every message of the named queues (ready, delayed and in flight), in queue order. */
export function snapshotQueues(fauxqs: FauxqsServer, queueNames: readonly string[]): QueueSnapshot {
  const snapshot: QueueSnapshot = {};
  for (const name of queueNames) {
    const queue = fauxqs.inspectQueue(name);
    if (queue === undefined) continue;
    const all = [...queue.messages.ready, ...queue.messages.delayed, ...queue.messages.inflight.map((entry) => entry.message)];
    all.sort((a, b) => (a.sequenceNumber !== undefined && b.sequenceNumber !== undefined ? compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber) : a.sentTimestamp - b.sentTimestamp));
    snapshot[name] = all.map((message) => ({
      body: message.body,
      ...(message.messageGroupId !== undefined ? { groupId: message.messageGroupId } : {}),
      ...(message.messageDeduplicationId !== undefined ? { deduplicationId: message.messageDeduplicationId } : {}),
      ...(Object.keys(message.messageAttributes).length > 0 ? { attributes: message.messageAttributes } : {}),
    }));
  }
  return snapshot;
}

/** Writes the snapshot atomically (a crash mid-write leaves the previous file). */
export function saveQueueSnapshot(file: string, snapshot: QueueSnapshot): number {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(snapshot));
  renameSync(tmp, file);
  return Object.values(snapshot).reduce((sum, messages) => sum + messages.length, 0);
}

/**
 * Sends the saved messages back to their queues (by name → URL), in order, then deletes the
 * file so they are not restored twice. Returns how many were restored per queue.
 */
export async function restoreQueueSnapshot(sqs: SQSClient, file: string, urls: Readonly<Record<string, string>>): Promise<Record<string, number>> {
  let snapshot: QueueSnapshot;
  try {
    snapshot = JSON.parse(readFileSync(file, "utf8")) as QueueSnapshot;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new Error(`the saved queue messages in ${file} cannot be read (${(error as Error).message}); move the file away to start without them`, { cause: error });
  }
  const restored: Record<string, number> = {};
  for (const [name, messages] of Object.entries(snapshot)) {
    const url = urls[name];
    if (url === undefined || messages.length === 0) continue;
    for (let start = 0; start < messages.length; start += 10) {
      const entries = messages.slice(start, start + 10).map((message, i) => ({
        Id: `m${i}`,
        MessageBody: message.body,
        ...(message.groupId !== undefined ? { MessageGroupId: message.groupId } : {}),
        ...(message.deduplicationId !== undefined ? { MessageDeduplicationId: message.deduplicationId } : {}),
        ...(message.attributes !== undefined ? { MessageAttributes: message.attributes } : {}),
      }));
      const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
      if (result.Failed !== undefined && result.Failed.length > 0) {
        throw new Error(`could not restore ${result.Failed.length} saved message(s) to ${name}: ${result.Failed[0]!.Code} ${result.Failed[0]!.Message ?? ""}; they stay in ${file}`);
      }
    }
    restored[name] = messages.length;
  }
  rmSync(file, { force: true });
  return restored;
}
