import type { AttributeDefinition, KeySchemaElement } from "@aws-sdk/client-dynamodb";

/**
 * The sinks table: one table, generic keys, one item per entity (single-table design).
 *
 * | item            | pk            | sk        | attributes                                             |
 * |-----------------|---------------|-----------|--------------------------------------------------------|
 * | sink            | `SINK#<ID>`   | `SINK`    | ID, Type, Topics (M of L), Address, LatestIndex,       |
 * |                 |               |           | CreateIndex, ModifyIndex, Secret, PreviousSecrets (L)  |
 * | index counter   | `COUNTER`     | `INDEX`   | Value (N): the last index handed out                   |
 *
 * - A partition per sink spreads the per-delivery `LatestIndex` writes; listing is a
 *   strongly consistent Scan (sinks are few; a GSI would be eventually consistent, and a
 *   registered sink must show up in the very next list).
 * - Every write is conditional: configuration writes on the `ModifyIndex` they read
 *   (optimistic concurrency, retried with a fresh index), `LatestIndex` on being lower.
 */
export const SINKS_TABLE_KEYS = {
  partitionKey: "pk",
  sortKey: "sk",
} as const;

export const SINKS_TABLE_KEY_SCHEMA: KeySchemaElement[] = [
  { AttributeName: SINKS_TABLE_KEYS.partitionKey, KeyType: "HASH" },
  { AttributeName: SINKS_TABLE_KEYS.sortKey, KeyType: "RANGE" },
];

export const SINKS_TABLE_ATTRIBUTES: AttributeDefinition[] = [
  { AttributeName: SINKS_TABLE_KEYS.partitionKey, AttributeType: "S" },
  { AttributeName: SINKS_TABLE_KEYS.sortKey, AttributeType: "S" },
];
