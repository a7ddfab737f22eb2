import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateSecret, PREVIOUS_SECRET_GRACE_MS } from "../../shared/sinks/secret";
import { httpApiEvent } from "../support/http-api-event";
import { newSinksApi, TEST_TOKEN } from "../support/sinks";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "../fixtures/nomad", name), "utf8");

describe("sinks API: Nomad 1.0-beta compatibility", () => {
  it("round-trips the beta docs' register body into their GET and list response shapes", async () => {
    // The docs' example webhook is on loopback, which the SSRF guard refuses unless allowlisted.
    const { api } = await newSinksApi({ allowedCidrs: ["127.0.0.0/8"] });
    const registerBody = fixture("sinks-9226_register-request-body.json");
    const put = await api(httpApiEvent("PUT", "/v1/event/sink/webhook", { body: registerBody }));
    expect(put.statusCode).toBe(200);
    expect(put.body).toBe("");
    const index = Number(put.headers["x-nomad-index"]);
    expect(index).toBeGreaterThan(0);

    // Nomad's documented GET response: its fields first, in its order, with its values;
    // then ours (delivery state), which Nomad's Go client ignores.
    const ourFields = { Enabled: true, DisabledReason: "", DisabledAt: null, Team: "", Namespaces: ["*"] };
    const documented = { ...JSON.parse(fixture("sinks-9226_get-response.json")), ...ourFields };
    const get = await api(httpApiEvent("GET", "/v1/event/sink/webhook"));
    expect(get.statusCode).toBe(200);
    expect(get.headers["content-type"]).toBe("application/json");
    const got = JSON.parse(get.body ?? "");
    expect(Object.keys(got)).toEqual(Object.keys(documented));
    expect(got).toEqual({ ...documented, ID: "webhook", CreateIndex: index, ModifyIndex: index });

    // POST works like PUT (Nomad accepted both); the list shape is the documented one.
    const listed = JSON.parse(fixture("sinks-9226_list-response.json")) as Array<Record<string, unknown>>;
    const second = listed[1]!;
    const post = await api(httpApiEvent("POST", `/v1/event/sink/${String(second.ID)}`, { body: { ID: second.ID, Type: second.Type, Topics: second.Topics, Address: second.Address } }));
    expect(post.statusCode).toBe(200);
    const list = await api(httpApiEvent("GET", "/v1/event/sinks"));
    expect(list.statusCode).toBe(200);
    expect(list.headers["x-nomad-index"]).toBe(post.headers["x-nomad-index"]);
    expect(list.headers["x-nomad-knownleader"]).toBe("true");
    const ours = JSON.parse(list.body ?? "") as Array<Record<string, unknown>>;
    // Sorted by ID, as Nomad's Go client sorts.
    expect(ours.map((s) => s.ID)).toEqual(["deployment-webhook", "webhook"]);
    const indexOf: Record<string, number> = { webhook: index, "deployment-webhook": Number(post.headers["x-nomad-index"]) };
    for (const sink of ours) {
      const expected = { ...listed.find((l) => l.ID === sink.ID)!, ...ourFields };
      expect(Object.keys(sink)).toEqual(Object.keys(expected));
      const at = indexOf[String(sink.ID)];
      expect(sink).toEqual({ ...expected, CreateIndex: at, ModifyIndex: at });
    }
  });

  it("rejects the beta CLI's invalid help example with a 400 that explains the JSON error", async () => {
    const { api, store } = await newSinksApi();
    const response = await api(httpApiEvent("PUT", "/v1/event/sink/my-sink", { body: fixture("sinks-9226_cli-help-example.NOT-VALID-JSON.txt") }));
    expect(response.statusCode).toBe(400);
    expect(response.body).toMatch(/^Request body is not valid JSON: .*(Expected ',' or '}'|position \d+)/);
    expect((await store.list()).value).toEqual([]);
  });

  it("ignores server-managed fields in a registration, as the Go client sends them", async () => {
    const { api } = await newSinksApi();
    const body = { ID: "s", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] }, LatestIndex: 999, CreateIndex: 5, ModifyIndex: 5 };
    await api(httpApiEvent("PUT", "/v1/event/sink/s", { body }));
    const got = JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/s"))).body ?? "");
    expect(got.LatestIndex).toBe(0);
    expect(got.CreateIndex).toBe(1);
  });

  it("answers 404 'event sink not found' for a missing sink", async () => {
    const { api } = await newSinksApi();
    const response = await api(httpApiEvent("GET", "/v1/event/sink/missing"));
    expect(response.statusCode).toBe(404);
    expect(response.body).toBe("event sink not found");
  });

  it("rejects a body whose ID does not match the path, with Nomad's message and both IDs", async () => {
    const { api, store } = await newSinksApi();
    const response = await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "b", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] } } }));
    expect(response.statusCode).toBe(400);
    expect(response.body).toBe('Event sink name does not match request path: the body has ID "b", the path "a"');
    expect((await store.list()).value).toEqual([]);
  });

  it("answers 400 with the field-level message for an invalid sink (Nomad answered 500)", async () => {
    const { api } = await newSinksApi();
    const response = await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "kafka", Address: "https://example.com/", Topics: { Jobs: ["*"] } } }));
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('Type: must be "webhook"; received "kafka"');
    expect(response.body).toContain("Topics.Jobs: unknown topic");
  });

  it("answers 400 'Request body is empty' for an empty body", async () => {
    const { api } = await newSinksApi();
    const response = await api(httpApiEvent("PUT", "/v1/event/sink/a"));
    expect([response.statusCode, response.body]).toEqual([400, "Request body is empty"]);
  });

  it("deletes with 200 and an empty body, also when the sink is missing", async () => {
    const { api } = await newSinksApi();
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] } } }));
    for (let i = 0; i < 2; i++) {
      const response = await api(httpApiEvent("DELETE", "/v1/event/sink/a"));
      expect([response.statusCode, response.body]).toEqual([200, ""]);
      expect(Number(response.headers["x-nomad-index"])).toBeGreaterThan(1);
    }
    expect((await api(httpApiEvent("GET", "/v1/event/sink/a"))).statusCode).toBe(404);
  });

  it.each([
    ["POST", "/v1/event/sinks"],
    ["DELETE", "/v1/event/sinks"],
    ["PATCH", "/v1/event/sink/a"],
    ["HEAD", "/v1/event/sink/a"],
    ["PUT", "/v1/event/sink/a/secret"],
    ["GET", "/v1/event/sink/a/secret/rotate"],
  ])("answers 405 'Invalid method' to %s %s", async (method, path) => {
    const { api } = await newSinksApi();
    const response = await api(httpApiEvent(method, path, { anonymous: true }));
    expect([response.statusCode, response.body]).toEqual([405, "Invalid method"]);
  });

  it("answers 404 for a path that is not an endpoint, and 400 for a missing ID", async () => {
    const { api } = await newSinksApi();
    expect((await api(httpApiEvent("GET", "/v1/event/sinkz"))).statusCode).toBe(404);
    const missing = await api(httpApiEvent("GET", "/v1/event/sink/"));
    expect([missing.statusCode, missing.body]).toEqual([400, "Missing event sink ID in the path"]);
  });

  it("indents JSON with ?pretty, as Nomad does", async () => {
    const { api } = await newSinksApi();
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] } } }));
    const pretty = await api(httpApiEvent("GET", "/v1/event/sink/a?pretty"));
    expect(pretty.body).toMatch(/^\{\n {4}"ID": "a",\n/);
    const compact = await api(httpApiEvent("GET", "/v1/event/sink/a"));
    expect(compact.body).toMatch(/^\{"ID":"a","Type"/);
  });

  it("refuses bodies over 64 KiB with 413 and stores nothing", async () => {
    const { api, store } = await newSinksApi();
    const body = JSON.stringify({ ID: "a", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["x".repeat(70_000)] } });
    const response = await api(httpApiEvent("PUT", "/v1/event/sink/a", { body }));
    expect(response.statusCode).toBe(413);
    expect(response.body).toContain(`${body.length} bytes, at most 65536`);
    expect((await store.list()).value).toEqual([]);
  });
});

