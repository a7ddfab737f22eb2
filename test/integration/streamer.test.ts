import { afterEach, describe, expect, it } from "vitest";
import { startLocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startNomadProtocolServer, type NomadProtocolServerOptions } from "../../infra/local/nomad/protocol-server";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { createLogger } from "../../shared/observability/logger";
import { DynamoCheckpointStore } from "../../shared/streamer/checkpoint-store";
import { EventIdAssigner } from "../../shared/streamer/event-id";
import { EventBridgePublisher } from "../../shared/streamer/eventbridge-publisher";
import { DynamoLease } from "../../shared/streamer/lease";
import { Streamer, type StreamerOptions } from "../../shared/streamer/streamer";
import { S3PayloadStore } from "../../shared/streamer/payload-store";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { uniqueName } from "../support/names";
import { newStreamerTable } from "../streamer-state/streamer-fixtures";
import { until } from "../support/until";

const factory = createEventFactory({ fixturesDir: null });
const logger = createLogger("streamer-test");
logger.setLogLevel("SILENT");
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


/** One world: a Nomad (protocol server), a bus (local PutEvents), a streamer table, a held lease. */
async function world(serverOptions: Partial<NomadProtocolServerOptions> = {}) {
  const nomad = await startNomadProtocolServer({ era: "chunked", heartbeatMs: 50, ...serverOptions });
  const bus = await startLocalEventBridge({ busNames: ["nomad"] });
  const table = await newStreamerTable();
  const cluster = uniqueName("c");
  const lease = new DynamoLease({ tableName: table.tableName, client: table.client, cluster, holder: "test", durationMs: 60_000 });
  expect(await lease.tryAcquire()).toBe(true);
  const checkpoints = new DynamoCheckpointStore({ tableName: table.tableName, client: table.client, cluster, lease });
  cleanups.push(async () => {
    await nomad.close();
    await bus.close();
  });
  const streamer = (extra: { namespace?: string; namespacePollMs?: number; maxEntryBytes?: number; maxLineBytes?: number; storePayload?: StreamerOptions["storePayload"] } = {}) => {
    const publisher = new EventBridgePublisher({ clientConfig: { endpoint: bus.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1 }, retryBaseMs: 5, retryCapMs: 50 });
    const s = new Streamer({
      nomad: readNomadConfig({ NOMAD_ADDR: nomad.url, NOMAD_NAMESPACE: extra.namespace ?? "*" }),
      cluster,
      busName: "nomad",
      checkpoints,
      publish: (entries) => publisher.send(entries),
      logger,
      livenessMs: 1_000,
      checkpointEveryMs: 50,
      reconnect: { baseMs: 20, capMs: 100 },
      namespacePollMs: extra.namespacePollMs ?? 0,
      ...(extra.maxEntryBytes ? { maxEntryBytes: extra.maxEntryBytes } : {}),
      ...(extra.maxLineBytes ? { maxLineBytes: extra.maxLineBytes } : {}),
      ...(extra.storePayload ? { storePayload: extra.storePayload } : {}),
    });
    const abort = new AbortController();
    const running = s.run(abort.signal);
    const stop = async () => {
      abort.abort(new Error("test over"));
      await running;
    };
    cleanups.push(stop);
    return { s, stop };
  };
  /** The IDs every emitted event must have on the bus. */
  const expectedIds = () => {
    const ids = new EventIdAssigner(cluster);
    return nomad.emitted().flatMap((f) => ids.assign(f.Index, f.Events));
  };
  const busIds = () => bus.accepted().map((e) => JSON.parse(e.detail).id as string);
  return { nomad, bus, checkpoints, streamer, expectedIds, busIds, cluster };
}

