import type { Logger } from "@aws-lambda-powertools/logger";
import { nomadEventJson, type NomadEvent } from "../nomad/event";
import type { MetricsSink } from "../observability/metrics";
import { signingSecrets, type Sink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import type { PayloadRef } from "../streamer/event-contract";
import type { AttemptOutcome, DeliveryAttempt, DeliveryLog, PendingDelivery } from "./delivery-log";
import { parseDeliveryMessage, webhookId, type DeliveryMessage } from "./delivery-message";
import { backoffMs, visibilitySeconds, type RetryPolicy } from "./retry-policy";
import { signatureHeaders } from "./signature";
import type { AttemptResult } from "./webhook-client";
import { LatestIndexWriter } from "./latest-index-writer";

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
  /** `body` is the request's bytes (UTF-8 JSON). */
  post(url: string, body: Buffer, headers: Readonly<Record<string, string>>): Promise<AttemptResult>;
}

export interface DelivererOptions {
  readonly sinks: Pick<SinkStore, "find" | "advanceLatestIndex" | "disable">;
  /**
   * Every sink by ID, read once per batch (SinkCache: a change-version read at most every
   * SINK_CHECK_MS, or at the next batch after a change this process made, a reload when it
   * moved). A sink it does not hold, or a batch where it fails, is read from `sinks` itself.
   * @default each sink of a batch read from `sinks`
   */
  readonly directory?: { sinksById(): Promise<ReadonlyMap<string, Sink>> };
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
  /**
   * The shortest time between two writes of a sink's LatestIndex by this deliverer
   * (LatestIndexWriter; DELIVERY_LATEST_INDEX_EVERY_MS). @default 0 (each batch writes its advances before it returns)
   */
  readonly latestIndexEveryMs?: number;
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
 * What one `handle()` call writes before it returns, gathered while it delivers: the
 * attempt records (one BatchWriteItem) and each sink's highest delivered index (one
 * LatestIndex advance per sink), instead of a write of each per POST.
 */
interface BatchWrites {
  readonly attempts: DeliveryAttempt[];
  /** Per sink, the highest index delivered and the registration it was delivered to. */
  readonly highest: Map<string, { index: number; createIndex: number }>;
  /** Per sink, the events delivered and each POST's DeliveryAge: counted once its writes are done. */
  readonly delivered: Map<string, { events: number; ages: number[] }>;
}

/**
 * Delivers the FIFO queue's messages to webhooks, sink by sink and in order: consecutive
 * messages of one sink are coalesced into one signed POST; a failure hides the failed
 * message for the retry wait and reports it and every later message of its sink as not
 * done, so the sink's order holds; past the retry horizon, or when the webhook answers
 * 410, messages go to the dead-letter queue. Every attempt is logged: the records of a
 * batch are written together, with the sinks' LatestIndex advances, before `handle()`
 * returns (so before any of its messages is deleted); a sink whose writes fail has all its
 * messages of the batch reported as not done, to be delivered again. With
 * `latestIndexEveryMs`, an advance within that time of the sink's previous one is written
 * later (LatestIndexWriter; `flush()` writes them at a clean stop).
 */
export class Deliverer {
  private readonly now: () => number;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly sign: typeof signatureHeaders;
  private readonly latest: LatestIndexWriter;

  constructor(private readonly options: DelivererOptions) {
    this.now = options.now ?? Date.now;
    this.maxEvents = options.maxEventsPerRequest ?? 10;
    this.maxBytes = options.maxRequestBytes ?? 262_144;
    this.sign = options.sign ?? signatureHeaders;
    this.latest = new LatestIndexWriter(options.sinks, { everyMs: options.latestIndexEveryMs ?? 0, logger: options.logger, now: this.now });
  }

  /** Writes the LatestIndex advances still deferred (a clean stop). */
  flush(): Promise<void> {
    return this.latest.flush();
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
    const writes: BatchWrites = { attempts: [], highest: new Map(), delivered: new Map() };
    const entries = [...groups];
    const known = await this.knownSinks();
    const failed = await Promise.all(entries.map(([sinkId, group]) => this.deliverGroup(sinkId, group, receivedAt, writes, known)));
    const unwritten = await this.write(writes);
    for (const [sinkId, { events, ages }] of writes.delivered) {
      if (unwritten.has(sinkId)) continue;
      this.count("Delivered", events);
      // From the moment the fan-out queued the first event of a POST to its arrival.
      for (const age of ages) this.options.metrics?.add("DeliveryAge", "Milliseconds", age);
    }
    const notDone: string[] = [];
    for (let g = 0; g < entries.length; g++) {
      const [sinkId, group] = entries[g]!;
      if (unwritten.has(sinkId)) for (const m of group) notDone.push(m.messageId);
      else for (const id of failed[g]!) notDone.push(id);
    }
    return notDone;
  }

