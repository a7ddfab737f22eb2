import type { Sink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import { teamScopes, type ScopeGrant, type TeamScope } from "../tokens/scope";

/** An enabled sink and what its team may receive now (undefined: a management sink, or a team without a live token). */
export interface RoutedSink {
  readonly sink: Sink;
  readonly scope: TeamScope | undefined;
}


export interface SinkCacheOptions {
  /** Where team tokens are read (their namespaces bound their team's sinks). @default no tokens: team sinks receive nothing */
  readonly tokens?: { list(): Promise<{ value: readonly ScopeGrant[] }> };
  /** How long a read serves when the store's index has not moved either. @default 5_000 */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * The enabled sinks and their teams' scopes. Every call reads the store's change version
 * (one small consistent read; it moves after each landed sink or token write) and reloads
 * when it moved, so a new, changed or disabled sink and a token's narrowed namespaces take
 * effect on the very next batch. A read serves at most `ttlMs` in any case (a safety net
 * should a writer die between its write and the version's move). Token expiry is judged on
 * every call. Concurrent callers share one reload.
 */
export class SinkCache {
  private loaded: { at: number; version: number; sinks: Sink[]; grants: readonly ScopeGrant[] } | undefined;
  private loading: Promise<NonNullable<SinkCache["loaded"]>> | undefined;
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
    let loaded = this.loaded;
    if (loaded === undefined || this.now() - loaded.at >= this.ttlMs || (await this.store.changeVersion()) !== loaded.version) loaded = await this.reload();
    const scopes = teamScopes(loaded.grants, this.now());
    return loaded.sinks.map((sink) => ({ sink, scope: sink.Team !== undefined ? scopes.get(sink.Team) : undefined }));
  }

  private reload() {
    this.loading ??= (async () => {
      const at = this.now();
      // The version is read before the data: a write landing meanwhile moves it again, and the next call reloads.
      const version = await this.store.changeVersion();
      const [{ value }, grants] = await Promise.all([this.store.list(), this.options.tokens ? this.options.tokens.list().then((t) => t.value) : Promise.resolve([])]);
      const loaded = { at, version, sinks: value.filter((sink) => sink.Disabled === undefined), grants };
      this.loaded = loaded;
      return loaded;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }
}
