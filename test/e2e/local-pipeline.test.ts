import { apiCall } from "../support/api-call";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startSimulatedCluster, type SimulatedCluster } from "../../infra/local/nomad/simulated-cluster";
import type { NomadEvent } from "../../shared/nomad/event";
import { matchesTopics, type TopicFilter } from "../../shared/nomad/topic-filter";
import { generateSecret } from "../../shared/sinks/secret";
import { startRuntimeProcess, type RuntimeProcess } from "../support/local-runtime-process";
import { until } from "../support/until";
import { startWebhookReceiver, verifiedBodies } from "../support/webhook-receiver";
import { eventIdentity as identity } from "../support/event-identity";

/**
 * End to end through `npm start`'s entry as its own process: the streamer, the local
 * EventBridge and its rule, fauxqs, the fanout and deliver pollers and the sinks API, over
 * DynamoDB Local. Only AWS itself is absent (its stand-ins are listed in ARCHITECTURE.md).
 * Nomad is the runtime's built-in simulated cluster, or one this test runs (as a real Nomad
 * would keep running while the runtime restarts) so the test knows every event it emitted.
 */
const TOKEN = "e2e-management-token";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Delivery {
  readonly webhookId: string;
  readonly index: number;
  readonly events: NomadEvent[];
}

async function setup(env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "nes-e2e-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const runtimeEnv = { PORT: String(port), LOCAL_DATA_DIR: dataDir, SINKS_MANAGEMENT_TOKEN: TOKEN, COUNTERS_INTERVAL_SECONDS: "1", SINK_CACHE_SECONDS: "0", ...env };
  const api = `http://127.0.0.1:${port}`;
  const receiver = await startWebhookReceiver(() => ({ status: 204 }));
  cleanups.push(() => receiver.close());
  let runtime: RuntimeProcess | undefined;
  const start = async () => {
    runtime = startRuntimeProcess(runtimeEnv);
    const current = runtime;
    cleanups.push(() => current.stop("SIGTERM"));
    await current.waitFor(/nomad-event-sinks is running locally/, 90_000);
    return current;
  };
  const call = async (method: "GET" | "PUT", path: string, body?: unknown) => (await apiCall(api, TOKEN, method, path, body)) as Record<string, unknown>;
  const secret = generateSecret();
  const registerSink = (id: string, topics: TopicFilter) => call("PUT", `/v1/event/sink/${id}`, { ID: id, Type: "webhook", Address: receiver.url, Topics: topics, Secret: secret });
  /** Every request answered with 2xx, its signature verified by the official Standard Webhooks library (each once: the tests poll this). */
  const bodies = verifiedBodies<{ Index: number; Events: NomadEvent[] }>(receiver, secret);
  const deliveries = (): Delivery[] => bodies().map(({ webhookId, body }) => ({ webhookId, index: body.Index, events: body.Events }));
  return { start, call, registerSink, deliveries, receiver, secret, runtime: () => runtime! };
}

/** Events emitted above `afterIndex` that a sink with `topics` must receive, sorted. */
function expectedEvents(cluster: SimulatedCluster, topics: TopicFilter, afterIndex: number): string[] {
  return cluster.server
    .emitted()
    .filter((frame) => frame.Index > afterIndex)
    .flatMap((frame) => frame.Events.filter((event) => matchesTopics(topics, event)).map(identity))
    .sort();
}

/** What was received above `afterIndex`, sorted: EventBridge and the ingest queue do not keep order across calls, the FIFO queue keeps it from the fan-out on. */
function receivedEvents(deliveries: readonly Delivery[], afterIndex: number): string[] {
  return deliveries
    .flatMap((d) => d.events)
    .filter((event) => event.Index > afterIndex)
    .map(identity)
    .sort();
}


