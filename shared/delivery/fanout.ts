import type { Logger } from "@aws-lambda-powertools/logger";
import { rememberEventPayload } from "../nomad/event";
import { matchesTopics } from "../nomad/topic-filter";
import type { MetricsSink } from "../observability/metrics";
import { fullJitter, sleep } from "../retry/backoff";
import { busDetailJson, decodeNomadBusDetail, GAP_TOPIC, type NomadBusDetail } from "../streamer/event-contract";
import { describeValue } from "../errors";
import { deliveryId, deliveryMessageJson, replayDeduplicationId } from "./delivery-message";
import { scopeAdmits } from "../tokens/scope";
import type { RoutedSink, SinkCache } from "./sink-cache";

/** One record of the ingest queue: an EventBridge event as the bus's SQS target writes it. */
export interface IngestRecord {
  readonly messageId: string;
  readonly body: string;
}

/** One message for the FIFO delivery queue. */
export interface OutgoingMessage {
  /** Unique within one send call. */
  readonly id: string;
  readonly body: string;
  readonly groupId: string;
  readonly deduplicationId: string;
}

export interface DeliveryQueueWriter {
  /** Sends up to 10 messages in one call; returns the IDs of entries that failed (with why). */
  sendBatch(messages: readonly OutgoingMessage[]): Promise<Array<{ id: string; error: string }>>;
}

export interface FanoutOptions {
  readonly sinks: SinkCache;
  readonly queue: DeliveryQueueWriter;
  /** Replaces an event's payload with an S3 reference (claim check) when a message would be too large. */
  readonly offload?: (detail: NomadBusDetail) => Promise<NomadBusDetail>;
  /** SQS's message size limit. @default 262,144 */
  readonly maxMessageBytes?: number;
  /** Attempts per SendMessageBatch before the records are reported failed. @default 5 */
  readonly sendAttempts?: number;
  readonly retryBaseMs?: number;
  /** Finds a replay by name, for replayed events (their `replay-name`): its SinkID (and a team's replay, its Team) limits them. */
  readonly replays?: { get(id: string): Promise<ReplayTarget | undefined> };
  readonly logger: Logger;
  readonly metrics?: MetricsSink;
}

/** Whom a replay's events are for: one sink, or every matching sink (of the team, for a team's replay). */
export interface ReplayTarget {
  readonly SinkID?: string;
  readonly Team?: string;
}

/** SQS's limits on one SendMessageBatch. */
const SEND_BATCH_MAX_ENTRIES = 10;
export const SQS_DEFAULT_MAX_MESSAGE_BYTES = 262_144;

export class MalformedIngestRecordError extends Error {
  override readonly name = "MalformedIngestRecordError";
}

/**
 * The Nomad event of an ingest record, and the replay it belongs to (EventBridge's
 * `replay-name` on replayed events). The event's payload keeps the record's text
 * (busDetailJson writes it as received, every digit of Nomad's int64 values intact).
 */
export function parseIngestEnvelope(body: string): { detail: NomadBusDetail; replayName?: string } {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch (error) {
    throw new MalformedIngestRecordError(`the record is not JSON (${(error as Error).message}): ${describeValue(body.slice(0, 200))}`);
  }
  const detail = (envelope as { detail?: unknown } | null)?.detail;
  if (detail === undefined) throw new MalformedIngestRecordError(`the record is not an EventBridge event (no "detail"): ${describeValue(body.slice(0, 200))}`);
  const decoded = decodeNomadBusDetail(detail);
  if ("problem" in decoded) throw new MalformedIngestRecordError(`the record's detail is not a Nomad bus event: ${decoded.problem}`);
  rememberEventPayload(body, ["detail", "event"], decoded.detail.event);
  const replayName = (envelope as { "replay-name"?: unknown })["replay-name"];
  return { detail: decoded.detail, ...(typeof replayName === "string" && replayName !== "" ? { replayName } : {}) };
}

/**
 * Whether the event goes to the sink: its topic filter (a gap marker concerns every sink:
 * any of them may have missed events), then its scope (namespaces, its team's grants),
 * checked on every event so a token change applies from the next batch.
 */
function matches({ sink, scope }: RoutedSink, detail: NomadBusDetail): boolean {
  return (detail.event.Topic === GAP_TOPIC || matchesTopics(sink.Topics, detail.event)) && scopeAdmits(sink, scope, detail.event);
}

