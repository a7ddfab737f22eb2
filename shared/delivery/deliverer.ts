import type { Logger } from "@aws-lambda-powertools/logger";
import { nomadEventJson, rememberEventPayload, type NomadEvent } from "../nomad/event";
import type { MetricsSink } from "../observability/metrics";
import { signingSecrets, type Sink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import type { PayloadRef } from "../streamer/event-contract";
import type { AttemptOutcome, DeliveryLog, PendingDelivery } from "./delivery-log";
import { decodeDeliveryMessage, webhookId, type DeliveryMessage } from "./delivery-message";
import { backoffMs, visibilitySeconds, type RetryPolicy } from "./retry-policy";
import { signatureHeaders } from "./signature";
import type { AttemptResult } from "./webhook-client";

/** One message of the FIFO delivery queue as the event source hands it over. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  /** `MessageGroupId`: the sink ID. */
  readonly groupId: string;
  readonly body: string;
  /** When the message was first queued (SQS `SentTimestamp`), epoch ms. */
  readonly sentAt: number;
  /** SQS `ApproximateReceiveCount`: 1 on the first delivery. */
  readonly receiveCount: number;
}

/** What the deliverer needs from the queue, beyond the event source's delete-on-success. */
export interface DeliveryQueueControl {
  /**
   * Hides `head` for `seconds` (a retry wait) and puts `behind` (later messages of its
   * group in this batch) back at once: they wait behind the head, whose group stays locked.
   */
  retryLater(head: QueuedMessage, seconds: number, behind: readonly QueuedMessage[]): Promise<void>;
  /** Copies a message to the dead-letter queue with the reason; the caller then lets it be deleted. */
  deadLetter(message: QueuedMessage, reason: string, attempts: number): Promise<void>;
}

export interface Poster {
  post(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<AttemptResult>;
}

export interface DelivererOptions {
  readonly sinks: Pick<SinkStore, "find" | "advanceLatestIndex" | "disable">;
  readonly log: DeliveryLog;
  readonly webhooks: Poster;
  readonly queue: DeliveryQueueControl;
  readonly policy: RetryPolicy;
  /** Fetches a claim-checked payload back (S3PayloadStore.fetch: remembered with its stored text, so it goes out byte for byte). */
  readonly fetchPayload?: (ref: PayloadRef) => Promise<Record<string, unknown> | null>;
  /** Events per POST when consecutive messages of a sink are coalesced. @default 10 */
  readonly maxEventsPerRequest?: number;
  /** Body size beyond which no further event is added to a POST. @default 262,144 */
  readonly maxRequestBytes?: number;
  readonly logger: Logger;
  readonly metrics?: MetricsSink;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Makes the signature headers. @default signatureHeaders (Standard Webhooks); the benchmark swaps it to price signing */
  readonly sign?: typeof signatureHeaders;
}

/** What a message adds to a POST: its own bytes, and those of a claim-checked payload fetched back for it. */
function requestBytes(member: Parsed): number {
  return Buffer.byteLength(member.queued.body) + (member.message.detail.payloadRef?.bytes ?? 0);
}

/** The shortest wait before a retry, whatever a receiver's Retry-After says. */
const MIN_RETRY_MS = 1_000;

interface Parsed {
  readonly queued: QueuedMessage;
  readonly message: DeliveryMessage;
}

/**
 * Delivers the FIFO queue's messages to webhooks, sink by sink and in order: consecutive
 * messages of one sink are coalesced into one signed POST; a failure hides the failed
 * message for the retry wait and reports it and every later message of its sink as not
 * done, so the sink's order holds; past the retry horizon, or when the webhook answers
 * 410, messages go to the dead-letter queue. Every attempt is logged.
 */
export class Deliverer {
  private readonly now: () => number;
  private readonly maxEvents: number;
  private readonly maxBytes: number;

  constructor(private readonly options: DelivererOptions) {
    this.now = options.now ?? Date.now;
    this.maxEvents = options.maxEventsPerRequest ?? 10;
    this.maxBytes = options.maxRequestBytes ?? 262_144;
  }

  /** Returns the IDs of messages to report as failed (SQS partial batch response). */
  async handle(messages: readonly QueuedMessage[]): Promise<string[]> {
    const groups = new Map<string, QueuedMessage[]>();
    for (const message of messages) {
      const group = groups.get(message.groupId);
      if (group) group.push(message);
      else groups.set(message.groupId, [message]);
    }
    const receivedAt = this.now();
    const failed = await Promise.all([...groups.entries()].map(([sinkId, group]) => this.deliverGroup(sinkId, group, receivedAt)));
    return failed.flat();
  }

