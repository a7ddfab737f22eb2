import type { Logger } from "@aws-lambda-powertools/logger";
import type { SinkStore } from "../sinks/sink-store";

export interface LatestIndexWriterOptions {
  /**
   * The shortest time between two writes of one sink's `LatestIndex` by this instance. 0:
   * every batch's advance is written before the batch returns. Above 0, an advance within
   * that time of the sink's previous write waits, and is written (with any later ones) by a
   * timer when the time is up, by the first batch after it, or by `flush()`.
   */
  readonly everyMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** One sink's advances as this instance knows them. */
interface Progress {
  /** The registration the advances belong to (the store writes them only while it is current). */
  readonly createIndex: number;
  /** When this instance last started a write of the sink's LatestIndex. */
  writtenAt: number;
  /** The highest index delivered and not written yet. */
  pending: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Writes the sinks' `LatestIndex` advances for the deliverer: each one a conditional,
 * forward-only UpdateItem (SinkStore.advanceLatestIndex). With `everyMs` 0, one per sink per
 * batch, which is what the functions do in AWS. With `everyMs` above 0 (the local runtime:
 * DynamoDB Local commits writes one at a time, and at 100 batches a second per sink these
 * were most of its writes), at most one per sink per `everyMs`: `LatestIndex` then trails
 * the deliveries by up to that long, and a deferred advance lost with the process (a crash,
 * not a clean stop, which flushes) is made good by the sink's next delivery. It never moves
 * backwards, and never onto a later registration of the same ID.
 */
export class LatestIndexWriter {
  private readonly sinks = new Map<string, Progress>();
  private readonly writing = new Set<Promise<void>>();
  private readonly now: () => number;
  /** Set by flush(): a write failing after it is logged, not tried again (the store is going away). */
  private flushed = false;

  constructor(
    private readonly store: Pick<SinkStore, "advanceLatestIndex">,
    private readonly options: LatestIndexWriterOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * A batch delivered the sink registered at `createIndex` up to `index`. Returns the write
   * to wait for (its failure is the caller's), or undefined when the advance is deferred.
   */
  advance(sinkId: string, index: number, createIndex: number): Promise<unknown> | undefined {
    const { everyMs } = this.options;
    if (everyMs <= 0) return this.store.advanceLatestIndex(sinkId, index, createIndex);
    let progress = this.sinks.get(sinkId);
    if (progress === undefined || progress.createIndex !== createIndex) {
      // A first advance, or one for another registration of the ID: an earlier one's deferred advance is dropped.
      if (progress?.timer !== undefined) clearTimeout(progress.timer);
      progress = { createIndex, writtenAt: Number.NEGATIVE_INFINITY, pending: undefined, timer: undefined };
      this.sinks.set(sinkId, progress);
    }
    const highest = Math.max(index, progress.pending ?? index);
    const now = this.now();
    if (progress.timer === undefined && now - progress.writtenAt >= everyMs) {
      progress.pending = undefined;
      progress.writtenAt = now;
      return this.store.advanceLatestIndex(sinkId, highest, createIndex);
    }
    progress.pending = highest;
    this.schedule(sinkId, progress, progress.writtenAt + everyMs - now);
    return undefined;
  }

  /** Writes every deferred advance now, and waits for the writes in flight (a clean stop). */
  async flush(): Promise<void> {
    this.flushed = true;
    for (const [sinkId, progress] of this.sinks) {
      if (progress.pending === undefined) continue;
      clearTimeout(progress.timer);
      progress.timer = undefined;
      this.writeDeferred(sinkId, progress);
    }
    await Promise.all([...this.writing]);
  }

  private schedule(sinkId: string, progress: Progress, delayMs: number): void {
    if (progress.timer !== undefined) return;
    progress.timer = setTimeout(() => {
      progress.timer = undefined;
      this.writeDeferred(sinkId, progress);
    }, Math.max(0, delayMs));
    // A deferred advance never keeps a process alive; a clean stop flushes it.
    progress.timer.unref();
  }

  private writeDeferred(sinkId: string, progress: Progress): void {
    const index = progress.pending;
    if (index === undefined || this.sinks.get(sinkId) !== progress) return;
    progress.pending = undefined;
    progress.writtenAt = this.now();
    const write = this.store.advanceLatestIndex(sinkId, index, progress.createIndex).then(
      () => undefined,
      (error: unknown) => {
        if (this.flushed) {
          this.options.logger.warn("a sink's LatestIndex could not be advanced at the stop; its next delivery will advance it", { sinkId, index, error: (error as Error).message });
          return;
        }
        this.options.logger.warn("a sink's LatestIndex could not be advanced; it will be tried again", { sinkId, index, error: (error as Error).message });
        if (this.sinks.get(sinkId) !== progress) return;
        progress.pending = Math.max(index, progress.pending ?? index);
        this.schedule(sinkId, progress, this.options.everyMs);
      },
    );
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }
}