  /**
   * Writes a batch's attempt records and LatestIndex advances, together; returns the sinks
   * whose writes failed (their messages are then reported as not done: delivered again
   * rather than deleted unlogged).
   */
  private async write({ attempts, highest }: BatchWrites): Promise<ReadonlySet<string>> {
    const unwritten = new Set<string>();
    if (attempts.length === 0 && highest.size === 0) return unwritten;
    const { logger } = this.options;
    const writing: Array<Promise<unknown>> = [];
    if (attempts.length > 0) {
      writing.push(
        this.options.log.recordAll(attempts).catch((error: unknown) => {
          const sinkIds = new Set(attempts.map((a) => a.SinkID));
          for (const sinkId of sinkIds) unwritten.add(sinkId);
          logger.error("delivery attempts could not be recorded; the batch's messages of their sinks will be delivered again", { sinkIds: [...sinkIds], attempts: attempts.length, error: (error as Error).message });
        }),
      );
    }
    for (const [sinkId, { index, createIndex }] of highest) {
      const advance = this.latest.advance(sinkId, index, createIndex);
      if (advance === undefined) continue;
      writing.push(
        advance.catch((error: unknown) => {
          unwritten.add(sinkId);
          logger.error("a sink's LatestIndex could not be advanced; its messages of this batch will be delivered again", { sinkId, index, error: (error as Error).message });
        }),
      );
    }
    await Promise.all(writing);
    return unwritten;
  }

  /** The directory's sinks for this batch; none (each read on its own) when it has no answer. */
  private async knownSinks(): Promise<ReadonlyMap<string, Sink> | undefined> {
    try {
      return await this.options.directory?.sinksById();
    } catch (error) {
      this.options.logger.warn("could not load the sinks; reading each of this batch's sinks on its own", { error: (error as Error).message });
      return undefined;
    }
  }

