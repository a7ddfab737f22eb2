import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAll } from "../../scripts/build";
import { httpApiEvent } from "../support/http-api-event";
import { ensureDeliveriesTable } from "../../shared/delivery/delivery-log";
import { newSinksTable, TEST_TOKEN } from "../support/sinks";

// What `npm run build` produces is what Lambda runs: load the bundle itself and call it.
describe("npm run build bundles", () => {
  const outDir = mkdtempSync(join(tmpdir(), "nes-build-"));
  let outputs: string[] = [];

  beforeAll(async () => {
    outputs = await buildAll(resolve(import.meta.dirname, "../.."), outDir);
  }, 120_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("every function into dist/<name>/index.mjs with a source map", () => {
    for (const name of ["sinks-api", "fanout", "deliver", "streamer"]) expect(outputs).toContain(join(outDir, name, "index.mjs"));
  });

  it("a sinks-api bundle that serves requests from its environment alone", async () => {
    const { tableName, client } = await newSinksTable();
    const deliveriesTable = `${tableName}-deliveries`;
    await ensureDeliveriesTable(client, deliveriesTable);
    // The queues are only used by redrive, which this test does not call.
    const delivery = { DELIVERIES_TABLE: deliveriesTable, DELIVERY_QUEUE_URL: "http://127.0.0.1:1/q.fifo", DELIVERY_DLQ_URL: "http://127.0.0.1:1/dlq.fifo" };
    Object.assign(process.env, { SINKS_TABLE: tableName, SINKS_MANAGEMENT_TOKEN: TEST_TOKEN, ...delivery });
    try {
      const { handler } = (await import(`${pathToFileURL(join(outDir, "sinks-api", "index.mjs")).href}?ok`)) as { handler: (e: unknown) => Promise<{ statusCode: number; body: string }> };
      // A public IP literal: the SSRF guard passes it without a DNS lookup.
      const put = await handler(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "webhook", Address: "https://93.184.216.34/hook", Topics: { Job: ["*"] } } }));
      expect(put.statusCode).toBe(200);
      const list = await handler(httpApiEvent("GET", "/v1/event/sinks"));
      expect(JSON.parse(list.body).map((s: { ID: string }) => s.ID)).toEqual(["a"]);
    } finally {
      for (const name of ["SINKS_TABLE", "SINKS_MANAGEMENT_TOKEN", ...Object.keys(delivery)]) delete process.env[name];
    }
  });

  it("a sinks-api bundle that fails at start, naming the missing variable", async () => {
    await expect(import(`${pathToFileURL(join(outDir, "sinks-api", "index.mjs")).href}?missing`)).rejects.toThrow("Environment variable SINKS_TABLE is required");
  });

  it("fanout and deliver bundles that fail at start, naming the missing variable", async () => {
    await expect(import(`${pathToFileURL(join(outDir, "fanout", "index.mjs")).href}?missing`)).rejects.toThrow("Environment variable SINKS_TABLE is required");
    await expect(import(`${pathToFileURL(join(outDir, "deliver", "index.mjs")).href}?missing`)).rejects.toThrow("Environment variable SINKS_TABLE is required");
  });
});