describe("Streamer", () => {
  it("publishes every event with its contract and moves the checkpoint", async () => {
    const w = await world();
    w.nomad.publish(factory.jobRegistered({ jobId: "web", namespace: "default" }));
    w.nomad.publish(factory.nodeRegistration({ nodeId: "n1" }));
    w.nomad.publish(factory.planResult({ jobId: "web", namespace: "default", allocations: 3 }));
    const { s, stop } = w.streamer();
    await until(() => w.busIds().length === w.expectedIds().length);
    w.nomad.publish(factory.allocationUpdated({ allocId: "a9", jobId: "web", namespace: "default" }));
    await until(() => w.busIds().length === w.expectedIds().length);
    await stop();
    expect(w.busIds()).toEqual(w.expectedIds());
    const first = w.bus.accepted()[0]!;
    expect(first).toMatchObject({ source: "nomad", detailType: "Job", bus: "nomad" });
    const detail = JSON.parse(first.detail);
    expect(detail).toMatchObject({ cluster: w.cluster, frameIndex: w.nomad.emitted()[0]!.Index, event: { Topic: "Job", Key: "web", Namespace: "default" } });
    // The newest index cannot be known complete while the stream is open.
    const emittedIndexes = [...new Set(w.nomad.emitted().map((f) => f.Index))];
    expect((await w.checkpoints.load())?.index).toBe(emittedIndexes[emittedIndexes.length - 2]);
    expect(s.status.eventsOut).toBe(w.expectedIds().length);
  });

  it("loses nothing and sends nothing twice across dropped connections and a restart", async () => {
    const w = await world();
    const first = w.streamer();
    for (let i = 0; i < 5; i++) w.nomad.publish(factory.jobRegistered({ jobId: `j${i}`, namespace: "default" }));
    await until(() => w.busIds().length === w.expectedIds().length);
    w.nomad.dropConnections();
    for (let i = 5; i < 10; i++) w.nomad.publish(factory.jobRegistered({ jobId: `j${i}`, namespace: "default" }));
    await until(() => new Set(w.busIds()).size === w.expectedIds().length);
    await first.stop();
    for (let i = 10; i < 15; i++) w.nomad.publish(factory.jobRegistered({ jobId: `j${i}`, namespace: "default" }));
    const second = w.streamer();
    await until(() => new Set(w.busIds()).size === w.expectedIds().length);
    await second.stop();
    expect(new Set(w.busIds())).toEqual(new Set(w.expectedIds()));
    // Nothing is sent twice: not after the dropped connection, and not after the restart
    // (the checkpoint names what of the unfinished index is already on the bus).
    expect(w.busIds()).toHaveLength(new Set(w.busIds()).size);
  });

  it("a stopped streamer's successor does not re-send the events of the index it left unfinished", async () => {
    const w = await world();
    const first = w.streamer();
    for (let i = 0; i < 4; i++) w.nomad.publish(factory.jobRegistered({ jobId: `k${i}`, namespace: "default" }));
    await until(() => w.busIds().length === w.expectedIds().length);
    await first.stop();
    // The newest index was open when it stopped: the checkpoint is below it, and names what of it is on the bus.
    const saved = await w.checkpoints.load();
    const newest = w.nomad.emitted().at(-1)!.Index;
    expect(saved?.index).toBeLessThan(newest);
    expect(saved?.published?.find((entry) => entry.index === newest)?.ids.length).toBe(2);
    w.nomad.publish(factory.jobRegistered({ jobId: "k4", namespace: "default" }));
    const second = w.streamer();
    await until(() => w.busIds().length === w.expectedIds().length);
    await second.stop();
    expect(w.busIds()).toEqual(w.expectedIds());
  });

  it("publishes a gap marker when Nomad no longer holds the checkpoint's index", async () => {
    const w = await world({ bufferSize: 4 });
    const first = w.streamer();
    w.nomad.publish(factory.nodeRegistration({ nodeId: "a" }));
    w.nomad.publish(factory.nodeRegistration({ nodeId: "b" }));
    await until(() => w.busIds().length === 2);
    await first.stop();
    const checkpoint = (await w.checkpoints.load())!.index;
    for (let i = 0; i < 10; i++) w.nomad.publish(factory.nodeRegistration({ nodeId: `n${i}` }));
    const second = w.streamer();
    await until(() => w.bus.accepted().some((e) => e.detailType === "EventSinks"));
    await second.stop();
    const gap = JSON.parse(w.bus.accepted().find((e) => e.detailType === "EventSinks")!.detail);
    expect(gap.event).toMatchObject({ Topic: "EventSinks", Type: "StreamGap", Payload: { FromIndex: checkpoint } });
    expect(gap.event.Payload.ToIndex).toBeGreaterThan(checkpoint + 1);
  });

  it("does not mark a gap when Nomad still holds the checkpoint's index", async () => {
    const w = await world();
    const first = w.streamer();
    for (let i = 0; i < 3; i++) w.nomad.publish(factory.nodeRegistration({ nodeId: `a${i}` }));
    await until(() => w.busIds().length === 3);
    await first.stop();
    w.nomad.publish(factory.nodeRegistration({ nodeId: "later" }));
    const second = w.streamer();
    await until(() => new Set(w.busIds()).size === 4);
    await second.stop();
    expect(w.bus.accepted().some((e) => e.detailType === "EventSinks")).toBe(false);
  });

  it("rides out an EventBridge outage and publishes everything afterwards", async () => {
    const w = await world();
    w.bus.failCalls({ count: 6 });
    for (let i = 0; i < 3; i++) w.nomad.publish(factory.nodeRegistration({ nodeId: `o${i}` }));
    const { stop } = w.streamer();
    await until(() => new Set(w.busIds()).size === 3);
    await stop();
    expect(new Set(w.busIds())).toEqual(new Set(w.expectedIds()));
  });

  it("resubscribes when a namespace is created, so its events are covered", async () => {
    const w = await world({ namespaces: ["default"] });
    const { s, stop } = w.streamer({ namespacePollMs: 50 });
    w.nomad.publish(factory.jobRegistered({ jobId: "a", namespace: "default" }));
    await until(() => w.busIds().length === 2);
    const reconnects = s.status.reconnects;
    w.nomad.addNamespace("team-b");
    await until(() => s.status.reconnects > reconnects);
    w.nomad.publish(factory.jobRegistered({ jobId: "b", namespace: "team-b" }));
    await until(() => w.bus.accepted().some((e) => JSON.parse(e.detail).event.Namespace === "team-b"));
    await stop();
    expect(new Set(w.busIds())).toEqual(new Set(w.expectedIds()));
  });

  it("stops at a frame longer than maxLineBytes, saying so, without losing or skipping it; a restart with a higher limit publishes it and the rest once", async () => {
    const w = await world();
    w.nomad.publish(factory.jobRegistered({ jobId: "before", namespace: "default" }));
    w.nomad.publish(factory.planResult({ jobId: "big", namespace: "default", allocations: 3_000 }));
    w.nomad.publish(factory.nodeRegistration({ nodeId: "after" }));
    const sizes = w.nomad.emitted().map((f) => JSON.stringify(f).length);
    const bigAt = sizes.findIndex((size) => size > 1024 * 1024);
    expect(bigAt).toBeGreaterThan(0);
    const bigIndex = w.nomad.emitted()[bigAt]!.Index;
    const before = new EventIdAssigner(w.cluster);
    const idsBefore = w.nomad.emitted().slice(0, bigAt).flatMap((f) => before.assign(f.Index, f.Events));
    const limited = w.streamer({ maxLineBytes: 1024 * 1024 });
    await until(() => limited.s.status.reconnects >= 2 && w.busIds().length === idsBefore.length);
    expect(limited.s.status.lastError).toMatch(/^a line of Nomad's event stream reached \d+ bytes without ending, over the limit of 1048576 bytes per line/);
    await limited.stop();
    expect(w.busIds()).toEqual(idsBefore);
    expect((await w.checkpoints.load())?.index ?? 0).toBeLessThan(bigIndex);
    const raised = w.streamer({ maxLineBytes: 8 * 1024 * 1024 });
    await until(() => w.busIds().length === w.expectedIds().length, 30_000);
    await raised.stop();
    // Every event once (calls in flight together may land in any order).
    expect([...w.busIds()].sort()).toEqual([...w.expectedIds()].sort());
  }, 60_000);

  it("stores an event too large for the bus in S3 and publishes a reference to it", async () => {
    const w = await world();
    const client = new S3Client({ forcePathStyle: true });
    const bucket = uniqueName("payloads");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const payloads = new S3PayloadStore({ bucket, client });
    w.nomad.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "huge", Namespace: "default", FilterKeys: null, Payload: { Job: { ID: "huge", Meta: { template: "x".repeat(20_000) } } } }]]);
    w.nomad.publish(factory.nodeRegistration({ nodeId: "small" }));
    const { stop } = w.streamer({ maxEntryBytes: 8_192, storePayload: (cluster, eventId, payloadJson) => payloads.storePayload(cluster, eventId, payloadJson) });
    await until(() => w.busIds().length === w.expectedIds().length);
    await stop();
    const details = w.bus.accepted().map((e) => JSON.parse(e.detail));
    const referenced = details.filter((d) => d.payloadRef !== undefined);
    expect(referenced.length).toBeGreaterThan(0);
    for (const d of referenced) expect(d.event.Payload).toBeNull();
    // The payload comes back intact, identical to what Nomad sent.
    const original = w.nomad.emitted().flatMap((f) => f.Events).find((e) => e.Key === referenced[0].event.Key && e.Topic === referenced[0].event.Topic);
    expect(await payloads.fetch(referenced[0].payloadRef)).toEqual(original?.Payload);
    expect(w.busIds()).toEqual(w.expectedIds());
  });
});
