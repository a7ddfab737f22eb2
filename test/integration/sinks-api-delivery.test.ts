import { afterEach, describe, expect, it } from "vitest";
import { deliveryMessage } from "../../shared/delivery/delivery-message";
import { DLQ_REASON_ATTRIBUTE } from "../../shared/delivery/sqs-delivery-queue";
import type { NomadBusDetail } from "../../shared/streamer/event-contract";
import { drainQueue } from "../support/delivery";
import { httpApiEvent } from "../support/http-api-event";
import { newSinksApi } from "../support/sinks";

type Api = Awaited<ReturnType<typeof newSinksApi>>;
const opened: Api[] = [];
afterEach(() => {
  for (const api of opened.splice(0)) api.sqs.destroy();
});

async function sinksApi(options: Parameters<typeof newSinksApi>[0] = {}) {
  const api = await newSinksApi(options);
  opened.push(api);
  return api;
}

const register = (id: string, address: string) => httpApiEvent("PUT", `/v1/event/sink/${id}`, { body: { ID: id, Type: "webhook", Address: address, Topics: { Job: ["*"] } } });

function detail(index: number): NomadBusDetail {
  return { id: `${index}-e`, cluster: "test", frameIndex: index, event: { Topic: "Job", Type: "JobRegistered", Key: `j${index}`, Namespace: "default", FilterKeys: null, Index: index, Payload: {} } };
}

describe("sinks API: webhook addresses that reach internal networks are refused", () => {
  it.each([
    ["http://127.0.0.1:8080/hook", /127\.0\.0\.1.*loopback/],
    ["http://0x7f.1/hook", /127\.0\.0\.1/],
    ["http://2130706433/hook", /127\.0\.0\.1/],
    ["http://169.254.169.254/latest/meta-data", /169\.254\.169\.254.*instance metadata/],
    ["http://169.254.170.2/v2/credentials", /169\.254\.170\.2/],
    ["http://[::1]/hook", /::1/],
    ["http://[::ffff:10.0.0.1]/hook", /10\.0\.0\.1/],
    ["http://10.1.2.3/hook", /private/],
    ["http://localhost:9000/hook", /127\.0\.0\.1|::1/],
    ["https://rebind.example.com/hook", /10\.0\.0\.7/],
  ])("%s → 400, nothing stored", async (address, reason) => {
    const { api, store } = await sinksApi({ dns: { "rebind.example.com": ["93.184.216.34", "10.0.0.7"] } });
    const response = await api(register("s", address));
    expect(response.statusCode).toBe(400);
    expect(response.body).toMatch(/^event sink Address ".*" is not allowed: webhook host/);
    expect(response.body).toMatch(reason);
    expect(response.body).toContain("WEBHOOK_ALLOWED_CIDRS");
    expect((await store.get("s")).value).toBeUndefined();
  });

  it("accepts public addresses, allowlisted internal ones, and names that do not resolve yet", async () => {
    const { api } = await sinksApi({ allowedCidrs: ["10.0.0.0/8"], dns: { "nxdomain.example": [] } });
    expect((await api(register("a", "https://hooks.example.com/nomad"))).statusCode).toBe(200);
    expect((await api(register("b", "http://10.1.2.3/hook"))).statusCode).toBe(200);
    expect((await api(register("c", "http://[2606:4700:4700::1111]/hook"))).statusCode).toBe(200);
    expect((await api(register("d", "https://nxdomain.example/hook"))).statusCode).toBe(200);
  });
});