  /** Delivers one sink's messages in order; returns those not done. */
  private async deliverGroup(sinkId: string, group: readonly QueuedMessage[], receivedAt: number): Promise<string[]> {
    const { logger } = this.options;
    let i = 0;
    try {
      const sink = await this.options.sinks.find(sinkId);
      if (sink === undefined) {
        logger.warn("discarding deliveries for a sink that no longer exists", { sinkId, messages: group.length });
        this.count("DeliveriesDiscarded", group.length);
        return [];
      }
      let disabled = sink.Disabled?.Reason;
      // Each message is parsed once, as it is first needed.
      const parsed: Array<Parsed | { error: string } | undefined> = [];
      const parseAt = (j: number) => (parsed[j] ??= this.parse(group[j]!));
      while (i < group.length) {
        const head = group[i]!;
        const parsedHead = parseAt(i);
        if ("error" in parsedHead) {
          await this.deadLetter([head], sinkId, parsedHead.error, 0);
          i++;
          continue;
        }
        if (disabled !== undefined) {
          await this.deadLetter([head], sinkId, `the sink is disabled: ${disabled}`, 0, parsedHead.message);
          i++;
          continue;
        }
        const pending = head.receiveCount > 1 ? await this.options.log.pending(sinkId, parsedHead.message.deliveryId) : undefined;
        const members = this.compose(group.length, i, parseAt, parsedHead, pending);
        const outcome = await this.attempt(sink, members, pending, receivedAt);
        if (typeof outcome === "object") {
          await this.options.queue.retryLater(head, outcome.seconds, group.slice(i + 1));
          return group.slice(i).map((m) => m.messageId);
        }
        if (outcome === "gone") disabled = "the webhook answered 410 Gone";
        i += members.length;
      }
      return [];
    } catch (error) {
      // Not delivered, not lost: these come back after the queue's visibility timeout, in order.
      logger.error("delivery failed unexpectedly; the sink's remaining messages will be retried", { sinkId, error: (error as Error).message, remaining: group.length - i });
      return group.slice(i).map((m) => m.messageId);
    }
  }

  private parse(queued: QueuedMessage): Parsed | { error: string } {
    let value: unknown;
    try {
      value = JSON.parse(queued.body);
    } catch (error) {
      return { error: `the message is not JSON: ${(error as Error).message}` };
    }
    const decoded = decodeDeliveryMessage(value);
    if ("problem" in decoded) return { error: `the message is not a delivery: ${decoded.problem}` };
    // The payload goes out as the message's text: parsed, Nomad's int64 values would lose digits.
    rememberEventPayload(queued.body, ["detail", "event"], decoded.message.detail.event);
    return { queued, message: decoded.message };
  }

  /**
   * The messages one POST carries: a retry carries exactly what the failed request did
   * (so its body and webhook-id repeat), a first try as many consecutive messages as the
   * bounds allow.
   */
  private compose(size: number, start: number, parseAt: (j: number) => Parsed | { error: string }, head: Parsed, pending: PendingDelivery | undefined): Parsed[] {
    const members: Parsed[] = [head];
    const limit = pending !== undefined ? pending.Members.length : this.maxEvents;
    let bytes = requestBytes(head);
    for (let j = start + 1; j < size && members.length < limit; j++) {
      const next = parseAt(j);
      if ("error" in next) break;
      // A replay's deliveries are marked as such: never in one POST with first deliveries or another replay's.
      if (next.message.replay !== head.message.replay) break;
      if (pending !== undefined) {
        if (pending.Members[members.length] !== next.message.deliveryId) break;
      } else {
        bytes += requestBytes(next);
        if (bytes > this.maxBytes) break;
      }
      members.push(next);
    }
    return members;
  }

