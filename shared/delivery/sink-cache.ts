import { intEnv, type Env } from "../config/env";
import type { Sink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import { teamScopes, type ScopeGrant, type TeamScope } from "../tokens/scope";
import type { SinkDirectory } from "./sink-directory";

/** A change-version read: the version, when the read started, and the cache's generation then. */
interface VersionRead {
  readonly version: number;
  readonly at: number;
  readonly generation: number;
}

/** An enabled sink and what its team may receive now (undefined: a management sink, or a team without a live token). */
export interface RoutedSink {
  readonly sink: Sink;
  readonly scope: TeamScope | undefined;
}

/** SINK_CACHE_SECONDS, read by the fan-out and the deliverer alike, in ms. */
export function sinkCacheMs(env: Env): number {
  return intEnv(env, "SINK_CACHE_SECONDS", 5, { min: 0, max: 300 }) * 1000;
}

/**
 * SINK_CHECK_MS: how long one change-version read serves (SinkCache's `checkEveryMs`). The
 * fan-out's default is 0, a read per batch, so a revoked or narrowed token stops its team's
 * sinks at once; the deliverer's is 1,000 (it rereads, consistently, any sink whose cached
 * state could lose a delivery, so its copy may be a second behind).
 */
export function sinkCheckMs(env: Env, defaultMs: number): number {
  return intEnv(env, "SINK_CHECK_MS", defaultMs, { min: 0, max: 60_000 });
}

export interface SinkCacheOptions {
  /**
   * Reads the sinks and the team tokens' grants (their namespaces bound their team's sinks):
   * dynamoSinkDirectory, one Scan of the table for both. The store still gives the change
   * version. @default the store's `list()` and no grants (team sinks then receive nothing)
   */
  readonly load?: () => Promise<SinkDirectory>;
  /** How long a read serves when the store's index has not moved either. @default 5_000 */
  readonly ttlMs?: number;
  /**
   * How long a change-version read serves: calls within it use what is loaded without
   * reading the version again. @default 0 (every call reads it)
   */
  readonly checkEveryMs?: number;
  readonly now?: () => number;
}

/**
 * The sinks (for the fan-out: the enabled ones and their teams' scopes; for the deliverer:
 * every sink by ID). A call reads the store's change version (one small consistent read; it
 * moves after each landed sink or token write) once the last read is `checkEveryMs` old, and
 * reloads when it moved, so a new, changed or disabled sink, a rotated secret and a token's
 * narrowed namespaces take effect from the next call after that: with 0, the very next
 * batch. The deliverer reads it once a second instead, since a busy function runs many
 * batches a second and each read is a consistent GetItem (billed, and waited for before the
 * batch starts). A load serves at most `ttlMs` in any case (a safety net should a writer die
 * between its write and the version's move). Token expiry is judged on every call.
 * Concurrent callers share one version read and one reload: a caller arriving while a
 * version read is in flight takes its answer (in Lambda a container runs one batch at a
 * time, so this only merges the local runtime's concurrent invocations; a change landing
 * during that read is seen by the next one, and after invalidate() by the very next call).
 */
export class SinkCache {
  private loaded: { at: number; version: number; sinks: ReadonlyMap<string, Sink>; enabled: Sink[]; grants: readonly ScopeGrant[] } | undefined;
  private loading: Promise<NonNullable<SinkCache["loaded"]>> | undefined;
  private versionRead: Promise<VersionRead> | undefined;
  /** When the version read that last confirmed (or loaded) the sinks started. */
  private checkedAt = Number.NEGATIVE_INFINITY;
  /**
   * Moves at each invalidate(): a read or load that started before it may have missed the
   * change, so it neither confirms the copy nor replaces it (it still answers the calls that
   * were waiting for it, which began before the change).
   */
  private generation = 0;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly checkEveryMs: number;

  constructor(
    private readonly store: Pick<SinkStore, "list" | "changeVersion" | "onChange">,
    private readonly options: SinkCacheOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 5_000;
    this.checkEveryMs = options.checkEveryMs ?? 0;
    // A change this process lands (the local runtime's API, a deliverer disabling a sink) is read at the next call, whatever the interval.
    store.onChange?.(() => this.invalidate());
  }

  async enabledSinks(): Promise<RoutedSink[]> {
    const loaded = await this.current();
    const scopes = teamScopes(loaded.grants, this.now());
    return loaded.enabled.map((sink) => ({ sink, scope: sink.Team !== undefined ? scopes.get(sink.Team) : undefined }));
  }

  /**
   * The next call reads the change version, whatever the check interval (the store calls it
   * after each write this process lands): with a read of its own, not one already under way,
   * which may have started before the write.
   */
  invalidate(): void {
    this.generation++;
    this.checkedAt = Number.NEGATIVE_INFINITY;
    this.versionRead = undefined;
    this.loading = undefined;
  }

  /** Every sink, enabled or not, by ID: the deliverer's one read per batch instead of one per sink. */
  async sinksById(): Promise<ReadonlyMap<string, Sink>> {
    return (await this.current()).sinks;
  }

  private async current() {
    const loaded = this.loaded;
    const now = this.now();
    if (loaded === undefined || now - loaded.at >= this.ttlMs) return this.reload();
    if (now - this.checkedAt < this.checkEveryMs) return loaded;
    const read = await this.sharedVersionRead();
    if (read.version !== loaded.version) return this.reload(read);
    if (read.generation === this.generation) this.checkedAt = Math.max(this.checkedAt, read.at);
    return loaded;
  }

  private sharedVersionRead(): Promise<VersionRead> {
    if (this.versionRead === undefined) {
      const at = this.now();
      const generation = this.generation;
      const read: Promise<VersionRead> = this.store
        .changeVersion()
        .then((version) => ({ version, at, generation }))
        .finally(() => {
          if (this.versionRead === read) this.versionRead = undefined;
        });
      this.versionRead = read;
    }
    return this.versionRead;
  }

  private async read(): Promise<SinkDirectory> {
    if (this.options.load) return this.options.load();
    return { sinks: (await this.store.list()).value, grants: [] };
  }

  /** `known`: the change version just read, when the caller has it (else read here). */
  private reload(known?: VersionRead) {
    if (this.loading !== undefined) return this.loading;
    const loading = (async () => {
      const at = this.now();
      const generation = known?.generation ?? this.generation;
      // The version is read before the data: a write landing meanwhile moves it again, and the next check reloads.
      const { version, at: checkedAt } = known ?? { version: await this.store.changeVersion(), at };
      const { sinks: value, grants } = await this.read();
      const loaded = { at, version, sinks: new Map(value.map((sink) => [sink.ID, sink])), enabled: value.filter((sink) => sink.Disabled === undefined), grants };
      if (generation === this.generation) {
        this.loaded = loaded;
        this.checkedAt = Math.max(this.checkedAt, checkedAt);
      }
      return loaded;
    })().finally(() => {
      if (this.loading === loading) this.loading = undefined;
    });
    this.loading = loading;
    return loading;
  }
}
