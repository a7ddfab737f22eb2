import type { NomadEvent } from "./event";

/** Topic → keys, as in Nomad's `topic=Topic:Key` query and a sink's `Topics`. */
export type TopicFilter = Readonly<Record<string, readonly string[]>>;

function isSoleWildcard(keys: readonly string[] | undefined): boolean {
  return keys !== undefined && keys.length === 1 && keys[0] === "*";
}

/**
 * Whether `event` matches `topics`, with Nomad's semantics (EVENT-STREAM-SPEC 1.5):
 * - `*` as a topic with the sole key `*` matches everything;
 * - the keys of `*` and of the event's topic are combined; if that is exactly `["*"]`,
 *   every event of the topic matches;
 * - otherwise a key matches when it equals the event's `Key` or one of its `FilterKeys`,
 *   exactly and case-sensitively. `*` is a wildcard only as the sole key, so
 *   `Job:*` together with `Job:web` matches only `web`. The empty key matches an empty
 *   `Key` or an empty FilterKey (for example `DeploymentID == ""`).
 *
 * Unlike Nomad, an event that matches several keys matches once: it is never delivered
 * twice (Nomad appended it once per matching key).
 */
export function matchesTopics(topics: TopicFilter, event: Pick<NomadEvent, "Topic" | "Key" | "FilterKeys">): boolean {
  const any = Object.hasOwn(topics, "*") ? topics["*"] : undefined;
  if (isSoleWildcard(any)) return true;
  const own = Object.hasOwn(topics, event.Topic) ? topics[event.Topic] : undefined;
  // The combined key list is exactly ["*"] only when `*` adds no keys of its own.
  if ((any === undefined || any.length === 0) && isSoleWildcard(own)) return true;
  return matchesAnyKey(any, event) || matchesAnyKey(own, event);
}

function matchesAnyKey(keys: readonly string[] | undefined, event: Pick<NomadEvent, "Key" | "FilterKeys">): boolean {
  if (keys === undefined) return false;
  for (const key of keys) {
    if (event.Key === key) return true;
    if (event.FilterKeys?.includes(key)) return true;
  }
  return false;
}