describe("the local runtime, end to end", () => {
  it("delivers the simulated cluster's events to a registered sink, signed, and advances its LatestIndex", async () => {
    const t = await setup({ SIMULATED_EVENTS_PER_SECOND: "50" });
    const runtime = await t.start();
    expect(runtime.output()).toMatch(/Events from\s+simulated cluster at http:\/\/127\.0\.0\.1:\d+, 50 events\/s/);
    await t.registerSink("everything", { "*": ["*"] });
    await until(() => t.receiver.received.length >= 5, 60_000, "five deliveries");
    const first = (await t.call("GET", "/v1/event/sink/everything")).LatestIndex as number;
    await until(() => t.receiver.received.length >= 15, 60_000, "fifteen deliveries");
    await until(async () => ((await t.call("GET", "/v1/event/sink/everything")).LatestIndex as number) > first, 30_000, "LatestIndex to advance");

    const deliveries = t.deliveries(); // throws if any signature does not verify
    const topics = new Set(deliveries.flatMap((d) => d.events.map((e) => e.Topic)));
    expect([...topics].sort()).toEqual(expect.arrayContaining(["Allocation", "Evaluation", "Job"]));
    for (const d of deliveries) {
      expect(d.webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(d.index).toBe(Math.max(...d.events.map((e) => e.Index)));
    }
    expect(first).toBeGreaterThan(0);
    await until(() => /delivered [1-9]\d*/.test(runtime.output()), 15_000, "the counters to show deliveries");
    expect(await runtime.stop("SIGINT")).toBe(0);
  }, 180_000);

  it("a sink with topic and key filters receives exactly the matching events", async () => {
    const cluster = await startSimulatedCluster({ eventsPerSecond: 0, heartbeatMs: 1_000, bufferSize: 10_000, emittedHistory: 1_000_000, seed: 7 });
    cleanups.push(() => cluster.stop());
    const t = await setup({ NOMAD_ADDR: cluster.url });
    const runtime = await t.start();
    expect(runtime.output()).toContain(`Events from       Nomad at ${cluster.url}`);
    const topics: TopicFilter = { Job: ["payments"], Allocation: ["payments"], Deployment: ["*"], Node: ["*"] };
    await t.registerSink("filtered", topics);
    const from = cluster.server.lastIndex;

    const factory = createEventFactory();
    cluster.setRate(200);
    for (const namespace of ["default", "web"]) {
      cluster.server.publish(factory.jobRegistered({ jobId: "payments", namespace }));
      cluster.server.publish(factory.planResult({ jobId: "payments", namespace, allocations: 2 }));
      cluster.server.publish(factory.allocationUpdated({ allocId: `a-${namespace}`, jobId: "payments", namespace }));
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    cluster.setRate(0);
    const expected = expectedEvents(cluster, topics, from);
    expect(expected.length).toBeGreaterThan(10);
    await until(() => receivedEvents(t.deliveries(), from).length >= expected.length, 60_000, `${expected.length} matching events`);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // anything extra would arrive now
    expect(receivedEvents(t.deliveries(), from)).toEqual(expected);
    expect(receivedEvents(t.deliveries(), 0)).toEqual(expected);
    expect(await runtime.stop("SIGINT")).toBe(0);
  }, 180_000);

  it("stopped with Ctrl-C mid-flow and started again, loses no event and delivers none twice", async () => {
    // A Nomad that keeps running while the runtime restarts, with a buffer that outlasts the restart.
    const cluster = await startSimulatedCluster({ eventsPerSecond: 100, heartbeatMs: 1_000, bufferSize: 1_000_000, emittedHistory: 1_000_000, seed: 11 });
    cleanups.push(() => cluster.stop());
    const t = await setup({ NOMAD_ADDR: cluster.url, DELIVERY_RETRY_BASE_SECONDS: "1", DELIVERY_RETRY_CAP_SECONDS: "2" });
    const first = await t.start();
    // The banner shows the streamer's health endpoint (on any free port), and how to register the example sink.
    const health = /Streamer health\s+(http:\/\/127\.0\.0\.1:\d+\/health)/.exec(first.output())?.[1];
    expect(health, first.output()).toBeDefined();
    expect(first.output()).toMatch(/then register a sink that sends it every event/);
    // It starts as standby until it holds the lease, then connects.
    let report: Record<string, unknown> = {};
    await until(async () => ((report = (await (await fetch(health!)).json()) as Record<string, unknown>), report.connected === true), 30_000, "a connected streamer");
    expect(report).toMatchObject({ healthy: true, role: "active", connected: true });
    const topics: TopicFilter = { "*": ["*"] };
    await t.registerSink("demo", topics);
    const from = cluster.server.lastIndex;
    await until(() => t.receiver.accepted.length >= 20, 60_000, "deliveries before the restart");
    // The webhook fails for a moment, so deliveries are waiting for their retry when Ctrl-C comes.
    t.receiver.setReply(() => ({ status: 500 }));
    const failing = t.receiver.received.length;
    await until(() => t.receiver.received.length > failing, 30_000, "a failed delivery");
    // SIGINT to the whole process group, as a terminal sends it: DynamoDB Local must outlive the stop.
    expect(await first.stop("SIGINT")).toBe(0);
    expect(first.output()).toMatch(/stopped: streamed \d+/);
    expect(first.output()).not.toMatch(/could not release the lease|checkpoint write failed|could not be (recorded|advanced)|ECONNREFUSED/);
    t.receiver.setReply(() => ({ status: 204 }));
    const beforeRestart = t.receiver.accepted.length;

    const second = await t.start();
    // The example sink exists now: the banner says so and how to run the receiver with its secret, not how to register it again.
    expect(second.output()).toContain(`The example sink "demo" is registered (webhook ${t.receiver.url}).`);
    expect(second.output()).toContain(`npm run receiver -- --port ${new URL(t.receiver.url).port} --secret ${t.secret}`);
    expect(second.output()).not.toMatch(/then register a sink/);
    // What was on the delivery queue (the retry among it) was saved at the stop and put back.
    expect(second.output()).toMatch(/Restored\s+.*\d+ message\(s\) on nomad-event-sinks-delivery\.fifo/);
    await until(() => t.receiver.accepted.length > beforeRestart + 10, 60_000, "deliveries after the restart");
    cluster.setRate(0);
    const expected = expectedEvents(cluster, topics, from);
    await until(() => receivedEvents(t.deliveries(), from).length >= expected.length, 60_000, `all ${expected.length} events`).catch((error: Error) => {
      const got = new Set(receivedEvents(t.deliveries(), from));
      const missing = expected.filter((e) => !got.has(e));
      throw new Error(`${error.message}: ${missing.length} missing, first ${missing.slice(0, 5).join(" ")}; received ${got.size}; restart output:\n${second.output().slice(-3000)}\nfirst output tail:\n${first.output().slice(-1500)}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const deliveries = t.deliveries();
    const ids = deliveries.map((d) => d.webhookId);
    expect(new Set(ids).size).toBe(ids.length);
    // Every event emitted after the sink existed arrived, once; so did any earlier one the fan-out saw after it existed.
    expect(receivedEvents(deliveries, from)).toEqual(expected);
    const all = receivedEvents(deliveries, 0);
    expect(new Set(all).size).toBe(all.length);
    expect(await second.stop("SIGINT")).toBe(0);
  }, 240_000);
});