describe("sinks API: authentication", () => {
  const cases: Array<[string, Record<string, string> | undefined, number]> = [
    ["no token", undefined, 403],
    ["a wrong X-Nomad-Token", { "X-Nomad-Token": "wrong" }, 403],
    ["the token with a suffix", { "X-Nomad-Token": `${TEST_TOKEN}x` }, 403],
    ["a prefix of the token", { "X-Nomad-Token": TEST_TOKEN.slice(0, 5) }, 403],
    ["a wrong bearer token", { Authorization: "Bearer wrong" }, 403],
    ["the token as Basic auth", { Authorization: `Basic ${TEST_TOKEN}` }, 403],
    ["X-Nomad-Token", { "X-Nomad-Token": TEST_TOKEN }, 200],
    ["X-Nomad-Token with spaces around it", { "X-Nomad-Token": `  ${TEST_TOKEN} ` }, 200],
    ["Authorization: Bearer", { Authorization: `Bearer ${TEST_TOKEN}` }, 200],
  ];
  it.each(cases)("%s → %i", async (_name, headers, status) => {
    const { api } = await newSinksApi();
    const response = await api(httpApiEvent("GET", "/v1/event/sinks", { anonymous: true, ...(headers ? { headers } : {}) }));
    expect(response.statusCode).toBe(status);
    if (status === 403) expect(response.body).toBe("Permission denied");
  });

  it("checks the token before looking at the body", async () => {
    const { api } = await newSinksApi();
    const response = await api(httpApiEvent("PUT", "/v1/event/sink/a", { anonymous: true, body: "{not json" }));
    expect([response.statusCode, response.body]).toEqual([403, "Permission denied"]);
  });
});

