/**
 * The sinks table: one table, generic keys, one item per entity (single-table design).
 *
 * | item            | pk            | sk        | attributes                                             |
 * |-----------------|---------------|-----------|--------------------------------------------------------|
 * | sink            | `SINK#<ID>`   | `SINK`    | ID, Type, Topics (M of L), Address, LatestIndex,       |
 * |                 |               |           | CreateIndex, ModifyIndex, Secret, PreviousSecrets (L), |
 * |                 |               |           | Team?, Namespaces? (L), DisabledReason?, DisabledAt?   |
 * | token           | `TOKEN#<AccessorID>` | `TOKEN` | see shared/tokens/dynamo-token-store.ts          |
 * | token secret    | `TOKENSECRET#<sha256>` | `TOKENSECRET` | AccessorID                             |
 * | replay          | `REPLAY#<ID>` | `REPLAY`  | see shared/replay/dynamo-replay-store.ts               |
 * | index counter   | `COUNTER`     | `INDEX`   | Value (N): the last index handed out (every write)     |
 * | change version  | `COUNTER`     | `VERSION` | Value (N): moves after each sink or token write lands  |
 *
 * - A partition per sink spreads the per-delivery `LatestIndex` writes; listing is a
 *   strongly consistent Scan (sinks are few; a GSI would be eventually consistent, and a
 *   registered sink must show up in the very next list).
 * - Every write is conditional: configuration writes on the `ModifyIndex` they read
 *   (optimistic concurrency, retried with a fresh index), `LatestIndex` on being lower.
 */
export { PK_SK_KEYS as SINKS_TABLE_KEYS } from "../dynamo/pk-sk-table";