  private async attempt(sink: Sink, members: Parsed[], pending: PendingDelivery | undefined, receivedAt: number): Promise<"delivered" | "gone" | "dead-lettered" | { seconds: number }> {
    const { log, logger } = this.options;
    const head = members[0]!;
    const now = this.now();
    const ids = members.map((m) => m.message.deliveryId);
    const id = webhookId(ids);
    const events = await Promise.all(members.map((m) => this.restore(m.message)));
    const lastIndex = Math.max(...events.map((e) => e.Index));
    const firstIndex = Math.min(...events.map((e) => e.Index));
    const body = webhookBody(lastIndex, events, head.message.replay);
    const headers = (this.options.sign ?? signatureHeaders)(signingSecrets(sink, now), id, Math.floor(now / 1000), body);
    const attemptNo = (pending?.Attempts ?? 0) + 1;
    const result = await this.options.webhooks.post(sink.Address, body, headers);
    const at = this.now();
    const base = { SinkID: sink.ID, DeliveryID: id, Attempt: attemptNo, StatusCode: result.status ?? 0, LatencyMs: result.latencyMs, Events: members.length, FirstIndex: firstIndex, LastIndex: lastIndex, At: at };
    this.options.metrics?.add("DeliveryLatency", "Milliseconds", result.latencyMs);

    if (result.outcome === "delivered") {
      // Independent writes: made together.
      await Promise.all([
        this.options.sinks.advanceLatestIndex(sink.ID, lastIndex),
        log.record({ ...base, Outcome: "delivered", Error: "" }),
        pending ? log.clearPending(sink.ID, head.message.deliveryId) : undefined,
      ]);
      this.count("Delivered", members.length);
      // From the moment the fan-out queued the first event to its arrival.
      this.options.metrics?.add("DeliveryAge", "Milliseconds", at - head.queued.sentAt);
      return "delivered";
    }

    if (result.outcome === "gone") {
      const reason = `the webhook answered 410 Gone on ${new Date(at).toISOString()}${result.error !== "410 Gone" ? ` (${result.error.slice("410 Gone: ".length)})` : ""}; re-register the sink to enable it again`;
      await this.options.sinks.disable(sink.ID, reason, at);
      logger.warn("webhook answered 410 Gone: sink disabled", { sinkId: sink.ID, address: sink.Address });
      this.count("SinksDisabled", 1);
      await this.deadLetter(members.map((m) => m.queued), sink.ID, reason, attemptNo, undefined, { ...base, Outcome: "disabled", Error: result.error });
      if (pending) await log.clearPending(sink.ID, head.message.deliveryId);
      return "gone";
    }

    const age = at - head.queued.sentAt;
    const { policy } = this.options;
    if (age >= policy.horizonMs) {
      const reason = `still failing after the ${formatDuration(policy.horizonMs)} retry horizon (${attemptNo} attempts); last error: ${result.error}`;
      await this.deadLetter(members.map((m) => m.queued), sink.ID, reason, attemptNo, undefined, { ...base, Outcome: "dead-lettered", Error: result.error });
      if (pending) await log.clearPending(sink.ID, head.message.deliveryId);
      logger.warn("delivery dead-lettered after the retry horizon", { sinkId: sink.ID, deliveryId: id, attempts: attemptNo, error: result.error });
      return "dead-lettered";
    }
    const wanted = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, policy.retryAfterCapMs) : backoffMs(attemptNo, policy, this.options.random);
    // The last try happens at the horizon, not after it.
    const waitMs = Math.min(Math.max(wanted, MIN_RETRY_MS), Math.max(MIN_RETRY_MS, policy.horizonMs - age));
    const seconds = visibilitySeconds(waitMs, receivedAt, at);
    await Promise.all([
      log.savePending(sink.ID, head.message.deliveryId, { Members: members.map((m) => m.message.deliveryId), Attempts: attemptNo, FirstAttemptAt: pending?.FirstAttemptAt ?? now, LastError: result.error }),
      log.record({ ...base, Outcome: "retrying", Error: result.error, NextAttemptAt: at + seconds * 1000 }),
    ]);
    this.count("DeliveryRetries", 1);
    logger.info("delivery failed; will retry", { sinkId: sink.ID, deliveryId: id, attempt: attemptNo, error: result.error, retryInSeconds: seconds });
    return { seconds };
  }

  private async restore(message: DeliveryMessage): Promise<NomadEvent> {
    const { event, payloadRef } = message.detail;
    if (payloadRef === undefined) return event;
    if (!this.options.fetchPayload) throw new Error(`event ${message.detail.id} is stored by reference (s3://${payloadRef.bucket}/${payloadRef.key}) but no payload store is configured`);
    return { ...event, Payload: await this.options.fetchPayload(payloadRef) };
  }

  private async deadLetter(queued: readonly QueuedMessage[], sinkId: string, reason: string, attempts: number, message?: DeliveryMessage, attempt?: Parameters<DeliveryLog["record"]>[0]): Promise<void> {
    for (const m of queued) await this.options.queue.deadLetter(m, reason, attempts);
    if (attempt) await this.options.log.record(attempt);
    else if (message) {
      const index = message.detail.event.Index;
      await this.options.log.record({ SinkID: sinkId, DeliveryID: webhookId([message.deliveryId]), Attempt: 0, Outcome: "dead-lettered" satisfies AttemptOutcome, StatusCode: 0, LatencyMs: 0, Error: reason, Events: 1, FirstIndex: index, LastIndex: index, At: this.now() });
    }
    this.count("DeadLettered", queued.length);
  }

  private count(name: string, value: number): void {
    this.options.metrics?.add(name, "Count", value);
  }
}

/**
 * A POST's body, in the shape of a Nomad event-stream frame: `{"Index":…,"Events":[…]}`, the
 * keys JSON.stringify writes, each payload as Nomad sent it (nomadEventJson); a replay's
 * deliveries add `"Replay"`.
 */
export function webhookBody(index: number, events: readonly NomadEvent[], replay?: string): string {
  let body = `{"Index":${index},"Events":[`;
  for (let i = 0; i < events.length; i++) body += (i > 0 ? "," : "") + nomadEventJson(events[i]!);
  // A replay's deliveries say so, inside the signed body: `"Replay": "<replay ID>"`.
  return `${body}]${replay !== undefined ? `,"Replay":${JSON.stringify(replay)}` : ""}}`;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
