import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { httpApiEvent } from "../support/http-api-event";
import { newSinksApi } from "../support/sinks";

/** Team tokens and team-owned sinks through the real API handler over DynamoDB Local. */

type Api = Awaited<ReturnType<typeof newSinksApi>>["api"];

const sinkBody = (id: string, extra: object = {}) => ({ ID: id, Type: "webhook", Address: `https://example.com/${id}`, Topics: { Job: ["*"] }, ...extra });

async function call(api: Api, method: string, path: string, token: string | undefined, body?: object | string) {
  const response = await api(httpApiEvent(method, path, { ...(token !== undefined ? { anonymous: true, headers: { "x-nomad-token": token } } : {}), ...(body !== undefined ? { body } : {}) }));
  return { status: response.statusCode, body: response.body ?? "", json: () => JSON.parse(response.body ?? "null") };
}

/** Creates a token with the bootstrap (management) token; returns its secret and accessor. */
async function createToken(api: Api, spec: object, as?: string): Promise<{ secret: string; accessor: string; view: Record<string, unknown> }> {
  const created = await call(api, "POST", "/v1/acl/token", as, spec);
  expect(created.status, created.body).toBe(200);
  const view = created.json() as Record<string, unknown>;
  return { secret: String(view.SecretID), accessor: String(view.AccessorID), view };
}

async function twoTeams(options: { now?: () => number } = {}) {
  const env = await newSinksApi(options);
  const a = await createToken(env.api, { Name: "team a", Type: "team", Team: "a", Namespaces: ["web", "api"] });
  const b = await createToken(env.api, { Name: "team b", Type: "team", Team: "b", Namespaces: ["batch"] });
  return { ...env, a, b };
}

