import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoLease, type DynamoLeaseOptions } from "../../shared/streamer/lease";
import { ensureStreamerTable } from "../../shared/streamer/streamer-table";
import { uniqueName } from "../support/names";

/** A fresh streamer table in DynamoDB Local (started by the global setup), unique to the caller. */
export async function newStreamerTable(): Promise<{ tableName: string; client: DynamoDBClient }> {
  const client = new DynamoDBClient({});
  const tableName = uniqueName("streamer");
  await ensureStreamerTable(client, tableName);
  return { tableName, client };
}

/** An arbitrary fixed epoch; tests move a `ManualClock` from here instead of sleeping. */
export const T0 = 1_700_000_000_000;

/** A clock the test sets by hand; each lease (or process) gets its own, so clocks can disagree. */
export class ManualClock {
  constructor(public time = T0) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Makes leases on one table and one cluster label (unique per call, so tests never share a lease). */
export function leaseFactory(table: { tableName: string; client: DynamoDBClient }, cluster = uniqueName("cluster")) {
  return (holder: string, options: Partial<Pick<DynamoLeaseOptions, "durationMs" | "now">> = {}) =>
    new DynamoLease({ tableName: table.tableName, client: table.client, cluster, holder, durationMs: 1_000, ...options });
}
