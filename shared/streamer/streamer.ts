import type { Logger } from "@aws-lambda-powertools/logger";
import { request, type Dispatcher } from "undici";
import type { ScannedFrame } from "../nomad/frame-scan";
import type { NomadConfig } from "../nomad/nomad-config";
import { DEFAULT_LIVENESS_MS, nomadDispatcher, NomadResponseError, readStreamFrames, StreamLineTooLongError } from "../nomad/stream-client";
import type { TopicFilter } from "../nomad/topic-filter";
import { PUT_EVENTS_DEFAULT_MAX_BYTES, putEventsEntrySize } from "../eventbridge/entry-size";
import { fullJitter, sleep } from "../retry/backoff";
import type { CheckpointStore } from "./checkpoint-store";
import { EntryBatcher } from "./entry-batcher";
import { busEntry, busEntryOfScanned, gapMarker, type BusEntry, type PayloadRef } from "./event-contract";
import { EventIdAssigner } from "./event-id";
import { ProgressTracker } from "./progress-tracker";

export interface StreamerOptions {
  readonly nomad: NomadConfig;
  readonly cluster: string;
  readonly busName: string;
  /** @default every topic */
  readonly topics?: TopicFilter;
  readonly checkpoints: CheckpointStore;
  /** Publishes one PutEvents call's entries, retrying until all are accepted. */
  readonly publish: (entries: BusEntry[]) => Promise<void>;
  /** Stores a payload too large for the bus (its JSON text, as Nomad sent it) and returns the reference the bus carries instead (claim check). */
  readonly storePayload?: (cluster: string, eventId: string, payloadJson: string) => Promise<PayloadRef>;
  readonly logger: Logger;
  /** The connection pool to Nomad; pass one to share it across terms. @default a pool of its own (see nomadDispatcher) */
  readonly dispatcher?: Dispatcher;
  /** @default 45_000 */
  readonly livenessMs?: number;
  /** The longest stream line (one frame) read; a longer one drops the connection. @default DEFAULT_MAX_LINE_BYTES (64 MiB) */
  readonly maxLineBytes?: number;
  /** Summed entry bytes per PutEvents call (AWS's entry-size rule). @default PUT_EVENTS_DEFAULT_MAX_BYTES */
  readonly maxEntryBytes?: number;
  /** PutEvents calls in flight. @default 4 */
  readonly maxInFlight?: number;
  /** How often the checkpoint is written while streaming. @default 1_000 */
  readonly checkpointEveryMs?: number;
  /** Reconnect backoff: full jitter from `baseMs` up to `capMs`; after a 403, from `forbiddenBaseMs`. */
  readonly reconnect?: { readonly baseMs?: number; readonly capMs?: number; readonly forbiddenBaseMs?: number; readonly healthyAfterMs?: number };
  /** How often `GET /v1/namespaces` is polled when subscribed to `*`. @default 60_000; 0 disables */
  readonly namespacePollMs?: number;
  readonly now?: () => number;
}

export interface StreamerStatus {
  connected: boolean;
  checkpoint: number;
  highestIndex: number;
  lastFrameAt: number | undefined;
  /** When the last byte (a frame or a heartbeat) came from Nomad. */
  lastByteAt: number | undefined;
  eventsIn: number;
  eventsOut: number;
  bytesIn: number;
  reconnects: number;
  gaps: number;
  lastError: string | undefined;
  /** When the oldest event read but not yet on the bus was read; undefined when all are published. */
  oldestUnpublishedAt: number | undefined;
}

/** Why a session ended on purpose (not a failure): reconnect at once. */
class Resubscribe extends Error {
  override readonly name = "Resubscribe";
}

/**
 * Reads Nomad's event stream and publishes every event to the bus, losing nothing:
 * it resumes from the checkpoint (the highest index whose frames are all on the bus),
 * reconnects with backoff, and marks possible gaps. Run it only while holding the lease.
 */
