import { PUT_EVENTS_DEFAULT_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES, putEventsEntrySize } from "../eventbridge/entry-size";
import type { BusEntry } from "./event-contract";

export interface EntryBatcherOptions {
  /** Publishes one call's entries; resolves once every one is accepted (it retries inside). */
  readonly send: (entries: BusEntry[]) => Promise<void>;
  /** @default 10 (AWS's limit) */
  readonly maxEntries?: number;
  /** Summed entry size per call, by AWS's rule. @default 262,144 */
  readonly maxBytes?: number;
  /** Calls in flight at once. @default 4 */
  readonly maxInFlight?: number;
  /** How long a partial batch waits for more entries. @default 5 ms */
  readonly lingerMs?: number;
}

export class EntryTooLargeError extends Error {
  override readonly name = "EntryTooLargeError";
}

interface Group {
  remaining: number;
  readonly onPublished: () => void;
}

interface Item {
  readonly entry: BusEntry;
  readonly size: number;
  readonly group: Group;
}

/**
 * Packs the entries of consecutive frames into PutEvents calls (at most 10 entries and
 * `maxBytes` each), keeps several calls in flight, and reports each frame once all its
 * entries are accepted. `add` waits while every call slot is busy (backpressure: the
 * stream is not read faster than the bus accepts).
 */
export class EntryBatcher {
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly lingerMs: number;
  private batch: Item[] = [];
  private batchBytes = 0;
  private inFlight = 0;
  private linger: NodeJS.Timeout | undefined;
  private failure: unknown;
  private readonly slotWaiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: EntryBatcherOptions) {
    this.maxEntries = options.maxEntries ?? PUT_EVENTS_MAX_ENTRIES;
    this.maxBytes = options.maxBytes ?? PUT_EVENTS_DEFAULT_MAX_BYTES;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.lingerMs = options.lingerMs ?? 5;
  }

  /**
   * Queues one frame's entries; `onPublished` runs once all are accepted (at once for none).
   * `sizes`, when the caller already has them, are the entries' sizes by putEventsEntrySize,
   * in order; otherwise they are computed here.
   */
  async add(entries: readonly BusEntry[], onPublished: () => void, sizes?: readonly number[]): Promise<void> {
    this.throwIfFailed();
    const group: Group = { remaining: entries.length, onPublished };
    if (entries.length === 0) {
      onPublished();
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const size = sizes?.[i] ?? putEventsEntrySize(entry);
      if (size > this.maxBytes) {
        throw new EntryTooLargeError(`an entry of ${size} bytes exceeds the ${this.maxBytes}-byte PutEvents limit; it should have been stored by reference`);
      }
      if (this.batch.length >= this.maxEntries || this.batchBytes + size > this.maxBytes) await this.dispatch();
      this.batch.push({ entry, size, group });
      this.batchBytes += size;
    }
    if (this.batch.length >= this.maxEntries) await this.dispatch();
    else this.armLinger();
  }

  /** Sends what is queued and waits until nothing is in flight. */
  async flush(): Promise<void> {
    if (this.batch.length > 0) await this.dispatch();
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.throwIfFailed();
  }

  get callsInFlight(): number {
    return this.inFlight;
  }

  private armLinger(): void {
    if (this.linger !== undefined || this.batch.length === 0) return;
    this.linger = setTimeout(() => {
      this.linger = undefined;
      void this.dispatch().catch(() => undefined);
    }, this.lingerMs);
  }

  /**
   * Sends the queued entries as one call once a slot is free. Several callers can wait here
   * at once (an add that filled the batch, and linger timers that fired while every slot was
   * busy). A freed slot wakes all of them and each checks again: the first to run takes the
   * slot, one that finds the batch already sent returns. (Waking only one lost the slot when
   * that one returned empty-handed, and an add could then wait forever with nothing in flight.)
   */
  private async dispatch(): Promise<void> {
    clearTimeout(this.linger);
    this.linger = undefined;
    while (this.inFlight >= this.maxInFlight) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.throwIfFailed();
    const items = this.batch;
    if (items.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    this.inFlight++;
    this.options
      .send(items.map((item) => item.entry))
      .then(() => {
        for (const item of items) if (--item.group.remaining === 0) item.group.onPublished();
      })
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.inFlight--;
        for (const wake of this.slotWaiters.splice(0)) wake();
        if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
