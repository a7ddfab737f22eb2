import type { Sink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";

/**
 * The enabled sinks, read from the store at most every `ttlMs` (a few seconds), so a new
 * sink starts receiving quickly without a table scan per event. Concurrent callers share
 * one read.
 */
export class SinkCache {
  private loaded: { at: number; sinks: Sink[] } | undefined;
  private loading: Promise<Sink[]> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<SinkStore, "list">,
    private readonly ttlMs = 5_000,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
  }

  async enabledSinks(): Promise<Sink[]> {
    if (this.loaded && this.now() - this.loaded.at < this.ttlMs) return this.loaded.sinks;
    this.loading ??= this.store
      .list()
      .then(({ value }) => {
        const sinks = value.filter((sink) => sink.Disabled === undefined);
        this.loaded = { at: this.now(), sinks };
        return sinks;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