describe("sinks API: delivery state, attempts and redrive", () => {
  it("shows a disabled sink's state and reason; re-registering enables it again", async () => {
    const { api, store } = await sinksApi();
    await api(register("s", "https://hooks.example.com/nomad"));
    await store.disable("s", "the webhook answered 410 Gone", Date.parse("2026-11-21T10:00:00Z"));
    const disabled = JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/s"))).body ?? "");
    expect(disabled).toMatchObject({ ID: "s", Enabled: false, DisabledReason: "the webhook answered 410 Gone", DisabledAt: "2026-11-21T10:00:00.000Z" });
    const redrive = await api(httpApiEvent("POST", "/v1/event/sink/s/redrive"));
    expect(redrive.statusCode).toBe(409);
    expect(redrive.body).toMatch(/is disabled \(the webhook answered 410 Gone\); re-register it/);
    await api(register("s", "https://hooks.example.com/nomad"));
    expect(JSON.parse((await api(httpApiEvent("GET", "/v1/event/sink/s"))).body ?? "")).toMatchObject({ Enabled: true, DisabledReason: "", DisabledAt: null });
  });

  it("lists attempts newest first, page by page with X-Nomad-NextToken", async () => {
    const { api, deliveries } = await sinksApi();
    await api(register("s", "https://hooks.example.com/nomad"));
    for (let n = 1; n <= 5; n++) {
      await deliveries.recordAll([{ SinkID: "s", DeliveryID: `msg_${n}`, Attempt: 1, Outcome: n === 5 ? "retrying" : "delivered", StatusCode: n === 5 ? 503 : 200, LatencyMs: 10 * n, Error: n === 5 ? "HTTP 503" : "", Events: 1, FirstIndex: n, LastIndex: n, At: 1_000 * n, ...(n === 5 ? { NextAttemptAt: 9_000 } : {}) }]);
    }
    const first = await api(httpApiEvent("GET", "/v1/event/sink/s/deliveries?per_page=2"));
    expect(first.statusCode).toBe(200);
    const page1 = JSON.parse(first.body ?? "");
    expect(page1.map((a: { DeliveryID: string }) => a.DeliveryID)).toEqual(["msg_5", "msg_4"]);
    expect(page1[0]).toEqual({ DeliveryID: "msg_5", Attempt: 1, Outcome: "retrying", StatusCode: 503, LatencyMs: 50, Error: "HTTP 503", Events: 1, FirstIndex: 5, LastIndex: 5, At: new Date(5_000).toISOString(), NextAttemptAt: new Date(9_000).toISOString() });
    const token = first.headers["x-nomad-nexttoken"];
    expect(token).toBeTruthy();
    const rest = await api(httpApiEvent("GET", `/v1/event/sink/s/deliveries?per_page=10&next_token=${token!}`));
    expect(JSON.parse(rest.body ?? "").map((a: { DeliveryID: string }) => a.DeliveryID)).toEqual(["msg_3", "msg_2", "msg_1"]);
    expect(rest.headers["x-nomad-nexttoken"]).toBeUndefined();

    expect((await api(httpApiEvent("GET", "/v1/event/sink/s/deliveries?per_page=0"))).body).toBe('per_page must be a whole number from 1 to 500, but "0" was given');
    const badToken = await api(httpApiEvent("GET", "/v1/event/sink/s/deliveries?next_token=nope"));
    expect(badToken.statusCode).toBe(400);
    expect(badToken.body).toMatch(/next_token "nope" is not a token this API gave out/);
    expect((await api(httpApiEvent("GET", "/v1/event/sink/missing/deliveries"))).statusCode).toBe(404);
  });

  it("redrives one sink's dead-lettered deliveries back to the delivery queue, in order, leaving other sinks' alone", async () => {
    const { api, queue, queues, sqs } = await sinksApi();
    await api(register("s", "https://hooks.example.com/nomad"));
    await api(register("other", "https://hooks.example.com/other"));
    const dead = (sinkId: string, index: number) => {
      const message = deliveryMessage(sinkId, detail(index));
      return { messageId: `${sinkId}-${index}`, receiptHandle: "", groupId: sinkId, body: JSON.stringify(message), sentAt: 0, receiveCount: 1 };
    };
    for (let i = 1; i <= 12; i++) await queue.deadLetter(dead("s", i), "HTTP 500 past the horizon", 9);
    for (let i = 1; i <= 3; i++) await queue.deadLetter(dead("other", i), "HTTP 500", 2);

    const response = await api(httpApiEvent("POST", "/v1/event/sink/s/redrive"));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? "")).toEqual({ Redriven: 12 });

    const back = await drainQueue(sqs, queues.queueUrl);
    expect(back.map((m) => m.groupId)).toEqual(Array(12).fill("s"));
    expect(back.map((m) => JSON.parse(m.body).detail.frameIndex)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(back.every((m) => JSON.parse(m.body).redriven === true)).toBe(true);
    const left = await drainQueue(sqs, queues.dlqUrl);
    expect(left.map((m) => [m.groupId, JSON.parse(m.body).detail.frameIndex, m.attributes[DLQ_REASON_ATTRIBUTE]])).toEqual([
      ["other", 1, "HTTP 500"],
      ["other", 2, "HTTP 500"],
      ["other", 3, "HTTP 500"],
    ]);
    expect(JSON.parse((await api(httpApiEvent("POST", "/v1/event/sink/s/redrive"))).body ?? "")).toEqual({ Redriven: 0 });
    expect((await api(httpApiEvent("POST", "/v1/event/sink/missing/redrive"))).statusCode).toBe(404);
  });
});