/**
 * The fan-out: matches each bus event against the enabled sinks and queues one delivery
 * message per (sink, event) on the FIFO delivery queue, grouped by sink. Records are
 * handled in index order; a record whose messages could not all be queued is reported
 * failed (SQS redelivers it; deduplication IDs keep the resend from doubling deliveries).
 */
export class Fanout {
  private readonly maxMessageBytes: number;
  private readonly replays = new Map<string, ReplayTarget>();

  constructor(private readonly options: FanoutOptions) {
    this.maxMessageBytes = options.maxMessageBytes ?? SQS_DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Returns the message IDs of records to report as failed (SQS partial batch response). */
  async handle(records: readonly IngestRecord[]): Promise<string[]> {
    const { logger, metrics } = this.options;
    const failed = new Set<string>();
    const parsed: Array<{ record: IngestRecord; detail: NomadBusDetail; replayName?: string }> = [];
    for (const record of records) {
      try {
        parsed.push({ record, ...parseIngestEnvelope(record.body) });
      } catch (error) {
        // Never dropped: reported failed, it ends in the ingest dead-letter queue after the retries.
        logger.error("ingest record is not a Nomad bus event", { messageId: record.messageId, error: (error as Error).message });
        metrics?.add("FanoutMalformed", "Count", 1);
        failed.add(record.messageId);
      }
    }
    // Stable sort: events of one index keep their arrival order.
    parsed.sort((a, b) => a.detail.frameIndex - b.detail.frameIndex);
    metrics?.add("FanoutEvents", "Count", parsed.length);

    let sinks;
    let replays: Map<string, ReplayTarget | null>;
    try {
      sinks = await this.options.sinks.enabledSinks();
      replays = await this.replaysOf(parsed);
    } catch (error) {
      logger.error("could not read the sinks; the batch will be retried", { error: (error as Error).message });
      return records.map((r) => r.messageId);
    }

    // In record order; an entry without a message stands for an event its sink must get
    // before anything later (its preparation failed, so the sink waits for the resend).
    const outgoing: Array<{ recordId: string; groupId: string; message?: OutgoingMessage }> = [];
    let entryIds = 0;
    for (const { record, detail, replayName } of parsed) {
      const start = outgoing.length;
      // A replayed event goes only to its replay's sink (all matching sinks when it names none).
      const replay = replayName !== undefined ? replays.get(replayName) : undefined;
      const targets = replay === undefined ? sinks : replay === null ? [] : sinks.filter(({ sink }) => (replay.SinkID === undefined || sink.ID === replay.SinkID) && (replay.Team === undefined || sink.Team === replay.Team));
      try {
        // The detail is serialised once per event (and once more if it goes by reference), not per sink.
        let shared = detail;
        let detailJson: string | undefined;
        for (const routed of targets) {
          if (!matches(routed, detail)) continue;
          const { sink } = routed;
          detailJson ??= busDetailJson(shared);
          const extra = { ...(replayName !== undefined ? { replay: replayName } : {}), sinkIndex: sink.CreateIndex };
          let body = deliveryMessageJson(sink.ID, detail.id, detailJson, extra);
          let bytes = Buffer.byteLength(body);
          if (bytes > this.maxMessageBytes && shared.payloadRef === undefined) {
            if (!this.options.offload) throw new Error(`event ${detail.id} makes a ${bytes}-byte delivery message, over SQS's ${this.maxMessageBytes}, and no payload bucket is configured (PAYLOAD_BUCKET)`);
            shared = await this.options.offload(detail);
            detailJson = busDetailJson(shared);
            body = deliveryMessageJson(sink.ID, detail.id, detailJson, extra);
            bytes = Buffer.byteLength(body);
          }
          if (bytes > this.maxMessageBytes) throw new Error(`event ${detail.id} makes a ${bytes}-byte delivery message even by reference, over SQS's ${this.maxMessageBytes}`);
          outgoing.push({ recordId: record.messageId, groupId: sink.ID, message: { id: `m${entryIds++}`, body, groupId: sink.ID, deduplicationId: replayName !== undefined ? replayDeduplicationId(sink.ID, detail.id, replayName) : deliveryId(sink.ID, detail.id) } });
        }
      } catch (error) {
        logger.error("could not prepare deliveries for an event", { eventId: detail.id, messageId: record.messageId, error: (error as Error).message });
        failed.add(record.messageId);
        // Every sink the event is for holds its later events until the record's resend.
        outgoing.length = start;
        for (const routed of targets) if (matches(routed, detail)) outgoing.push({ recordId: record.messageId, groupId: routed.sink.ID });
      }
    }

    // Messages of one sink must enter its group in order. SQS reports each entry of a batch
    // on its own (a failed entry does not fail the ones after it), so one SendMessageBatch
    // carries at most one message per sink: a failed entry is retried before its sink's next
    // message is sent. Once a sink's message fails for good, its later messages wait for the
    // resend of the failed record (and those records are reported failed too); other sinks go on.
    const blockedSinks = new Set<string>();
    let pending = outgoing;
    while (pending.length > 0) {
      const batch: Array<{ recordId: string; groupId: string; message: OutgoingMessage }> = [];
      const inBatch = new Set<string>();
      const deferred = new Set<string>();
      const rest: typeof outgoing = [];
      for (const o of pending) {
        if (blockedSinks.has(o.groupId)) {
          failed.add(o.recordId);
        } else if (inBatch.has(o.groupId) || deferred.has(o.groupId) || batch.length >= SEND_BATCH_MAX_ENTRIES) {
          // Behind a message of its sink that is not settled yet: next round.
          rest.push(o);
          deferred.add(o.groupId);
        } else if (o.message === undefined) {
          failed.add(o.recordId);
          blockedSinks.add(o.groupId);
        } else {
          batch.push({ recordId: o.recordId, groupId: o.groupId, message: o.message });
          inBatch.add(o.groupId);
        }
      }
      pending = rest;
      if (batch.length === 0) continue;
      const errors = await this.sendWithRetries(batch.map((o) => o.message));
      for (const { id, error } of errors) {
        const o = batch.find((b) => b.message.id === id);
        if (o === undefined) continue;
        logger.error("could not queue a delivery; the event will be retried", { messageId: o.recordId, sinkId: o.groupId, error });
        failed.add(o.recordId);
        blockedSinks.add(o.groupId);
      }
      metrics?.add("FanoutMessagesQueued", "Count", batch.length - errors.length);
    }
    if (failed.size > 0) metrics?.add("FanoutFailedRecords", "Count", failed.size);
    return [...failed];
  }

  /**
   * Each replay of the batch, as the replay store has it (looked up once per function
   * instance: a replay never changes whom it is for). An unknown replay (not started
   * through the API) is `null`: its events go nowhere, and it is looked up again next time.
   */
  private async replaysOf(parsed: ReadonlyArray<{ replayName?: string }>): Promise<Map<string, ReplayTarget | null>> {
    const found = new Map<string, ReplayTarget | null>();
    for (const { replayName } of parsed) {
      if (replayName === undefined || found.has(replayName)) continue;
      let replay = this.replays.get(replayName);
      if (replay === undefined) {
        const stored = await this.options.replays?.get(replayName);
        if (stored !== undefined) {
          replay = { ...(stored.SinkID !== undefined ? { SinkID: stored.SinkID } : {}), ...(stored.Team !== undefined ? { Team: stored.Team } : {}) };
          this.replays.set(replayName, replay);
        } else this.options.logger.warn("replayed events of an unknown replay are not delivered", { replayName });
      }
      found.set(replayName, replay ?? null);
    }
    return found;
  }

  private async sendWithRetries(messages: OutgoingMessage[]): Promise<Array<{ id: string; error: string }>> {
    const attempts = this.options.sendAttempts ?? 5;
    let remaining = messages;
    let errors: Array<{ id: string; error: string }> = [];
    for (let attempt = 0; attempt < attempts && remaining.length > 0; attempt++) {
      if (attempt > 0) await sleep(fullJitter(attempt, this.options.retryBaseMs ?? 100, 2_000));
      try {
        errors = await this.options.queue.sendBatch(remaining);
      } catch (error) {
        errors = remaining.map((m) => ({ id: m.id, error: (error as Error).message }));
      }
      const failedIds = new Set(errors.map((e) => e.id));
      remaining = remaining.filter((m) => failedIds.has(m.id));
    }
    return errors;
  }
}
