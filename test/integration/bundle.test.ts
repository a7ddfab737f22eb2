import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAll } from "../../scripts/build";
import { httpApiEvent } from "../support/http-api-event";
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
    expect(outputs).toContain(join(outDir, "sinks-api", "index.mjs"));
  });

  it("a sinks-api bundle that serves requests from its environment alone", async () => {
    const { tableName } = await newSinksTable();
    Object.assign(process.env, { SINKS_TABLE: tableName, SINKS_MANAGEMENT_TOKEN: TEST_TOKEN });
    try {
      const { handler } = (await import(`${pathToFileURL(join(outDir, "sinks-api", "index.mjs")).href}?ok`)) as { handler: (e: unknown) => Promise<{ statusCode: number; body: string }> };
      const put = await handler(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] } } }));
      expect(put.statusCode).toBe(200);
      const list = await handler(httpApiEvent("GET", "/v1/event/sinks"));
      expect(JSON.parse(list.body).map((s: { ID: string }) => s.ID)).toEqual(["a"]);
    } finally {
      delete process.env.SINKS_TABLE;
      delete process.env.SINKS_MANAGEMENT_TOKEN;
    }
  });

  it("a sinks-api bundle that fails at start, naming the missing variable", async () => {
    await expect(import(`${pathToFileURL(join(outDir, "sinks-api", "index.mjs")).href}?missing`)).rejects.toThrow("Environment variable SINKS_TABLE is required");
  });
});
