/**
 * Two ways fauxqs 1.9's FIFO queues differ from SQS, both mended here by patching its queue
 * class (idempotent; every fauxqs in the process behaves this way):
 *
 * - **Receive.** fauxqs hands out at most one message per message group per ReceiveMessage:
 *   it locks the group after the first. SQS returns up to MaxNumberOfMessages, and messages of
 *   one group come together and in order ("messages that belong to the same message group are
 *   returned together", SQS developer guide, FIFO delivery logic). One sink is one message
 *   group, so under fauxqs a sink got one delivery per receive-deliver-delete round trip and
 *   the deliverer never coalesced, where Lambda's event source hands it batches of up to 10.
 *   Patched, a receive takes as many messages of one group as it can, in order, then goes on
 *   to the next unlocked group. Each extra message goes through fauxqs's own dequeue (receipt
 *   handle, receive count, redrive to the dead-letter queue, group lock count), restricted to
 *   that group for the call, so none of its bookkeeping is redone here.
 * - **Return.** A message whose visibility ends (a timeout, or ChangeMessageVisibility to 0)
 *   goes back to the front of its group in fauxqs, so several returned one by one come back
 *   reversed. SQS keeps a group in sequence order whatever the order of return. Patched, the
 *   groups a return touched are put back in sequence order.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type Received = { ReceiptHandle: string };
type Message = { messageGroupId?: string; sequenceNumber?: string };

interface FifoQueueInternals {
  fifoMessages: Map<string, Message[]>;
  fifoLockedGroups: Map<string, number>;
  inflightMessages: Map<string, { message: Message; visibilityDeadline: number }>;
  isFifo(): boolean;
  dequeueFifo(maxCount: number, visibilityTimeoutOverride: number | undefined, dlqResolver: unknown): Received[];
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  processTimers(): void;
}

/** SQS sequence numbers are decimal strings of any length: a longer one is a later one. */
export function compareSequenceNumbers(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * fauxqs's queue store module: its queue class (not in the package's exports map; it sits next
 * to its entry point, pinned at 1.9.x), which the patch below changes, and the store class
 * that makes its messages.
 */
export async function fauxqsSqsStore(): Promise<{ SqsQueue: { prototype: FifoQueueInternals }; SqsStore: unknown }> {
  return (await import(pathToFileURL(fauxqsFile("dist/sqs/sqsStore.js")).href)) as { SqsQueue: { prototype: FifoQueueInternals }; SqsStore: unknown };
}

let patched: Promise<void> | undefined;

export function patchFauxqsFifo(): Promise<void> {
  patched ??= (async () => {
    const proto = (await fauxqsSqsStore()).SqsQueue.prototype;
    for (const method of ["dequeueFifo", "changeVisibility", "processTimers", "isFifo"] as const) {
      if (typeof proto[method] !== "function") throw new Error(`fauxqs's SqsQueue has no ${method}: the FIFO patch does not fit this fauxqs version`);
    }
    patchReturnOrder(proto);
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

/** After a return (visibility ended or changed to 0), the groups it touched are back in sequence order. */
function patchReturnOrder(proto: FifoQueueInternals): void {
  const { changeVisibility, processTimers } = proto;
  proto.changeVisibility = function (this: FifoQueueInternals, receiptHandle, timeoutSeconds) {
    const group = timeoutSeconds === 0 && this.isFifo() ? this.inflightMessages.get(receiptHandle)?.message.messageGroupId : undefined;
    changeVisibility.call(this, receiptHandle, timeoutSeconds);
    if (group !== undefined) sortGroup(this, group);
  };
  proto.processTimers = function (this: FifoQueueInternals) {
    const now = Date.now();
    const groups = new Set<string>();
    if (this.isFifo()) for (const entry of this.inflightMessages.values()) if (entry.visibilityDeadline <= now) groups.add(entry.message.messageGroupId ?? "__default");
    processTimers.call(this);
    for (const group of groups) sortGroup(this, group);
  };
}

function sortGroup(queue: FifoQueueInternals, group: string): void {
  queue.fifoMessages.get(group)?.sort((a, b) => compareSequenceNumbers(a.sequenceNumber ?? "", b.sequenceNumber ?? ""));
}

function skipTimers(): void {}

/** One more message of `group`, through fauxqs's own dequeue: only that group visible, its lock lifted for the call. */
function takeOneFromGroup(queue: FifoQueueInternals, dequeue: FifoQueueInternals["dequeueFifo"], group: string, visibility: number | undefined, dlqResolver: unknown): Received | undefined {
  const all = queue.fifoMessages;
  const messages = all.get(group)!;
  const locks = queue.fifoLockedGroups.get(group) ?? 0;
  queue.fifoMessages = new Map([[group, messages]]);
  queue.fifoLockedGroups.delete(group);
  // fauxqs's dequeue first returns messages whose visibility has ended to their groups: with
  // only this group in view, another group's would go into the map thrown away below, and be
  // lost. The receive's own first dequeue has just done it for the whole queue.
  queue.processTimers = skipTimers;
  try {
    return dequeue.call(queue, 1, visibility, dlqResolver)[0];
  } finally {
    Reflect.deleteProperty(queue, "processTimers");
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
