import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { ensurePkSkTable } from "../dynamo/pk-sk-table";

/**
 * The streamer state table: one table for everything the streamer keeps, generic keys,
 * two items per Nomad cluster label (`cluster`, e.g. `default` or `prod-eu`).
 *
 * | item       | pk                    | sk           | attributes                                               |
 * |------------|-----------------------|--------------|----------------------------------------------------------|
 * | lease      | `STREAMER#<cluster>`  | `LEASE`      | Holder (S), ExpiresAt (N, ms), FencingToken (N)          |
 * | checkpoint | `STREAMER#<cluster>`  | `CHECKPOINT` | Index (N), UpdatedAt (N, ms), Namespaces (L of S, opt.), |
 * |            |                       |              | Holder (S), FencingToken (N): who saved it, under which  |
 * |            |                       |              | term (for operators; nothing reads them back)            |
 *
 * - Both items of a cluster share a partition, so the fenced checkpoint save (a
 *   transaction checking the lease and updating the checkpoint) stays in one partition.
 * - The lease item is never deleted: a release only sets ExpiresAt to 0. Deleting it
 *   would reset FencingToken, and the token must only ever grow.
 * - Every write is conditional (lease.ts and checkpoint-store.ts say on what).
 */

/** A streamer item lacks an attribute it must have (written by something else, or edited by hand). */
export class CorruptStreamerItemError extends Error {
  override readonly name = "CorruptStreamerItemError";
}

export const LEASE_SORT_KEY = "LEASE";
export const CHECKPOINT_SORT_KEY = "CHECKPOINT";

function clusterPartition(cluster: string): AttributeValue {
  if (cluster === "") throw new RangeError("the Nomad cluster label must not be empty");
  return { S: `STREAMER#${cluster}` };
}

/** The key of a cluster's lease item. */
export function leaseKey(cluster: string): Record<string, AttributeValue> {
  return { pk: clusterPartition(cluster), sk: { S: LEASE_SORT_KEY } };
}

/** The key of a cluster's checkpoint item. */
export function checkpointKey(cluster: string): Record<string, AttributeValue> {
  return { pk: clusterPartition(cluster), sk: { S: CHECKPOINT_SORT_KEY } };
}

/** Creates the streamer table if it does not exist (local runtime and tests; the CDK does this in AWS). */
export const ensureStreamerTable = ensurePkSkTable;