export class Streamer {
  readonly status: StreamerStatus = { connected: false, checkpoint: 0, highestIndex: 0, lastFrameAt: undefined, lastByteAt: undefined, eventsIn: 0, eventsOut: 0, bytesIn: 0, reconnects: 0, gaps: 0, lastError: undefined, oldestUnpublishedAt: undefined };
  private readonly now: () => number;
  private readonly dispatcher: Dispatcher;
  /** IDs already on the bus for indexes above the checkpoint, so an in-process resubscribe does not send them twice. */
  private readonly publishedAbove = new Map<number, Set<string>>();

  constructor(private readonly options: StreamerOptions) {
    this.now = options.now ?? Date.now;
    this.dispatcher = options.dispatcher ?? nomadDispatcher(options.nomad);
  }

  /** Streams until `signal` aborts; then flushes what it read and writes the checkpoint. */
  async run(signal: AbortSignal): Promise<void> {
    const { reconnect = {}, logger } = this.options;
    let attempt = 0;
    while (!signal.aborted) {
      const started = this.now();
      let waitMs = 0;
      try {
        await this.session(signal);
        logger.info("Nomad ended the event stream; resubscribing", { checkpoint: this.status.checkpoint });
        attempt = 0;
      } catch (error) {
        if (signal.aborted) break;
        if (this.now() - started > (reconnect.healthyAfterMs ?? 60_000)) attempt = 0;
        if (error instanceof Resubscribe) {
          logger.info(error.message, { checkpoint: this.status.checkpoint });
        } else {
          const forbidden = error instanceof NomadResponseError && error.status === 403;
          waitMs = fullJitter(attempt++, forbidden ? (reconnect.forbiddenBaseMs ?? 5_000) : (reconnect.baseMs ?? 500), forbidden ? 300_000 : (reconnect.capMs ?? 30_000));
          this.status.lastError = (error as Error).message;
          // Both need an operator: a token to fix, or a frame longer than the limit (it comes again on every resume until the limit is raised or Nomad drops it).
          const tooLong = error instanceof StreamLineTooLongError;
          const message = forbidden ? "Nomad refused the token (403): check NOMAD_TOKEN; retrying slowly" : tooLong ? "a frame of the event stream is longer than STREAM_MAX_LINE_BYTES: raise it to read the frame; reconnecting" : "event stream failed; reconnecting";
          logger[forbidden || tooLong ? "error" : "warn"](message, {
            error: (error as Error).message,
            errorName: (error as Error).name,
            waitMs,
            checkpoint: this.status.checkpoint,
          });
        }
      }
      this.status.reconnects++;
      if (waitMs > 0) await sleep(waitMs, signal).catch(() => undefined);
    }
  }

