import { intEnv, type Env } from "../config/env";
import type { Sink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import { teamScopes, type ScopeGrant, type TeamScope } from "../tokens/scope";
import type { SinkDirectory } from "./sink-directory";

/** An enabled sink and what its team may receive now (undefined: a management sink, or a team without a live token). */
export interface RoutedSink {
  readonly sink: Sink;
  readonly scope: TeamScope | undefined;
}

/** SINK_CACHE_SECONDS, read by the fan-out and the deliverer alike, in ms. */
export function sinkCacheMs(env: Env): number {
  return intEnv(env, "SINK_CACHE_SECONDS", 5, { min: 0, max: 300 }) * 1000;
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
  readonly now?: () => number;
}

/**
 * The sinks (for the fan-out: the enabled ones and their teams' scopes; for the deliverer:
 * every sink by ID). Every call reads the store's change version (one small consistent
 * read; it moves after each landed sink or token write) and reloads when it moved, so a new,
 * changed or disabled sink, a rotated secret and a token's narrowed namespaces take effect on
 * the very next batch. A read serves at most `ttlMs` in any case (a safety net should a
 * writer die between its write and the version's move). Token expiry is judged on every
 * call. Concurrent callers share one version read and one reload: a caller arriving while
 * a version read is in flight takes its answer (in Lambda a container runs one batch at a
 * time, so this only merges the local runtime's concurrent pollers; a change landing
 * during that read is seen by the next one).
 */
export class SinkCache {
  private loaded: { at: number; version: number; sinks: ReadonlyMap<string, Sink>; enabled: Sink[]; grants: readonly ScopeGrant[] } | undefined;
  private loading: Promise<NonNullable<SinkCache["loaded"]>> | undefined;
  private versionRead: Promise<number> | undefined;
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(
    private readonly store: Pick<SinkStore, "list" | "changeVersion">,
    private readonly options: SinkCacheOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 5_000;
  }

  async enabledSinks(): Promise<RoutedSink[]> {
    const loaded = await this.current();
    const scopes = teamScopes(loaded.grants, this.now());
    return loaded.enabled.map((sink) => ({ sink, scope: sink.Team !== undefined ? scopes.get(sink.Team) : undefined }));
  }

  /** Every sink, enabled or not, by ID: the deliverer's one read per batch instead of one per sink. */
  async sinksById(): Promise<ReadonlyMap<string, Sink>> {
    return (await this.current()).sinks;
  }

  private async current() {
    const loaded = this.loaded;
    if (loaded === undefined || this.now() - loaded.at >= this.ttlMs) return this.reload();
    const version = await this.sharedVersionRead();
    return version === loaded.version ? loaded : this.reload(version);
  }

  private sharedVersionRead(): Promise<number> {
    this.versionRead ??= this.store.changeVersion().finally(() => {
      this.versionRead = undefined;
    });
    return this.versionRead;
  }

  private async read(): Promise<SinkDirectory> {
    if (this.options.load) return this.options.load();
    return { sinks: (await this.store.list()).value, grants: [] };
  }

  /** `version`: the change version just read, when the caller has it (else read here). */
  private reload(version?: number) {
    this.loading ??= (async () => {
      const at = this.now();
      // The version is read before the data: a write landing meanwhile moves it again, and the next call reloads.
      version ??= await this.store.changeVersion();
      const { sinks: value, grants } = await this.read();
      const loaded = { at, version, sinks: new Map(value.map((sink) => [sink.ID, sink])), enabled: value.filter((sink) => sink.Disabled === undefined), grants };
      this.loaded = loaded;
      return loaded;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }
}
