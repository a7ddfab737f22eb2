import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { PreviousSecret, Sink } from "./sink";
import { SINK_TYPE_WEBHOOK } from "./sink";

type Item = Record<string, AttributeValue>;

/** The key of a sink's item (see sinks-table.ts for the layout). */
export function sinkKey(id: string): Item {
  return { pk: { S: `SINK#${id}` }, sk: { S: "SINK" } };
}

export const SINK_SORT_KEY = "SINK";

export function topicsToAttribute(topics: Sink["Topics"]): AttributeValue {
  return { M: Object.fromEntries(Object.entries(topics).map(([topic, keys]) => [topic, { L: keys.map((key) => ({ S: key })) }])) };
}

export function previousSecretsToAttribute(previous: readonly PreviousSecret[]): AttributeValue {
  return { L: previous.map((p) => ({ M: { Secret: { S: p.Secret }, ExpiresAt: { N: String(p.ExpiresAt) } } })) };
}

export class CorruptItemError extends Error {
  override readonly name = "CorruptItemError";
}

function str(item: Item, name: string): string {
  const value = item[name]?.S;
  if (value === undefined) throw new CorruptItemError(`sink item ${JSON.stringify(item.pk?.S)} has no string attribute ${name}`);
  return value;
}

function num(item: Item, name: string): number {
  const value = item[name]?.N;
  if (value === undefined) throw new CorruptItemError(`sink item ${JSON.stringify(item.pk?.S)} has no number attribute ${name}`);
  return Number(value);
}

export function sinkFromItem(item: Item): Sink {
  const topics: Record<string, string[]> = {};
  for (const [topic, keys] of Object.entries(item.Topics?.M ?? {})) {
    topics[topic] = (keys.L ?? []).map((key) => key.S ?? "");
  }
  const previous = (item.PreviousSecrets?.L ?? []).map((entry) => ({
    Secret: entry.M?.Secret?.S ?? "",
    ExpiresAt: Number(entry.M?.ExpiresAt?.N ?? 0),
  }));
  const type = str(item, "Type");
  if (type !== SINK_TYPE_WEBHOOK) throw new CorruptItemError(`sink item ${JSON.stringify(item.pk?.S)} has unknown Type ${JSON.stringify(type)}`);
  return {
    ID: str(item, "ID"),
    Type: type,
    Topics: topics,
    Address: str(item, "Address"),
    LatestIndex: num(item, "LatestIndex"),
    CreateIndex: num(item, "CreateIndex"),
    ModifyIndex: num(item, "ModifyIndex"),
    Secret: str(item, "Secret"),
    PreviousSecrets: previous.filter((p) => p.Secret !== ""),
    ...(item.DisabledReason?.S !== undefined ? { Disabled: { Reason: item.DisabledReason.S, At: Number(item.DisabledAt?.N ?? 0) } } : {}),
    ...(item.Team?.S !== undefined ? { Team: item.Team.S } : {}),
    ...(item.Namespaces?.L !== undefined ? { Namespaces: item.Namespaces.L.map((n) => n.S ?? "") } : {}),
  };
}