  private async session(outer: AbortSignal): Promise<void> {
    const { options } = this;
    const stop = new AbortController();
    const onOuter = () => stop.abort(outer.reason);
    outer.addEventListener("abort", onOuter, { once: true });
    const saved = await options.checkpoints.load();
    const start = saved?.index ?? 0;
    // What a previous run put on the bus above its checkpoint: not sent again.
    for (const { index, ids } of saved?.published ?? []) {
      if (index <= start) continue;
      const set = this.publishedAbove.get(index) ?? new Set<string>();
      for (const id of ids) set.add(id);
      this.publishedAbove.set(index, set);
    }
    const tracker = new ProgressTracker(start);
    const ids = new EventIdAssigner(options.cluster);
    const batcher = new EntryBatcher({ send: options.publish, maxBytes: options.maxEntryBytes, maxInFlight: options.maxInFlight });
    const checkpointer = this.checkpointer(tracker);
    const namespaces = await this.watchNamespaces(stop);
    this.status.checkpoint = start;
    let first = true;
    let ended = false;
    try {
      // index=start is inclusive: if Nomad still holds `start`, nothing after it was lost.
      const stream = readStreamFrames(
        { index: start, ...(options.topics ? { topics: options.topics } : {}) },
        {
          config: options.nomad,
          signal: stop.signal,
          dispatcher: this.dispatcher,
          ...(options.livenessMs ? { livenessMs: options.livenessMs } : {}),
          ...(options.maxLineBytes ? { maxLineBytes: options.maxLineBytes } : {}),
          onBytes: (bytes) => {
            this.status.bytesIn += bytes;
            this.status.lastByteAt = this.now();
            this.status.connected = true;
          },
        },
      );
      for await (const frame of stream) {
        this.status.lastFrameAt = this.now();
        if (first) {
          first = false;
          if (start > 0 && frame.Index > start) await this.markGap(batcher, start, frame.Index);
        }
        if (frame.Index <= start) continue;
        await this.publishFrame(frame, ids, tracker, batcher);
      }
      ended = true;
    } catch (error) {
      if (stop.signal.reason instanceof Resubscribe) throw stop.signal.reason;
      throw error;
    } finally {
      this.status.connected = false;
      outer.removeEventListener("abort", onOuter);
      namespaces.stop();
      // Everything read is published and checkpointed before the next subscription.
      try {
        await batcher.flush();
        if (ended) tracker.endOfStream();
      } finally {
        await checkpointer.finish();
      }
    }
  }

