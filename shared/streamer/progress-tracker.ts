/**
 * Which Nomad index is safe to resume after. Frames arrive in stream order and are
 * published concurrently, so acknowledgements come back in any order. The checkpoint is
 * the highest index N such that every frame with an index ≤ N has been acknowledged and
 * N is complete: several frames can share an index, so N is complete only once a higher
 * index has arrived or the stream ended cleanly.
 *
 * It never moves backwards, also when a resumed stream re-sends older frames.
 */
export class ProgressTracker {
  private nextSeq = 0;
  /** Unacknowledged frames: seq → index and when it was read. Insertion order is stream order. */
  private readonly pending = new Map<number, { index: number; at: number }>();
  /**
   * Distinct indexes above the checkpoint that frames arrived with, ascending. The
   * checkpoint only takes one of these values: an index Nomad really sent, which a
   * resumed subscription can look for to tell whether anything was lost in between.
   */
  private readonly seen: number[] = [];
  private checkpointIndex: number;

  constructor(startCheckpoint = 0) {
    this.checkpointIndex = startCheckpoint;
  }

  /** Registers a frame about to be published; returns the handle to acknowledge it with. */
  add(index: number, at = Date.now()): number {
    const seq = this.nextSeq++;
    this.pending.set(seq, { index, at });
    const last = this.seen[this.seen.length - 1];
    if (index > this.checkpointIndex && (last === undefined || index > last)) this.seen.push(index);
    return seq;
  }

  /** The frame `seq` is published; returns the checkpoint afterwards. */
  ack(seq: number): number {
    this.pending.delete(seq);
    return this.advance(false);
  }

  /** The stream ended cleanly: the newest index is complete. */
  endOfStream(): number {
    return this.advance(true);
  }

  get checkpoint(): number {
    return this.checkpointIndex;
  }

  /** When the oldest frame not yet acknowledged was read (undefined when none is pending): the publication lag starts there. */
  get oldestPendingAt(): number | undefined {
    const oldest = this.pending.values().next();
    return oldest.done ? undefined : oldest.value.at;
  }

  /** Frames added and not yet acknowledged. */
  get inFlight(): number {
    return this.pending.size;
  }

  private advance(streamEnded: boolean): number {
    const oldest = this.pending.values().next();
    // Indexes below the oldest unacknowledged frame are done; with nothing pending, all
    // but the newest are (the newest may have frames still to come, unless the stream ended).
    const done = (index: number, position: number) =>
      !oldest.done ? index < oldest.value.index : streamEnded || position < this.seen.length - 1;
    let count = 0;
    while (count < this.seen.length && done(this.seen[count]!, count)) count++;
    if (count > 0) {
      this.checkpointIndex = Math.max(this.checkpointIndex, this.seen[count - 1]!);
      this.seen.splice(0, count);
    }
    return this.checkpointIndex;
  }
}