describe("ACL tokens: Nomad's token API for management and team tokens", () => {
  it("creates a team token, shows its secret once, and reads it back without the secret", async () => {
    const { api, a } = await twoTeams();
    expect(a.view).toMatchObject({ Name: "team a", Type: "team", Team: "a", Namespaces: ["web", "api"], ClusterTopics: false, Policies: null, Global: false, ExpirationTime: null });
    expect(a.secret).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.accessor).toMatch(/^[0-9a-f-]{36}$/);
    const read = await call(api, "GET", `/v1/acl/token/${a.accessor}`, undefined);
    expect(read.status).toBe(200);
    expect(read.json()).not.toHaveProperty("SecretID");
    expect(read.json()).toMatchObject({ AccessorID: a.accessor, Team: "a", CreateIndex: a.view.CreateIndex });
    const self = await call(api, "GET", "/v1/acl/token/self", a.secret);
    expect(self.json()).toMatchObject({ AccessorID: a.accessor, Type: "team", Team: "a" });
    expect(self.json()).not.toHaveProperty("SecretID");
    const bootstrapSelf = await call(api, "GET", "/v1/acl/token/self", undefined);
    expect(bootstrapSelf.json()).toMatchObject({ AccessorID: "bootstrap", Type: "management", Namespaces: ["*"] });
  });

  it("stores only a hash of each secret", async () => {
    const { client, tableName, a, b } = await twoTeams();
    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    const dump = JSON.stringify(Items);
    expect(Items.some((item) => item.pk?.S === `TOKEN#${a.accessor}`)).toBe(true);
    expect(dump).not.toContain(a.secret);
    expect(dump).not.toContain(b.secret);
  });

  it("lists every token for management and only its team's for a team token", async () => {
    const { api, a, b } = await twoTeams();
    const a2 = await createToken(api, { Name: "a ci", Type: "team", Namespaces: ["web"] }, a.secret);
    expect(a2.view.Team).toBe("a");
    const all = (await call(api, "GET", "/v1/acl/tokens", undefined)).json() as Array<{ AccessorID: string }>;
    expect(all.map((t) => t.AccessorID)).toEqual([a.accessor, b.accessor, a2.accessor]);
    expect(JSON.stringify(all)).not.toContain("SecretID");
    const seenByA = (await call(api, "GET", "/v1/acl/tokens", a.secret)).json() as Array<{ AccessorID: string }>;
    expect(seenByA.map((t) => t.AccessorID)).toEqual([a.accessor, a2.accessor]);
  });

  it("hides another team's tokens: read, update and delete answer 404", async () => {
    const { api, a, b } = await twoTeams();
    for (const [method, body] of [["GET", undefined], ["POST", { Name: "taken" }], ["DELETE", undefined]] as const) {
      const response = await call(api, method, `/v1/acl/token/${b.accessor}`, a.secret, body);
      expect([method, response.status, response.body]).toEqual([method, 404, "ACL token not found"]);
    }
    expect((await call(api, "GET", `/v1/acl/token/${b.accessor}`, undefined)).json()).toMatchObject({ Name: "team b", Namespaces: ["batch"] });
    // b's token still works: it was neither changed nor deleted.
    expect((await call(api, "GET", "/v1/acl/token/self", b.secret)).status).toBe(200);
  });

  it("refuses a team token that would create a management token, another team's token, or wider grants", async () => {
    const { api, a } = await twoTeams();
    const cases: Array<[object, RegExp]> = [
      [{ Type: "management" }, /^Permission denied: a team token cannot create a management token$/],
      [{ Type: "team", Team: "b", Namespaces: ["web"] }, /^Permission denied: a team token manages its own team's \("a"\) tokens only; received Team "b"$/],
      [{ Type: "team", Namespaces: ["web", "batch"] }, /^Permission denied: namespaces "batch" are outside this token's namespaces \("web", "api"\)$/],
      [{ Type: "team", Namespaces: ["web"], ClusterTopics: true }, /cannot grant them/],
    ];
    for (const [spec, message] of cases) {
      const response = await call(api, "POST", "/v1/acl/token", a.secret, spec);
      expect(response.status, JSON.stringify(spec)).toBe(403);
      expect(response.body).toMatch(message);
    }
    const mine = (await call(api, "GET", "/v1/acl/tokens", a.secret)).json() as unknown[];
    expect(mine).toHaveLength(1);
  });

  it("lets a team token narrow its own namespaces but never widen them", async () => {
    const { api, a } = await twoTeams();
    const widen = await call(api, "POST", `/v1/acl/token/${a.accessor}`, a.secret, { Namespaces: ["web", "api", "batch"] });
    expect([widen.status, widen.body]).toEqual([403, `Permission denied: namespaces "batch" are outside this token's namespaces ("web", "api")`]);
    const narrow = await call(api, "POST", `/v1/acl/token/${a.accessor}`, a.secret, { AccessorID: a.accessor, Namespaces: ["web"] });
    expect(narrow.status, narrow.body).toBe(200);
    expect(narrow.json()).toMatchObject({ Namespaces: ["web"], ModifyIndex: expect.any(Number) });
    expect((narrow.json() as { ModifyIndex: number }).ModifyIndex).toBeGreaterThan(Number(a.view.ModifyIndex));
    // Narrowed, it cannot take back what it gave up.
    const back = await call(api, "POST", `/v1/acl/token/${a.accessor}`, a.secret, { Namespaces: ["web", "api"] });
    expect(back.status).toBe(403);
    // Type and Team cannot change, even for management.
    const retype = await call(api, "POST", `/v1/acl/token/${a.accessor}`, undefined, { Type: "management", Team: "b" });
    expect(retype.status).toBe(400);
    expect(retype.body).toMatch(/^invalid ACL token: Type: cannot change .*; Team: cannot change/);
  });

  it("refuses an expired token at once, and a deleted one at once", async () => {
    let now = Date.parse("2026-11-21T10:00:00Z");
    const { api, a, b } = await twoTeams({ now: () => now });
    const short = await createToken(api, { Type: "team", Team: "a", Namespaces: ["web"], ExpirationTTL: "1m" });
    expect(short.view.ExpirationTime).toBe("2026-11-21T10:01:00.000Z");
    expect((await call(api, "GET", "/v1/event/sinks", short.secret)).status).toBe(200);
    now += 60_000;
    const expired = await call(api, "GET", "/v1/event/sinks", short.secret);
    expect([expired.status, expired.body]).toEqual([403, "Permission denied: ACL token expired"]);

    expect((await call(api, "DELETE", `/v1/acl/token/${b.accessor}`, undefined)).status).toBe(200);
    expect(await call(api, "GET", "/v1/event/sinks", b.secret)).toMatchObject({ status: 403, body: "Permission denied" });
    expect((await call(api, "GET", `/v1/acl/token/${b.accessor}`, undefined)).status).toBe(404);
    // A token may delete itself; then it is gone.
    expect((await call(api, "DELETE", `/v1/acl/token/${a.accessor}`, a.secret)).status).toBe(200);
    expect((await call(api, "GET", "/v1/acl/token/self", a.secret)).status).toBe(403);
  });

  it("a team token that expires grants only tokens that expire no later", async () => {
    let now = Date.parse("2026-11-21T10:00:00Z");
    const { api } = await newSinksApi({ now: () => now });
    const parent = await createToken(api, { Type: "team", Team: "a", Namespaces: ["web"], ExpirationTTL: "1h" });
    const forever = await call(api, "POST", "/v1/acl/token", parent.secret, { Type: "team", Namespaces: ["web"] });
    expect(forever.status).toBe(403);
    expect(forever.body).toMatch(/expires at 2026-11-21T11:00:00.000Z; a token it grants must expire no later/);
    const within = await call(api, "POST", "/v1/acl/token", parent.secret, { Type: "team", Namespaces: ["web"], ExpirationTTL: "30m" });
    expect(within.status).toBe(200);
  });

  it("a team token cannot keep a wider token of its team alive longer, but may shorten it or extend one within its own grants", async () => {
    let now = Date.parse("2026-11-21T10:00:00Z");
    const { api } = await newSinksApi({ now: () => now });
    const narrow = await createToken(api, { Type: "team", Team: "a", Namespaces: ["web"] });
    const wide = await createToken(api, { Type: "team", Team: "a", Namespaces: ["web", "batch"], ClusterTopics: true, ExpirationTTL: "1h" });
    for (const body of [{ ExpirationTime: null }, { ExpirationTTL: "72h" }]) {
      const response = await call(api, "POST", `/v1/acl/token/${wide.accessor}`, narrow.secret, body);
      expect([JSON.stringify(body), response.status]).toEqual([JSON.stringify(body), 403]);
      expect(response.body).toMatch(/may extend the expiry only of tokens whose grants it holds itself/);
    }
    const shorter = await call(api, "POST", `/v1/acl/token/${wide.accessor}`, narrow.secret, { ExpirationTTL: "10m" });
    expect(shorter.status, shorter.body).toBe(200);
    const peer = await createToken(api, { Type: "team", Team: "a", Namespaces: ["web"], ExpirationTTL: "1h" });
    expect((await call(api, "POST", `/v1/acl/token/${peer.accessor}`, narrow.secret, { ExpirationTime: null })).status).toBe(200);
    now += 2 * 3_600_000;
    expect((await call(api, "GET", "/v1/acl/token/self", peer.secret)).status).toBe(200);
    expect((await call(api, "GET", "/v1/acl/token/self", wide.secret)).status).toBe(403);
  });

  it("a stored management token manages everything, and the bootstrap token keeps working", async () => {
    const { api, a } = await twoTeams();
    const admin = await createToken(api, { Name: "ops", Type: "management" });
    expect(admin.view).toMatchObject({ Type: "management", Team: "", Namespaces: ["*"], ClusterTopics: true });
    const viaAdmin = await createToken(api, { Type: "team", Team: "c", Namespaces: ["default"] }, admin.secret);
    expect(viaAdmin.view.Team).toBe("c");
    expect((await call(api, "GET", `/v1/acl/token/${a.accessor}`, admin.secret)).status).toBe(200);
    expect((await call(api, "GET", "/v1/acl/tokens", undefined)).json()).toHaveLength(4);
  });

  it("says what is wrong with a token body, field by field", async () => {
    const { api } = await newSinksApi();
    const cases: Array<[object | string, RegExp]> = [
      [{}, /^invalid ACL token: Type: required/],
      [{ Type: "client" }, /^invalid ACL token: Type: must be "management" or "team"; received "client"/],
      [{ Type: "team" }, /Team: required for a team token; received nothing; Namespaces: required for a team token/],
      [{ Type: "team", Team: "a", Namespaces: ["*"] }, /Namespaces: "\*" is for management tokens only/],
      [{ Type: "team", Team: "a", Namespaces: ["no spaces"] }, /Namespaces\[0\]: must be a Nomad namespace name .*; received "no spaces"/],
      [{ Type: "team", Team: "a", Namespaces: ["web"], ExpirationTTL: "soon" }, /ExpirationTTL: must be a positive duration .*; received "soon"/],
      [{ Type: "team", Team: "a", Namespaces: ["web"], ExpirationTTL: "1h", ExpirationTime: "2099-01-01T00:00:00Z" }, /give one or the other, not both/],
      [{ Type: "team", Team: "a", Namespaces: ["web"], ExpirationTime: "2001-01-01T00:00:00Z" }, /ExpirationTime: must be in the future; received "2001-01-01T00:00:00Z"/],
      [{ Type: "team", Team: "a", Namespaces: ["web"], Policies: ["readonly"] }, /Policies: ACL policies are not supported here/],
      [{ Type: "management", Team: "a" }, /Team: a management token belongs to no team; received "a"/],
      [{ Type: "team", Team: "a", Namespaces: ["web"], Colour: "red" }, /unknown field "Colour"/],
      ["{not json", /^Request body is not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const response = await call(api, "POST", "/v1/acl/token", undefined, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body).toMatch(message);
    }
    expect((await call(api, "GET", "/v1/acl/tokens", undefined)).json()).toEqual([]);
  });

  it("answers 404 for an unknown accessor and 400 for a malformed one", async () => {
    const { api } = await newSinksApi();
    expect(await call(api, "GET", "/v1/acl/token/00000000-0000-0000-0000-000000000000", undefined)).toMatchObject({ status: 404, body: "ACL token not found" });
    expect(await call(api, "DELETE", "/v1/acl/token/00000000-0000-0000-0000-000000000000", undefined)).toMatchObject({ status: 404 });
    const bad = await call(api, "GET", `/v1/acl/token/${encodeURIComponent("a b")}`, undefined);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/accessor ID in the path: must be a token's AccessorID/);
  });
});

describe("team-owned sinks", () => {
  it("a team token's sink belongs to its team; the other team cannot list, read, change or delete it", async () => {
    const { api, store, a, b } = await twoTeams();
    expect((await call(api, "PUT", "/v1/event/sink/a1", a.secret, sinkBody("a1"))).status).toBe(200);
    expect((await call(api, "PUT", "/v1/event/sink/b1", b.secret, sinkBody("b1", { Namespaces: ["batch"] }))).status).toBe(200);
    expect((await call(api, "PUT", "/v1/event/sink/m1", undefined, sinkBody("m1"))).status).toBe(200);

    expect(((await call(api, "GET", "/v1/event/sinks", a.secret)).json() as Array<{ ID: string }>).map((s) => s.ID)).toEqual(["a1"]);
    expect(((await call(api, "GET", "/v1/event/sinks", b.secret)).json() as Array<{ ID: string }>).map((s) => s.ID)).toEqual(["b1"]);
    expect(((await call(api, "GET", "/v1/event/sinks", undefined)).json() as Array<{ ID: string; Team: string }>).map((s) => [s.ID, s.Team])).toEqual([
      ["a1", "a"],
      ["b1", "b"],
      ["m1", ""],
    ]);
    expect((await call(api, "GET", "/v1/event/sink/a1", a.secret)).json()).toMatchObject({ Team: "a", Namespaces: ["*"] });

    const before = await store.find("a1");
    for (const [method, path, body] of [
      ["GET", "/v1/event/sink/a1", undefined],
      ["PUT", "/v1/event/sink/a1", sinkBody("a1", { Address: "https://evil.example/" })],
      ["POST", "/v1/event/sink/a1", sinkBody("a1", { Address: "https://evil.example/" })],
      ["DELETE", "/v1/event/sink/a1", undefined],
      ["GET", "/v1/event/sink/a1/secret", undefined],
      ["POST", "/v1/event/sink/a1/secret/rotate", undefined],
      ["GET", "/v1/event/sink/a1/deliveries", undefined],
      ["POST", "/v1/event/sink/a1/redrive", undefined],
      ["GET", "/v1/event/sink/m1", undefined],
      ["DELETE", "/v1/event/sink/m1", undefined],
    ] as const) {
      const response = await call(api, method, path, b.secret, body);
      expect([method, path, response.status, response.body]).toEqual([method, path, 404, "event sink not found"]);
    }
    // Nothing changed: same configuration, same secret, same index.
    expect(await store.find("a1")).toEqual(before);
    expect(await store.find("m1")).toBeDefined();
    // The owner still manages it.
    expect((await call(api, "GET", "/v1/event/sink/a1/secret", a.secret)).status).toBe(200);
    expect((await call(api, "DELETE", "/v1/event/sink/a1", a.secret)).status).toBe(200);
    expect(await store.find("a1")).toBeUndefined();
  });

  it("a team deleting a sink it cannot see gets 404, whether it is missing or another team's", async () => {
    const { api, a } = await twoTeams();
    expect(await call(api, "DELETE", "/v1/event/sink/nothing-here", a.secret)).toMatchObject({ status: 404, body: "event sink not found" });
    // Management keeps Nomad's answer: deleting a missing sink succeeds.
    expect((await call(api, "DELETE", "/v1/event/sink/nothing-here", undefined)).status).toBe(200);
  });

  it("refuses a team sink with ACL topics, cluster topics it may not have, namespaces outside its token, or another team", async () => {
    const { api, store, a } = await twoTeams();
    const cases: Array<[object, RegExp]> = [
      [{ Topics: { ACLToken: ["*"] } }, /^Permission denied: the topics ACLToken need a management token$/],
      [{ Topics: { Job: ["*"], ACLPolicy: ["*"] } }, /ACLPolicy need a management token/],
      [{ Topics: { Node: ["*"] } }, /^Permission denied: the topics Node are cluster-wide; this token does not allow them \(ClusterTopics is false\)$/],
      [{ Topics: { Operator: ["*"], CSIPlugin: ["*"] } }, /^Permission denied: the topics Operator, CSIPlugin are cluster-wide; a team's sink receives only Node and NodePool of those/],
      [{ Namespaces: ["web", "batch"] }, /^Permission denied: namespaces "batch" are outside this token's namespaces \("web", "api"\)$/],
      [{ Team: "b" }, /^Permission denied: a team token registers sinks for its own team \("a"\) only; received Team "b"$/],
      // Every reason at once, so one correction is enough.
      [
        { Topics: { Node: ["*"], ACLToken: ["*"] }, Namespaces: ["batch"] },
        /^Permission denied: the topics ACLToken need a management token; the topics Node are cluster-wide; this token does not allow them \(ClusterTopics is false\); namespaces "batch" are outside this token's namespaces \("web", "api"\)$/,
      ],
    ];
    for (const [extra, message] of cases) {
      const response = await call(api, "PUT", "/v1/event/sink/s", a.secret, sinkBody("s", extra));
      expect(response.status, JSON.stringify(extra)).toBe(403);
      expect(response.body).toMatch(message);
    }
    expect(await store.find("s")).toBeUndefined();
    // Node is allowed with ClusterTopics; "*" topics are allowed (the fan-out keeps ACL events away).
    const ops = await createToken(api, { Type: "team", Team: "ops", Namespaces: ["default"], ClusterTopics: true });
    expect((await call(api, "PUT", "/v1/event/sink/ops", ops.secret, sinkBody("ops", { Topics: { Node: ["*"], NodePool: ["*"] } }))).status).toBe(200);
    expect((await call(api, "PUT", "/v1/event/sink/all", a.secret, sinkBody("all", { Topics: { "*": ["*"] }, Namespaces: ["web"] }))).status).toBe(200);
    expect(await store.find("all")).toMatchObject({ Team: "a", Namespaces: ["web"] });
  });

  it("management can give a sink to a team and take it back; re-registering keeps the owner", async () => {
    const { api, store, a } = await twoTeams();
    await call(api, "PUT", "/v1/event/sink/s", undefined, sinkBody("s", { Team: "a" }));
    expect((await store.find("s"))?.Team).toBe("a");
    expect((await call(api, "GET", "/v1/event/sink/s", a.secret)).status).toBe(200);
    await call(api, "PUT", "/v1/event/sink/s", a.secret, sinkBody("s", { Namespaces: ["api"] }));
    expect(await store.find("s")).toMatchObject({ Team: "a", Namespaces: ["api"] });
    await call(api, "PUT", "/v1/event/sink/s", undefined, sinkBody("s"));
    expect(await store.find("s")).toMatchObject({ Team: "a" });
    expect((await store.find("s"))?.Namespaces).toBeUndefined();
    await call(api, "PUT", "/v1/event/sink/s", undefined, sinkBody("s", { Team: "" }));
    expect((await store.find("s"))?.Team).toBeUndefined();
    expect((await call(api, "GET", "/v1/event/sink/s", a.secret)).status).toBe(404);
  });
});