  private async publishFrame(frame: ScannedFrame, ids: EventIdAssigner, tracker: ProgressTracker, batcher: EntryBatcher): Promise<void> {
    const events = frame.Events ?? [];
    const eventIds = ids.assign(frame.Index, events);
    const already = this.publishedAbove.get(frame.Index);
    const entries: BusEntry[] = [];
    const sizes: number[] = [];
    const fresh: string[] = [];
    const maxEntryBytes = this.options.maxEntryBytes ?? PUT_EVENTS_DEFAULT_MAX_BYTES;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const id = eventIds[i]!;
      if (already?.has(id)) continue;
      let entry = busEntryOfScanned(this.options.busName, id, this.options.cluster, frame.Index, event);
      let size = putEventsEntrySize(entry);
      // The same rule the batcher packs calls by: an entry that fits no call goes by reference.
      if (size > maxEntryBytes) {
        if (!this.options.storePayload) throw new Error(`event ${id} (${event.Topic} ${event.Key}) is over the PutEvents limit and no payload store is configured`);
        const ref = await this.options.storePayload(this.options.cluster, id, event.payloadJson ?? "null");
        entry = busEntryOfScanned(this.options.busName, id, this.options.cluster, frame.Index, event, ref);
        size = putEventsEntrySize(entry);
      }
      entries.push(entry);
      sizes.push(size);
      fresh.push(id);
    }
    this.status.eventsIn += events.length;
    const index = frame.Index;
    const count = entries.length;
    const seq = tracker.add(index, this.now());
    this.status.oldestUnpublishedAt = tracker.oldestPendingAt;
    this.status.highestIndex = Math.max(this.status.highestIndex, index);
    // The callback holds the index, the count and the IDs, not the frame or the entries: the
    // parsed events (and the line their payload text is cut from) can go as soon as their
    // entries are built, not only once the bus has accepted them.
    await batcher.add(entries, () => {
      this.status.eventsOut += count;
      let set = this.publishedAbove.get(index);
      if (!set) this.publishedAbove.set(index, (set = new Set()));
      for (const id of fresh) set.add(id);
      const checkpoint = tracker.ack(seq);
      this.status.oldestUnpublishedAt = tracker.oldestPendingAt;
      for (const above of this.publishedAbove.keys()) if (above <= checkpoint) this.publishedAbove.delete(above);
    }, sizes);
  }

  private async markGap(batcher: EntryBatcher, from: number, to: number): Promise<void> {
    this.status.gaps++;
    this.options.logger.warn("possible gap: Nomad no longer holds the checkpoint's index; events in between may be lost", { fromIndex: from, toIndex: to, cluster: this.options.cluster });
    await batcher.add([busEntry(this.options.busName, gapMarker(this.options.cluster, from, to, "checkpoint index no longer in Nomad's event buffer"))], () => {
      this.status.eventsOut++;
    });
  }

  /**
   * Writes the checkpoint at most every `checkpointEveryMs`, one write at a time, and once
   * more at the end; with it, the IDs already published above it, so that a restart does
   * not send a partly published index's events again.
   */
  private checkpointer(tracker: ProgressTracker) {
    let written = { index: tracker.checkpoint, published: JSON.stringify(this.publishedAboveOf(tracker.checkpoint)) };
    let writing: Promise<void> = Promise.resolve();
    const write = () => {
      writing = writing.then(async () => {
        const index = tracker.checkpoint;
        this.status.checkpoint = index;
        const published = this.publishedAboveOf(index);
        const key = JSON.stringify(published);
        if (index < written.index || (index === written.index && key === written.published)) return;
        await this.options.checkpoints.save({ index, updatedAt: this.now(), ...(published.length > 0 ? { published } : {}) });
        written = { index, published: key };
      });
      return writing;
    };
    const timer = setInterval(() => void write().catch((error: unknown) => this.options.logger.warn("checkpoint write failed; will retry", { error: (error as Error).message })), this.options.checkpointEveryMs ?? 1_000);
    return {
      finish: async () => {
        clearInterval(timer);
        await writing.catch(() => undefined);
        await write();
      },
    };
  }

  /** The IDs on the bus at each index above `index`, for the checkpoint. */
  private publishedAboveOf(index: number): Array<{ index: number; ids: string[] }> {
    return [...this.publishedAbove].filter(([above]) => above > index).map(([above, ids]) => ({ index: above, ids: [...ids] }));
  }

  /** Polls the namespace list while subscribed to `*`; a change resubscribes so new namespaces are covered. */
  private async watchNamespaces(stop: AbortController): Promise<{ stop(): void }> {
    const every = this.options.namespacePollMs ?? 60_000;
    if (this.options.nomad.namespace !== "*" || every <= 0) return { stop: () => undefined };
    const initial = await this.namespaces(stop.signal).catch(() => undefined);
    const timer = setInterval(() => {
      void this.namespaces(stop.signal)
        .then((current) => {
          // Unknown at subscribe time: a namespace may have been missed, so resubscribe once to be sure.
          if (initial === undefined) stop.abort(new Resubscribe(`Nomad's namespaces can be listed again (${current}); resubscribing to be sure all are covered`));
          else if (current !== initial) stop.abort(new Resubscribe(`Nomad's namespaces changed (${initial} → ${current}); resubscribing to cover them`));
        })
        .catch((error: unknown) => this.options.logger.warn("could not list Nomad namespaces", { error: (error as Error).message }));
    }, every);
    return { stop: () => clearInterval(timer) };
  }

  private async namespaces(signal: AbortSignal): Promise<string> {
    const { nomad } = this.options;
    const response = await request(`${nomad.address}/v1/namespaces${nomad.region ? `?region=${encodeURIComponent(nomad.region)}` : ""}`, {
      dispatcher: this.dispatcher,
      signal,
      // The stream's pool waits on bodies for ever; a namespace list must come in a liveness window.
      headersTimeout: this.options.livenessMs ?? DEFAULT_LIVENESS_MS,
      bodyTimeout: this.options.livenessMs ?? DEFAULT_LIVENESS_MS,
      headers: nomad.token ? { "x-nomad-token": nomad.token } : {},
    });
    if (response.statusCode !== 200) throw new NomadResponseError(response.statusCode, (await response.body.text()).trim());
    const list = (await response.body.json()) as Array<{ Name?: string }>;
    return list
      .map((n) => n.Name ?? "")
      .sort()
      .join(",");
  }
}
