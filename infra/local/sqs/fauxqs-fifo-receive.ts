/**
 * fauxqs 1.9 hands out at most one message per FIFO message group per ReceiveMessage: it
 * locks the group after the first. SQS returns up to MaxNumberOfMessages, and messages of
 * one group come together and in order ("messages that belong to the same message group are
 * returned together", SQS developer guide, FIFO delivery logic). The difference matters here:
 * one sink is one message group, so under fauxqs a sink gets one delivery per
 * receive-deliver-delete round trip and the deliverer never coalesces, where Lambda's event
 * source hands it batches of up to 10.
 *
 * `patchFauxqsFifoReceive()` makes a receive take as many messages of one group as it can,
 * in order, then go on to the next unlocked group, up to the count asked for. Each extra
 * message goes through fauxqs's own dequeue (receipt handle, receive count, redrive to the
 * dead-letter queue, group lock count), restricted to that group for the call, so none of
 * its bookkeeping is redone here. Idempotent; it patches the class, so every fauxqs in the
 * process behaves this way.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type Received = { ReceiptHandle: string };

interface FifoQueueInternals {
  fifoMessages: Map<string, unknown[]>;
  fifoLockedGroups: Map<string, number>;
  inflightMessages: Map<string, { message: { messageGroupId?: string } }>;
  dequeueFifo(maxCount: number, visibilityTimeoutOverride: number | undefined, dlqResolver: unknown): Received[];
}

let patched: Promise<void> | undefined;

export function patchFauxqsFifoReceive(): Promise<void> {
  patched ??= (async () => {
    // The class is not in fauxqs's exports map; it sits next to its entry point (pinned at 1.9.x).
    const { SqsQueue } = (await import(pathToFileURL(fauxqsFile("dist/sqs/sqsStore.js")).href)) as { SqsQueue: { prototype: FifoQueueInternals } };
    const proto = SqsQueue.prototype;
    if (typeof proto.dequeueFifo !== "function") throw new Error("fauxqs's SqsQueue has no dequeueFifo: the FIFO receive patch does not fit this fauxqs version");
    const original = proto.dequeueFifo;
    proto.dequeueFifo = function (this: FifoQueueInternals, maxCount, visibilityTimeoutOverride, dlqResolver) {
      const count = Math.min(maxCount, 10);
      const result: Received[] = [];
      // As many as possible of one group, then the next group's (locked groups are skipped by fauxqs).
      while (result.length < count) {
        const [head] = original.call(this, 1, visibilityTimeoutOverride, dlqResolver);
        if (head === undefined) break;
        result.push(head);
        const group = this.inflightMessages.get(head.ReceiptHandle)?.message.messageGroupId;
        while (result.length < count && group !== undefined && (this.fifoMessages.get(group)?.length ?? 0) > 0) {
          const next = takeOneFromGroup(this, original, group, visibilityTimeoutOverride, dlqResolver);
          if (next === undefined) break;
          result.push(next);
        }
      }
      return result;
    };
  })();
  return patched;
}

/** One more message of `group`, through fauxqs's own dequeue: only that group visible, its lock lifted for the call. */
function takeOneFromGroup(queue: FifoQueueInternals, dequeue: FifoQueueInternals["dequeueFifo"], group: string, visibility: number | undefined, dlqResolver: unknown): Received | undefined {
  const all = queue.fifoMessages;
  const messages = all.get(group)!;
  const locks = queue.fifoLockedGroups.get(group) ?? 0;
  queue.fifoMessages = new Map([[group, messages]]);
  queue.fifoLockedGroups.delete(group);
  try {
    return dequeue.call(queue, 1, visibility, dlqResolver)[0];
  } finally {
    queue.fifoMessages = all;
    if (messages.length === 0) all.delete(group);
    const total = locks + (queue.fifoLockedGroups.get(group) ?? 0);
    if (total > 0) queue.fifoLockedGroups.set(group, total);
    else queue.fifoLockedGroups.delete(group);
  }
}

/** A file of the installed fauxqs package, found as Node finds packages: node_modules of this directory or a parent. */
function fauxqsFile(relative: string): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", "fauxqs", relative);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`fauxqs's ${relative} was not found in any node_modules above ${import.meta.dirname}`);
  }
}
