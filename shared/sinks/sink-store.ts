import type { Sink, SinkRegistration } from "./sink";

/**
 * Checks a sink before a write changes it (ownership): throws NotFoundError to refuse.
 * It sees the sink as read for the write, so a concurrent change cannot slip past it.
 */
export type SinkGuard = (current: Sink | undefined) => void;

/** A change applied to the store, with the index it was given (Nomad's `X-Nomad-Index`). */
export interface Written<T> {
  readonly value: T;
  readonly index: number;
}

/**
 * Where sinks live. Every write takes the next value of one strictly increasing counter
 * (like Nomad's raft index) as its index; writes to one sink apply in index order.
 */
export interface SinkStore {
  /** Every sink, sorted by ID, and the store's current index. */
  list(): Promise<Written<Sink[]>>;
  /** One sink, or undefined if absent: a single read, for callers that need no index. */
  find(id: string): Promise<Sink | undefined>;
  /** One sink (undefined if absent) and the store's current index. */
  get(id: string): Promise<Written<Sink | undefined>>;
  /**
   * Creates or replaces the sink's configuration. `LatestIndex` and `CreateIndex` are
   * kept on re-registration; the secret is kept unless one is given, and a replaced
   * secret keeps signing for the rotation grace period. A disabled sink is enabled again.
   * The owner is the registration's `Team` ("" for management), or the current one when it
   * has none. `guard` may refuse the write after seeing the current sink.
   */
  put(registration: SinkRegistration, now?: number, guard?: SinkGuard): Promise<Written<Sink>>;
  /** Deletes the sink; deleting a missing sink succeeds, as in Nomad, unless `guard` refuses. */
  delete(id: string, guard?: SinkGuard): Promise<Written<undefined>>;
  /**
   * Moves `LatestIndex` forward to `index`; never backwards. With `createIndex`, only while
   * the sink is that registration (not a later one under the same ID). Returns false when
   * the sink is gone, is another registration, or is already at or past `index`.
   */
  advanceLatestIndex(id: string, index: number, createIndex?: number): Promise<boolean>;
  /**
   * Stops deliveries to the sink for good, recording why (the webhook answered 410 Gone).
   * Re-registering the sink (`put`) enables it again. With `createIndex`, only while the sink
   * is that registration (a 410 from a deleted sink's webhook never disables its successor).
   * Returns false when the sink is gone or is another registration.
   */
  disable(id: string, reason: string, now?: number, createIndex?: number): Promise<boolean>;
  /** Issues a new secret; the old one keeps signing for the grace period. Throws NotFoundError. */
  rotateSecret(id: string, now?: number, guard?: SinkGuard): Promise<Written<Sink>>;
  /** Moves after every landed sink or token write (not LatestIndex advances): unchanged means the configuration is as it was. */
  changeVersion(): Promise<number>;
  /**
   * Calls `listener` after each sink or token write this process lands, once the change version
   * has moved (writes by other processes show only in the version); returns the function that stops it.
   */
  onChange?(listener: () => void): () => void;
}
