import { describe, expect, it } from "vitest";
import type { Replay } from "../../shared/replay/replay";
import type { Replayer } from "../../shared/replay/replayer";
import { httpApiEvent } from "../support/http-api-event";
import { newSinksApi } from "../support/sinks";

/**
 * The replay endpoints through the real API handler over DynamoDB Local. The replay engine
 * is EventBridge's (StartReplay/DescribeReplay, real AWS only), so it is stood in for by a
 * recorder; the local runtime's engine is tested end to end in test/e2e/replay.test.ts.
 */
function recordingReplayer(progress: Partial<Replay> = {}) {
  const started: Replay[] = [];
  const replayer: Replayer = {
    start: async (replay) => {
      started.push(replay);
    },
    progress: async () => ({ State: "running", ...progress }) as Awaited<ReturnType<Replayer["progress"]>>,
  };
  return { replayer, started };
}

const NOW = Date.parse("2026-11-21T12:00:00Z");
const window = { From: "2026-11-21T10:00:00Z", To: "2026-11-21T11:00:00Z" };

async function call(api: Awaited<ReturnType<typeof newSinksApi>>["api"], method: string, path: string, body?: object, token?: string) {
  const response = await api(httpApiEvent(method, path, { ...(body ? { body } : {}), ...(token ? { anonymous: true, headers: { "x-nomad-token": token } } : {}) }));
  return { status: response.statusCode, body: response.body ?? "" };
}

describe("replay API", () => {
  it("starts a replay for a window and a sink, records it, and reports the engine's progress, saving its end", async () => {
    const engine = recordingReplayer({ State: "completed", EventsReplayed: 42, EndedAt: NOW });
    const { api } = await newSinksApi({ replayer: engine.replayer, now: () => NOW });
    await call(api, "PUT", "/v1/event/sink/audit", { ID: "audit", Type: "webhook", Address: "https://example.com/", Topics: { "*": ["*"] } });
    const started = await call(api, "POST", "/v1/event/replay", { ...window, SinkID: "audit" });
    expect(started.status, started.body).toBe(200);
    const view = JSON.parse(started.body) as { ID: string };
    expect(view).toMatchObject({ SinkID: "audit", From: "2026-11-21T10:00:00.000Z", To: "2026-11-21T11:00:00.000Z", State: "running", EventsReplayed: null, Error: "" });
    expect(view.ID).toMatch(/^replay-[0-9a-f-]{36}$/);
    expect(engine.started).toMatchObject([{ ID: view.ID, SinkID: "audit", From: Date.parse(window.From), To: Date.parse(window.To) }]);
    const status = await call(api, "GET", `/v1/event/replay/${view.ID}`);
    expect(JSON.parse(status.body)).toMatchObject({ State: "completed", EventsReplayed: 42, EndedAt: new Date(NOW).toISOString() });
    // Saved as completed: listed so without asking the engine again.
    const listed = JSON.parse((await call(api, "GET", "/v1/event/replays")).body) as Array<{ ID: string; State: string }>;
    expect(listed).toMatchObject([{ ID: view.ID, State: "completed" }]);
  });

  it("says what is wrong with a request, and starts nothing", async () => {
    const engine = recordingReplayer();
    const { api } = await newSinksApi({ replayer: engine.replayer, now: () => NOW });
    const cases: Array<[object, number, RegExp]> = [
      [{ From: "yesterday", To: window.To }, 400, /^invalid replay: From: must be a time in RFC 3339 form/],
      [{ From: window.To, To: window.From }, 400, /From must be before To/],
      [{ From: window.From, To: "2026-11-21T13:00:00Z" }, 400, /To must not be in the future/],
      [{ ...window, Sink: "x" }, 400, /unknown field "Sink"/],
      [{ ...window, SinkID: "missing" }, 404, /^event sink not found$/],
    ];
    for (const [body, status, message] of cases) {
      const response = await call(api, "POST", "/v1/event/replay", body);
      expect([JSON.stringify(body), response.status]).toEqual([JSON.stringify(body), status]);
      expect(response.body).toMatch(message);
    }
    expect(engine.started).toEqual([]);
    expect((await call(api, "GET", "/v1/event/replay/replay-00000000-0000-0000-0000-000000000000")).status).toBe(404);
    expect((await call(api, "GET", "/v1/event/replay/nope")).status).toBe(400);
  });

  it("a team token replays only to its own sinks and sees only its team's replays", async () => {
    const engine = recordingReplayer();
    const { api } = await newSinksApi({ replayer: engine.replayer, now: () => NOW });
    const token = async (team: string) => (JSON.parse((await call(api, "POST", "/v1/acl/token", { Type: "team", Team: team, Namespaces: ["web"] })).body) as { SecretID: string }).SecretID;
    const [a, b] = [await token("a"), await token("b")];
    await call(api, "PUT", "/v1/event/sink/a-sink", { ID: "a-sink", Type: "webhook", Address: "https://example.com/", Topics: { Job: ["*"] } }, a);
    expect(await call(api, "POST", "/v1/event/replay", window, a)).toMatchObject({ status: 400, body: "a team token replays to one of its team's sinks: give SinkID" });
    expect(await call(api, "POST", "/v1/event/replay", { ...window, SinkID: "a-sink" }, b)).toMatchObject({ status: 404, body: "event sink not found" });
    const mine = await call(api, "POST", "/v1/event/replay", { ...window, SinkID: "a-sink" }, a);
    expect(mine.status).toBe(200);
    const id = (JSON.parse(mine.body) as { ID: string }).ID;
    expect((await call(api, "GET", `/v1/event/replay/${id}`, undefined, b)).status).toBe(404);
    expect(JSON.parse((await call(api, "GET", "/v1/event/replays", undefined, b)).body)).toEqual([]);
    expect((await call(api, "GET", `/v1/event/replay/${id}`, undefined, a)).status).toBe(200);
    expect(engine.started).toHaveLength(1);
  });

  it("answers 501 naming the variables when the deployment has no archive to replay", async () => {
    const { api } = await newSinksApi({ now: () => NOW });
    const response = await call(api, "POST", "/v1/event/replay", window);
    expect(response.status).toBe(501);
    expect(response.body).toMatch(/ARCHIVE_ARN, EVENT_BUS_ARN and INGEST_RULE_ARN/);
  });
});