  /** Delivers one sink's messages in order; returns those not done. */
  private async deliverGroup(sinkId: string, group: readonly QueuedMessage[], receivedAt: number, writes: BatchWrites, known: ReadonlyMap<string, Sink> | undefined): Promise<string[]> {
    const { logger } = this.options;
    let i = 0;
    try {
      // The directory can be up to a check interval behind (SinkCache). What it says is used
      // as it is only when that cannot lose a delivery: a sink it lacks (registered a moment
      // ago, or gone), a disabled one (perhaps enabled again) or one older than a message's
      // (deleted and registered again) is read again, consistently, before anything is
      // discarded or dead-lettered.
      let sink = known?.get(sinkId);
      let fresh = false;
      if (sink === undefined || sink.Disabled !== undefined) [sink, fresh] = [await this.options.sinks.find(sinkId), true];
      let disabled = sink?.Disabled?.Reason;
      // Each message is parsed once, as it is first needed.
      const parsed: Array<Parsed | { error: string } | undefined> = [];
      const parseAt = (j: number) => (parsed[j] ??= this.parse(group[j]!));
      while (i < group.length) {
        if (sink === undefined) {
          logger.warn("discarding deliveries for a sink that no longer exists", { sinkId, messages: group.length - i });
          this.count("DeliveriesDiscarded", group.length - i);
          return [];
        }
        const head = group[i]!;
        const parsedHead = parseAt(i);
        const sinkIndex = "error" in parsedHead ? undefined : parsedHead.message.sinkIndex;
        if (sinkIndex !== undefined && sinkIndex > sink.CreateIndex && !fresh) {
          // Queued for a later sink of this ID than the directory knows: read it, then look again.
          [sink, fresh] = [await this.options.sinks.find(sinkId), true];
          disabled = sink?.Disabled?.Reason;
          continue;
        }
        if (sinkIndex !== undefined && sinkIndex !== sink.CreateIndex) {
          // Queued for an earlier sink of this ID, since deleted: never for this one (it may be another team's).
          logger.warn("discarding a delivery queued for an earlier sink of the same ID", { sinkId, sinkIndex, createIndex: sink.CreateIndex });
          this.count("DeliveriesDiscarded", 1);
          i++;
          continue;
        }
        if ("error" in parsedHead) {
          await this.deadLetter([head], parsedHead.error, 0, undefined, writes);
          i++;
          continue;
        }
        if (disabled !== undefined) {
          const reason = `the sink is disabled: ${disabled}`;
          const index = parsedHead.message.detail.event.Index;
          // No request was made: attempt 0, no status, no latency.
          const notSent = { sinkId, sinkIndex: sink.CreateIndex, id: webhookId([parsedHead.message.deliveryId]), attempt: 0, result: { latencyMs: 0 }, events: 1, firstIndex: index, lastIndex: index, at: this.now() };
          await this.deadLetter([head], reason, 0, attemptRecord(notSent, "dead-lettered", reason), writes);
          i++;
          continue;
        }
        const pending = head.receiveCount > 1 ? await this.options.log.pending(sinkId, parsedHead.message.deliveryId) : undefined;
        const members = this.compose(group.length, i, parseAt, parsedHead, pending);
        const outcome = await this.attempt(sink, members, pending, receivedAt, writes);
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
    const parsed = parseDeliveryMessage(queued.body);
    return "problem" in parsed ? { error: `the message is ${parsed.problem}` } : { queued, message: parsed.message };
  }

  /**
   * The messages one POST carries: a retry carries exactly what the failed request did
   * (so its body and webhook-id repeat), a first try as many consecutive messages as the
   * bounds allow.
   */
  private compose(size: number, start: number, parseAt: (j: number) => Parsed | { error: string }, head: Parsed, pending: PendingDelivery | undefined): Parsed[] {
    const members: Parsed[] = [head];
    const limit = pending !== undefined ? pending.Members.length : this.maxEvents;
    if (limit <= 1) return members;
    let bytes = requestBytes(head);
    for (let j = start + 1; j < size && members.length < limit; j++) {
      const next = parseAt(j);
      if ("error" in next) break;
      if (next.message.sinkIndex !== head.message.sinkIndex) break;
      // A replay's deliveries are marked as such: never in one POST with first deliveries or another replay's.
      if (next.message.replay !== head.message.replay) break;
      // Nor redriven ones (older events queued behind newer ones) with those that were not.
      if ((next.message.redriven ?? false) !== (head.message.redriven ?? false)) break;
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

  private async attempt(sink: Sink, members: Parsed[], pending: PendingDelivery | undefined, receivedAt: number, writes: BatchWrites): Promise<"delivered" | "gone" | "dead-lettered" | { seconds: number }> {
    const { log, logger, metrics } = this.options;
    const head = members[0]!;
    const now = this.now();
    const id = webhookId(members.map((m) => m.message.deliveryId));
    // Claim-checked payloads are fetched back; the rest go out as the messages carry them.
    const events = members.some((m) => m.message.detail.payloadRef !== undefined) ? await Promise.all(members.map((m) => this.restore(m.message))) : members.map((m) => m.message.detail.event);
    let firstIndex = events[0]!.Index;
    let lastIndex = firstIndex;
    for (const e of events) {
      if (e.Index > lastIndex) lastIndex = e.Index;
      if (e.Index < firstIndex) firstIndex = e.Index;
    }
    // Encoded once: the signature is computed over the bytes that are sent.
    const body = Buffer.from(webhookBody(lastIndex, events, head.message.replay));
    const headers = this.sign(signingSecrets(sink, now), id, Math.floor(now / 1000), body);
    const attemptNo = (pending?.Attempts ?? 0) + 1;
    const result = await this.options.webhooks.post(sink.Address, body, headers);
    const at = this.now();
    metrics?.add("DeliveryLatency", "Milliseconds", result.latencyMs);
    const made = { sinkId: sink.ID, sinkIndex: sink.CreateIndex, id, attempt: attemptNo, result, events: members.length, firstIndex, lastIndex, at };
    if (result.outcome === "delivered") {
      writes.attempts.push(attemptRecord(made, "delivered", ""));
      const highest = writes.highest.get(sink.ID);
      if (highest === undefined || lastIndex > highest.index) writes.highest.set(sink.ID, { index: lastIndex, createIndex: sink.CreateIndex });
      const delivered = writes.delivered.get(sink.ID);
      if (delivered === undefined) writes.delivered.set(sink.ID, { events: members.length, ages: [at - head.queued.sentAt] });
      else {
        delivered.events += members.length;
        delivered.ages.push(at - head.queued.sentAt);
      }
      if (pending) await log.clearPending(sink.ID, head.message.deliveryId);
      return "delivered";
    }

    if (result.outcome === "gone") {
      const reason = `the webhook answered 410 Gone on ${new Date(at).toISOString()}${result.error !== "410 Gone" ? ` (${result.error.slice("410 Gone: ".length)})` : ""}; re-register the sink to enable it again`;
      // The write tells this process's sink caches (the directory's among them) to read the version at their next batch.
      await this.options.sinks.disable(sink.ID, reason, at, sink.CreateIndex);
      logger.warn("webhook answered 410 Gone: sink disabled", { sinkId: sink.ID, address: sink.Address });
      this.count("SinksDisabled", 1);
      await this.deadLetter(members.map((m) => m.queued), reason, attemptNo, attemptRecord(made, "disabled", result.error), writes);
      if (pending) await log.clearPending(sink.ID, head.message.deliveryId);
      return "gone";
    }

    const age = at - head.queued.sentAt;
    const { policy } = this.options;
    if (age >= policy.horizonMs) {
      const reason = `still failing after the ${formatDuration(policy.horizonMs)} retry horizon (${attemptNo} attempts); last error: ${result.error}`;
      await this.deadLetter(members.map((m) => m.queued), reason, attemptNo, attemptRecord(made, "dead-lettered", result.error), writes);
      if (pending) await log.clearPending(sink.ID, head.message.deliveryId);
      logger.warn("delivery dead-lettered after the retry horizon", { sinkId: sink.ID, deliveryId: id, attempts: attemptNo, error: result.error });
      return "dead-lettered";
    }
    const wanted = result.retryAfterMs !== undefined ? Math.min(result.retryAfterMs, policy.retryAfterCapMs) : backoffMs(attemptNo, policy, this.options.random);
    // The last try happens at the horizon, not after it.
    const waitMs = Math.min(Math.max(wanted, MIN_RETRY_MS), Math.max(MIN_RETRY_MS, policy.horizonMs - age));
    const seconds = visibilitySeconds(waitMs, receivedAt, at);
    // The retry reads the pending record to repeat this request: written before the message is hidden.
    await log.savePending(sink.ID, head.message.deliveryId, { Members: members.map((m) => m.message.deliveryId), Attempts: attemptNo, FirstAttemptAt: pending?.FirstAttemptAt ?? now, LastError: result.error });
    writes.attempts.push(attemptRecord(made, "retrying", result.error, at + seconds * 1000));
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

  /** Copies messages to the dead-letter queue at once; their attempt record (if any) is written with the batch's. */
  private async deadLetter(queued: readonly QueuedMessage[], reason: string, attempts: number, record: DeliveryAttempt | undefined, writes: BatchWrites): Promise<void> {
    for (const m of queued) await this.options.queue.deadLetter(m, reason, attempts);
    if (record) writes.attempts.push(record);
    this.count("DeadLettered", queued.length);
  }

  private count(name: string, value: number): void {
    this.options.metrics?.add(name, "Count", value);
  }
}

/** The record of one POST, made by `attempt()`. */
function attemptRecord(
  made: { sinkId: string; sinkIndex: number; id: string; attempt: number; result: { readonly status?: number | undefined; readonly latencyMs: number }; events: number; firstIndex: number; lastIndex: number; at: number },
  outcome: AttemptOutcome,
  error: string,
  nextAttemptAt?: number,
): DeliveryAttempt {
  const record: DeliveryAttempt = {
    SinkID: made.sinkId,
    DeliveryID: made.id,
    Attempt: made.attempt,
    Outcome: outcome,
    StatusCode: made.result.status ?? 0,
    LatencyMs: made.result.latencyMs,
    Error: error,
    Events: made.events,
    FirstIndex: made.firstIndex,
    LastIndex: made.lastIndex,
    At: made.at,
    SinkIndex: made.sinkIndex,
  };
  return nextAttemptAt !== undefined ? { ...record, NextAttemptAt: nextAttemptAt } : record;
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