describe("sinks API: signing secrets", () => {
  const body = (extra: object = {}) => ({ ID: "a", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] }, ...extra });

  it("never shows a secret in GET or list, and shows it on the secret endpoint", async () => {
    const { api } = await newSinksApi();
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: body() }));
    const get = await api(httpApiEvent("GET", "/v1/event/sink/a"));
    const list = await api(httpApiEvent("GET", "/v1/event/sinks"));
    expect(get.body).not.toContain("whsec_");
    expect(list.body).not.toContain("whsec_");
    const secret = await api(httpApiEvent("GET", "/v1/event/sink/a/secret"));
    expect(secret.statusCode).toBe(200);
    expect(JSON.parse(secret.body ?? "")).toEqual({ ID: "a", Secret: expect.stringMatching(/^whsec_/), PreviousSecrets: [] });
  });

  it("keeps a secret given at registration, and keeps it across re-registrations without one", async () => {
    const { api } = await newSinksApi();
    const secret = generateSecret();
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: body({ Secret: secret }) }));
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: body({ Address: "https://other.example.com/" }) }));
    expect(JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/a/secret"))).body ?? "").Secret).toBe(secret);
  });

  it("rotates: a new secret, the previous one valid for 24 hours, then gone", async () => {
    let now = Date.parse("2026-11-21T10:00:00Z");
    const { api } = await newSinksApi({ now: () => now });
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: body() }));
    const before = JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/a/secret"))).body ?? "");
    const rotated = await api(httpApiEvent("POST", "/v1/event/sink/a/secret/rotate"));
    expect(rotated.statusCode).toBe(200);
    expect(Number(rotated.headers["x-nomad-index"])).toBeGreaterThan(1);
    const after = JSON.parse(rotated.body ?? "");
    expect(after.Secret).not.toBe(before.Secret);
    expect(after.PreviousSecrets).toEqual([{ Secret: before.Secret, ExpiresAt: new Date(now + PREVIOUS_SECRET_GRACE_MS).toISOString() }]);
    now += PREVIOUS_SECRET_GRACE_MS + 1;
    expect(JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/a/secret"))).body ?? "").PreviousSecrets).toEqual([]);
  });

  it("answers 404 when rotating or reading the secret of a missing sink", async () => {
    const { api } = await newSinksApi();
    expect((await api(httpApiEvent("POST", "/v1/event/sink/nope/secret/rotate"))).statusCode).toBe(404);
    expect((await api(httpApiEvent("GET", "/v1/event/sink/nope/secret"))).statusCode).toBe(404);
  });
});

describe("sinks API: concurrency", () => {
  it("two clients updating one sink concurrently: every update applied, indexes never backwards", async () => {
    const { api } = await newSinksApi();
    await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "webhook", Address: "https://start.example.com/", Topics: { Job: ["*"] } } }));
    const client = (name: string) =>
      (async () => {
        const seen: Array<{ index: number; address: string }> = [];
        for (let i = 0; i < 10; i++) {
          const address = `https://${name}-${i}.example.com/`;
          const response = await api(httpApiEvent("PUT", "/v1/event/sink/a", { body: { ID: "a", Type: "webhook", Address: address, Topics: { Job: ["*"] } } }));
          expect(response.statusCode).toBe(200);
          seen.push({ index: Number(response.headers["x-nomad-index"]), address });
        }
        return seen;
      })();
    const [a, b] = await Promise.all([client("a"), client("b")]);
    const all = [...a!, ...b!];
    // Each client's own writes got increasing indexes, and no two writes shared one.
    for (const seen of [a!, b!]) expect(seen.map((s) => s.index)).toEqual([...seen.map((s) => s.index)].sort((x, y) => x - y));
    expect(new Set(all.map((s) => s.index)).size).toBe(20);
    const last = all.reduce((x, y) => (x.index > y.index ? x : y));
    const final = JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/a"))).body ?? "");
    expect(final).toMatchObject({ Address: last.address, ModifyIndex: last.index });
  });
});
