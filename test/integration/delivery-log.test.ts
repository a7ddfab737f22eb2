import { DynamoDBClient, type BatchWriteItemCommandInput, type BatchWriteItemCommandOutput, type WriteRequest } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { DynamoDeliveryLog, ensureDeliveriesTable, type DeliveryAttempt } from "../../shared/delivery/delivery-log";
import { uniqueName } from "../support/names";

// DynamoDB Local (started by the global setup). DynamoDB Local does not throttle, so the
// tests that need unprocessed items hold some items of a real BatchWriteItem back and hand
// them back as UnprocessedItems, as DynamoDB does when it throttles: what is written is
// written for real.

const clients: DynamoDBClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

/** A client that counts the commands it sends, and can leave all but `keep` items of the next `times` batch writes unprocessed. */
function countingClient() {
  const client = new DynamoDBClient({});
  clients.push(client);
  const sent: string[] = [];
  const throttle = { times: 0, keep: 1 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? "?");
      if (context.commandName !== "BatchWriteItemCommand" || throttle.times === 0) return next(args);
      throttle.times--;
      const input = args.input as BatchWriteItemCommandInput;
      const held: Record<string, WriteRequest[]> = {};
      const kept: Record<string, WriteRequest[]> = {};
      for (const [table, requests] of Object.entries(input.RequestItems ?? {})) {
        kept[table] = requests.slice(0, throttle.keep);
        held[table] = requests.slice(throttle.keep);
      }
      const result = await next({ ...args, input: { ...input, RequestItems: kept } });
      const output = result.output as BatchWriteItemCommandOutput;
      for (const [table, requests] of Object.entries(held)) {
        if (requests.length > 0) output.UnprocessedItems = { ...output.UnprocessedItems, [table]: [...(output.UnprocessedItems?.[table] ?? []), ...requests] };
      }
      return result;
    },
    { step: "initialize", name: "throttleBatchWrites" },
  );
  return { client, sent, throttle };
}

async function newLog(options: { unprocessedRetries?: number } = {}) {
  const { client, sent, throttle } = countingClient();
  const tableName = uniqueName("deliveries");
  await ensureDeliveriesTable(client, tableName);
  sent.length = 0;
  return { log: new DynamoDeliveryLog({ tableName, client, unprocessedRetryBaseMs: 1, ...options }), sent, throttle };
}

/** Recent enough that the table's TTL (which DynamoDB Local applies) keeps them. */
const AT = Date.now();

function attempt(n: number, sinkId = "s", extra: Partial<DeliveryAttempt> = {}): DeliveryAttempt {
  return { SinkID: sinkId, DeliveryID: `msg_${n}`, Attempt: 1, Outcome: "delivered", StatusCode: 204, LatencyMs: n % 7, Error: "", Events: 1, FirstIndex: n, LastIndex: n, At: AT + n, ...extra };
}

async function all(log: DynamoDeliveryLog, sinkId: string) {
  const { attempts } = await log.list(sinkId, { limit: 1_000 });
  return attempts;
}

