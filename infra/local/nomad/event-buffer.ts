/**
 * Nomad's per-server event buffer (`nomad/stream/event_buffer.go`), reproduced with its
 * observable quirks rather than as a clean ring buffer:
 *
 * - One item is one `Publish` call, i.e. one committed transaction. A raft index that
 *   commits two transactions (JobRegistered: a Job txn, then an Evaluation txn) makes
 *   two items with the same Index, and each counts towards the size limit.
 * - The buffer starts with an empty sentinel item. The first eviction drops that
 *   sentinel, which also decrements the size counter, so once more than `maxItems`
 *   items were appended Nomad keeps `maxItems + 1` real items, not `maxItems`
 *   (Nomad's own TestEventBuffer_Slow_Reader shows it: size 10, head at index 5 after 14).
 * - Evicted items stay linked, so a reader that holds one can still move on from it;
 *   it is told "event dropped from buffer" only when it asks for the item after one that
 *   was dropped meanwhile (`bufferItem.Next`).
 */

export const DEFAULT_EVENT_BUFFER_SIZE = 100;

export const EVENT_DROPPED_FROM_BUFFER = "event dropped from buffer";

export interface BufferItem<T> {
  /** Raft index; 0 only for sentinels and a cursor's start item. */
  readonly index: number;
  /** Undefined for sentinels, which readers skip. */
  readonly value: T | undefined;
}

interface Link<T> extends BufferItem<T> {
  next: Link<T> | undefined;
  dropped: boolean;
}

export type CursorStep<T> = { kind: "item"; item: BufferItem<T> & { value: T } } | { kind: "wait" } | { kind: "dropped" };

/** One subscriber's position: the item it read last (Nomad's `Subscription.currentItem`). */
export class BufferCursor<T> {
  #current: Link<T>;

  /** @internal created by {@link EventBuffer.subscribe} */
  constructor(start: Link<T>) {
    this.#current = start;
  }

  /**
   * Moves to the next item that carries a value. "wait" means nothing newer exists
   * yet; "dropped" means the item this cursor stood on was evicted before it moved on,
   * which is Nomad's slow-reader error and ends the subscription.
   */
  next(): CursorStep<T> {
    for (;;) {
      const next = this.#current.next;
      if (next === undefined) return { kind: "wait" };
      // Nomad checks droppedCh only once a next item exists, exactly like this.
      if (this.#current.dropped) return { kind: "dropped" };
      this.#current = next;
      if (next.value !== undefined) return { kind: "item", item: next as BufferItem<T> & { value: T } };
    }
  }
}

export class EventBuffer<T> {
  readonly maxItems: number;
  #head: Link<T>;
  #tail: Link<T>;
  #size = 0;

  constructor(maxItems: number = DEFAULT_EVENT_BUFFER_SIZE) {
    if (!Number.isInteger(maxItems) || maxItems < 0) throw new RangeError(`event buffer size must be a non-negative integer, got ${maxItems}`);
    // Nomad turns event_buffer_size = 0 into 100 (event_broker.go).
    this.maxItems = maxItems === 0 ? DEFAULT_EVENT_BUFFER_SIZE : maxItems;
    this.#head = this.#tail = sentinel<T>();
  }

  /** Nomad's size counter: off by one from the items retained once the sentinel went. */
  get size(): number {
    return this.#size;
  }

  /** Index of the newest item, or 0 when nothing was appended. */
  get lastIndex(): number {
    return this.#tail.index;
  }

  append(index: number, value: T): void {
    if (!Number.isSafeInteger(index) || index <= 0) throw new RangeError(`buffer item index must be a positive safe integer, got ${index}`);
    if (index < this.#tail.index) throw new RangeError(`buffer item index ${index} is older than the newest item ${this.#tail.index}`);
    const item: Link<T> = { index, value, next: undefined, dropped: false };
    this.#tail.next = item;
    this.#tail = item;
    this.#size++;
    while (this.#size > this.maxItems) this.#advanceHead();
  }

  /** Every retained item with a value, oldest first. */
  retained(): Array<BufferItem<T> & { value: T }> {
    const out: Array<BufferItem<T> & { value: T }> = [];
    for (let item: Link<T> | undefined = this.#head; item !== undefined; item = item.next) {
      if (item.value !== undefined) out.push(item as BufferItem<T> & { value: T });
    }
    return out;
  }

  /**
   * A cursor placed like Nomad's `EventBroker.Subscribe`: index 0 starts at the head
   * (the whole buffer); otherwise at the first retained item with Index >= index, at
   * the head when index is older than the buffer, and at the newest item when index is
   * newer than everything (so that item is re-sent even though its Index < index).
   */
  subscribe(index: number): BufferCursor<T> {
    const first = index === 0 ? this.#head : this.#startAtClosest(index);
    const start: Link<T> = { index, value: undefined, next: first, dropped: false };
    return new BufferCursor(start);
  }

  #startAtClosest(index: number): Link<T> {
    let item = this.#head;
    if (index <= item.index) return item;
    for (;;) {
      const next = item.next;
      if (next === undefined) return item;
      if (index <= next.index) return next;
      item = next;
    }
  }

  #advanceHead(): void {
    const old = this.#head;
    const next = old.next ?? sentinel<T>();
    old.dropped = true;
    this.#head = next;
    if (old === this.#tail) this.#tail = next;
    if (this.#size > 0) this.#size--;
  }
}

function sentinel<T>(): Link<T> {
  return { index: 0, value: undefined, next: undefined, dropped: false };
}
