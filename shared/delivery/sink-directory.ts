import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { scanBySortKeys } from "../dynamo/pk-sk-table";
import { bySinkId, type Sink } from "../sinks/sink";
import { SINK_SORT_KEY, sinkFromItem } from "../sinks/sink-item";
import { TOKEN_SORT_KEY, tokenFromItem } from "../tokens/dynamo-token-store";
import type { ScopeGrant } from "../tokens/scope";

/** What SinkCache keeps: every sink (sorted by ID, as the store lists them) and, for the fan-out, the tokens' grants. */
export interface SinkDirectory {
  readonly sinks: readonly Sink[];
  readonly grants: readonly ScopeGrant[];
}

/**
 * The sinks table read for SinkCache in one consistent Scan: the sinks and, with `tokens`,
 * the team tokens, which share the table. Two stores' `list()` would scan it twice and read
 * its index counter twice (the cache needs neither the second scan nor the index).
 */
export function dynamoSinkDirectory(client: DynamoDBClient, tableName: string, options: { readonly tokens: boolean; readonly pageSize?: number }): () => Promise<SinkDirectory> {
  const kinds = options.tokens ? [SINK_SORT_KEY, TOKEN_SORT_KEY] : [SINK_SORT_KEY];
  return async () => {
    const items = await scanBySortKeys(client, tableName, kinds, options.pageSize);
    const sinks = items.get(SINK_SORT_KEY)!.map(sinkFromItem);
    sinks.sort(bySinkId);
    return { sinks, grants: (items.get(TOKEN_SORT_KEY) ?? []).map(tokenFromItem) };
  };
}