describe("DynamoDeliveryLog.recordAll", () => {
  it("writes every attempt with BatchWriteItem, 25 items a request, readable as record() writes them", async () => {
    const { log, sent } = await newLog();
    const attempts = [
      ...Array.from({ length: 40 }, (_, n) => attempt(n, "a")),
      ...Array.from({ length: 20 }, (_, n) => attempt(n, "b", n % 2 === 0 ? { Outcome: "retrying", StatusCode: 503, Error: "HTTP 503: busy", NextAttemptAt: AT + 60_000 + n } : {})),
    ];
    await log.recordAll(attempts);
    expect(sent).toEqual(["BatchWriteItemCommand", "BatchWriteItemCommand", "BatchWriteItemCommand"]);
    const a = await all(log, "a");
    const b = await all(log, "b");
    // Newest first, each exactly as given (NextAttemptAt only where it was set).
    expect(a).toEqual(attempts.slice(0, 40).reverse());
    expect(b).toEqual(attempts.slice(40).reverse());
    expect(b.filter((x) => "NextAttemptAt" in x)).toHaveLength(10);

    // record() and recordAll() write the same item.
    const { log: other } = await newLog();
    await other.recordAll([attempts[45]!]);
    expect(await all(other, "b")).toEqual([attempts[45]]);
  });

  it("sends nothing for no attempts", async () => {
    const { log, sent } = await newLog();
    await log.recordAll([]);
    expect(sent).toEqual([]);
  });

  it("keeps the last of two attempts with the same key, as PutItem would (BatchWriteItem refuses duplicates)", async () => {
    const { log } = await newLog();
    await log.recordAll([attempt(1, "s", { Error: "first" }), attempt(2), attempt(1, "s", { Error: "second" })]);
    const attempts = await all(log, "s");
    expect(attempts.map((x) => [x.DeliveryID, x.Error])).toEqual([
      ["msg_2", ""],
      ["msg_1", "second"],
    ]);
  });

  it("sends unprocessed items again until all are written", async () => {
    const { log, sent, throttle } = await newLog();
    // The first three requests write one item each and hand the rest back.
    Object.assign(throttle, { times: 3, keep: 1 });
    const attempts = Array.from({ length: 10 }, (_, n) => attempt(n));
    await log.recordAll(attempts);
    expect(sent).toEqual(Array.from({ length: 4 }, () => "BatchWriteItemCommand"));
    expect(await all(log, "s")).toEqual(attempts.slice().reverse());
  });

  it("fails, saying how many were not written, when items stay unprocessed past its retries", async () => {
    const { log, sent, throttle } = await newLog({ unprocessedRetries: 4 });
    Object.assign(throttle, { times: 100, keep: 1 });
    const attempts = Array.from({ length: 10 }, (_, n) => attempt(n));
    await expect(log.recordAll(attempts)).rejects.toThrow(/^5 of 10 delivery attempt records were not written to deliveries-[0-9a-f-]+: DynamoDB left them unprocessed 5 times \(throttled\)$/);
    // The first try and 4 retries, each writing one item.
    expect(sent).toHaveLength(5);
    expect(await all(log, "s")).toHaveLength(5);
  });

  it("lets calls made while a write is in flight share the next request, each resolving once its own records are written", async () => {
    const { log, sent } = await newLog();
    const calls = [0, 1, 2, 3, 4].map((c) => Array.from({ length: 4 }, (_, n) => attempt(10 * c + n, `s${c}`)));
    // The first call finds the writer idle and goes alone; the other four wait for it and go together.
    await Promise.all(calls.map((attempts) => log.recordAll(attempts)));
    expect(sent).toEqual(["BatchWriteItemCommand", "BatchWriteItemCommand"]);
    for (let c = 0; c < calls.length; c++) expect(await all(log, `s${c}`)).toEqual(calls[c]!.slice().reverse());
  });

  it("fails only the calls whose records a shared request left unprocessed", async () => {
    const { log, throttle } = await newLog({ unprocessedRetries: 0 });
    // Both requests keep their first two items: all of the first (one call), the second's first call's.
    Object.assign(throttle, { times: 2, keep: 2 });
    const results = await Promise.allSettled([log.recordAll([attempt(1, "a")]), log.recordAll([attempt(2, "b"), attempt(3, "b")]), log.recordAll([attempt(4, "c"), attempt(5, "c")])]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/2 of 2 delivery attempt records were not written to deliveries-[0-9a-f-]+: DynamoDB left them unprocessed 1 time \(throttled\)/);
    expect((await all(log, "b")).map((x) => x.LastIndex)).toEqual([3, 2]);
    expect(await all(log, "c")).toEqual([]);
  });

  it("rejects with DynamoDB's error when the table is missing", async () => {
    const { client } = countingClient();
    const log = new DynamoDeliveryLog({ tableName: uniqueName("missing"), client });
    await expect(log.recordAll([attempt(1)])).rejects.toThrow(/resource not found|non-existent table|ResourceNotFound/i);
  });
});

describe("DynamoDeliveryLog.list", () => {
  /** Every page from the start, following the tokens; how many queries each took. */
  async function pages(log: DynamoDeliveryLog, sent: string[], sinkId: string, limit: number, sinkIndex?: number) {
    const out: Array<{ indexes: number[]; token: boolean; queries: number }> = [];
    let nextToken: string | undefined;
    do {
      sent.length = 0;
      const page = await log.list(sinkId, { limit, ...(nextToken !== undefined ? { nextToken } : {}), ...(sinkIndex !== undefined ? { sinkIndex } : {}) });
      out.push({ indexes: page.attempts.map((a) => a.LastIndex), token: page.nextToken !== undefined, queries: sent.length });
      nextToken = page.nextToken;
    } while (nextToken !== undefined && out.length < 20);
    return out;
  }

  it("fills each page past an earlier sink's attempts instead of returning short or empty pages with a token", async () => {
    const { log, sent } = await newLog();
    // The sink registered again (CreateIndex 2) has 5 attempts, newer than the 300 of the deleted one (CreateIndex 1); one record predates SinkIndex.
    const old = Array.from({ length: 300 }, (_, n) => attempt(n, "s", { SinkIndex: 1 }));
    const legacy = attempt(300, "s");
    const current = Array.from({ length: 5 }, (_, n) => attempt(1_000 + n, "s", { SinkIndex: 2 }));
    await log.recordAll([...old, legacy, ...current]);

    // Newest first: the current sink's five, then the record without a SinkIndex, then nothing more.
    expect(await pages(log, sent, "s", 4, 2)).toEqual([
      { indexes: [1004, 1003, 1002, 1001], token: true, queries: 1 },
      { indexes: [1000, 300], token: false, queries: 3 },
    ]);
    expect(await pages(log, sent, "s", 50, 2)).toEqual([{ indexes: [1004, 1003, 1002, 1001, 1000, 300], token: false, queries: 3 }]);
    // Without a sinkIndex every attempt is listed, a page per query.
    const all = await pages(log, sent, "s", 100);
    expect(all.flatMap((p) => p.indexes)).toHaveLength(306);
    expect(all.every((p) => p.queries === 1)).toBe(true);
  });

  it("stops after a bounded number of queries in a long run of skipped attempts, and the token goes on from there", async () => {
    const { log, sent } = await newLog();
    // 2,500 attempts of the earlier sink: more than 10 follow-up queries of 200 read.
    const old = Array.from({ length: 2_500 }, (_, n) => attempt(n, "s", { SinkIndex: 1 }));
    await log.recordAll([...old, attempt(5_000, "s", { SinkIndex: 2 })]);
    const result = await pages(log, sent, "s", 2, 2);
    expect(result[0]).toEqual({ indexes: [5000], token: true, queries: 10 });
    expect(result.at(-1)!.token).toBe(false);
    expect(result.flatMap((p) => p.indexes)).toEqual([5000]);
  });
});
