import { apiCall } from "../support/api-call";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port";
import { startSimulatedCluster } from "../../infra/local/nomad/simulated-cluster";
import type { NomadEvent } from "../../shared/nomad/event";
import { generateSecret } from "../../shared/sinks/secret";
import { startRuntimeProcess } from "../support/local-runtime-process";
import { until } from "../support/until";
import { startWebhookReceiver, verifiedBodies } from "../support/webhook-receiver";
import { eventIdentity as identity } from "../support/event-identity";

/**
 * Replay for audit, end to end through `npm start`'s entry: events of a past window are
 * read back from the local bus's archive (EventBridge's archive and replay in AWS), sent
 * through the ingest rule marked with the replay, and delivered to the one sink named,
 * marked as a replay, under their original IDs.
 */
const TOKEN = "e2e-replay-management-token";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Delivery {
  readonly webhookId: string;
  readonly replay: string | undefined;
  readonly events: NomadEvent[];
}


describe("replay end to end: a past window, to one sink only", () => {
  it("delivers the window's archived events again to the named sink only, marked as a replay, with their original IDs", async () => {
    const cluster = await startSimulatedCluster({ eventsPerSecond: 0, heartbeatMs: 1_000, bufferSize: 100_000, emittedHistory: 1_000_000, seed: 31 });
    cleanups.push(() => cluster.stop());
    const dataDir = mkdtempSync(join(tmpdir(), "nes-e2e-replay-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    // One event per POST, so each delivery's webhook-id is its event's own (msg_ + a hash of sink and event ID).
    const runtime = startRuntimeProcess({ NOMAD_ADDR: cluster.url, PORT: String(port), LOCAL_DATA_DIR: dataDir, SINKS_MANAGEMENT_TOKEN: TOKEN, COUNTERS_INTERVAL_SECONDS: "0", DELIVERY_MAX_EVENTS_PER_REQUEST: "1" });
    cleanups.push(() => runtime.stop("SIGTERM"));
    await runtime.waitFor(/nomad-event-sinks is running locally/, 90_000);
    const api = `http://127.0.0.1:${port}`;
    const call = async (method: "GET" | "PUT" | "POST", path: string, body?: unknown) => (await apiCall(api, TOKEN, method, path, body)) as Record<string, unknown>;

    const sinks = await Promise.all(
      ["audit", "other"].map(async (id) => {
        const receiver = await startWebhookReceiver(() => ({ status: 204 }));
        cleanups.push(() => receiver.close());
        const secret = generateSecret();
        await call("PUT", `/v1/event/sink/${id}`, { ID: id, Type: "webhook", Address: receiver.url, Topics: { "*": ["*"] }, Secret: secret });
        const bodies = verifiedBodies<{ Events: NomadEvent[]; Replay?: string }>(receiver, secret);
        const deliveries = (): Delivery[] => bodies().map(({ webhookId, body }) => ({ webhookId, replay: body.Replay, events: body.Events }));
        return { id, receiver, deliveries };
      }),
    );
    const [audit, other] = sinks as [(typeof sinks)[number], (typeof sinks)[number]];

    // The window: whole seconds (the archive's event times are), with the burst inside it.
    const from = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    await new Promise((resolve) => setTimeout(resolve, from - Date.now()));
    const firstIndex = cluster.server.lastIndex;
    cluster.setRate(100);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    cluster.setRate(0);
    const lastIndex = cluster.server.lastIndex;
    const emitted = cluster.server
      .emitted()
      .filter((frame) => frame.Index > firstIndex && frame.Index <= lastIndex)
      .flatMap((frame) => frame.Events.map((e) => identity(e as NomadEvent)))
      .sort();
    expect(emitted.length).toBeGreaterThan(20);
    for (const sink of sinks) await until(() => sink.deliveries().flatMap((d) => d.events).length >= emitted.length, 60_000, `${sink.id}: first deliveries`);
    const to = Math.ceil(Date.now() / 1000) * 1000;
    await new Promise((resolve) => setTimeout(resolve, to - Date.now() + 10));
    const originals = audit.deliveries();
    expect(originals.every((d) => d.replay === undefined)).toBe(true);
    expect(originals.flatMap((d) => d.events).map(identity).sort()).toEqual(emitted);

    const started = await call("POST", "/v1/event/replay", { From: new Date(from).toISOString(), To: new Date(to).toISOString(), SinkID: "audit" });
    expect(started).toMatchObject({ SinkID: "audit", State: "running", From: new Date(from).toISOString() });
    const id = String(started.ID);
    await until(async () => (await call("GET", `/v1/event/replay/${id}`)).State === "completed", 60_000, "the replay to complete");
    const done = await call("GET", `/v1/event/replay/${id}`);
    expect(done.EventsReplayed).toBe(emitted.length);
    expect(done.Error).toBe("");

    const replayed = () => audit.deliveries().filter((d) => d.replay !== undefined);
    await until(() => replayed().length >= originals.length, 60_000, "the replayed deliveries");
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // anything extra would arrive now
    // Marked with the replay, the same events, under the same IDs as their first delivery.
    expect(replayed().every((d) => d.replay === id)).toBe(true);
    expect(replayed().flatMap((d) => d.events).map(identity).sort()).toEqual(emitted);
    expect(replayed().map((d) => d.webhookId).sort()).toEqual(originals.map((d) => d.webhookId).sort());
    // The other sink got nothing more.
    expect(other.deliveries().filter((d) => d.replay !== undefined)).toEqual([]);
    expect(other.deliveries().flatMap((d) => d.events).map(identity).sort()).toEqual(emitted);
    // It is listed, and its progress stays readable.
    const listed = (await apiCall(api, TOKEN, "GET", "/v1/event/replays")) as Array<{ ID: string; State: string }>;
    expect(listed.map((r) => [r.ID, r.State])).toEqual([[id, "completed"]]);
    expect(await runtime.stop("SIGINT")).toBe(0);
  }, 240_000);
});
