import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_LIVE_JOBS, SimulatedStateError, startSimulatedCluster, type SimulatedCluster, type SimulatedClusterOptions } from "../../infra/local/nomad/simulated-cluster";
import { startNomadProtocolServer, type EmittedFrame } from "../../infra/local/nomad/protocol-server";
import type { NomadEvent, NomadFrame } from "../../shared/nomad/event";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { readEventStream, type StreamOptions } from "../../shared/nomad/stream-client";
import { until } from "../support/until";

const clusters: SimulatedCluster[] = [];
const streams: Array<AsyncGenerator<NomadFrame, void, undefined>> = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(streams.splice(0).map((stream) => stream.return(undefined)));
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function cluster(options: SimulatedClusterOptions): Promise<SimulatedCluster> {
  const started = await startSimulatedCluster({ heartbeatMs: 200, ...options });
  clusters.push(started);
  return started;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nes-simulated-"));
  dirs.push(dir);
  return dir;
}

function subscribe(target: SimulatedCluster, index: number): AsyncGenerator<NomadFrame, void, undefined> {
  const options: StreamOptions = { config: readNomadConfig({ NOMAD_ADDR: target.url }), livenessMs: 5_000 };
  const stream = readEventStream({ index }, options);
  streams.push(stream);
  return stream;
}

/** Reads frames until `enough` holds for what was read, leaving the stream open. */
async function takeUntil(stream: AsyncGenerator<NomadFrame>, enough: (frames: NomadFrame[]) => boolean): Promise<NomadFrame[]> {
  const frames: NomadFrame[] = [];
  while (!enough(frames)) {
    const next = await stream.next();
    if (next.done) throw new Error(`the stream ended after ${frames.length} frames`);
    frames.push(next.value);
  }
  return frames;
}

function eventsOf(frames: ReadonlyArray<NomadFrame | EmittedFrame>): NomadEvent[] {
  return frames.flatMap((frame) => frame.Events ?? []);
}

function eventCount(frames: ReadonlyArray<NomadFrame | EmittedFrame>): number {
  return eventsOf(frames).length;
}

/** What a seed decides: every write's topics, types and namespaces, and every key it draws itself. */
function signature(frames: readonly EmittedFrame[]): string[] {
  return frames.map((frame) => frame.Events.map((event) => `${event.Topic}/${event.Type}/${event.Namespace}/${event.Topic === "Allocation" ? "" : event.Key}`).join(" "));
}

describe("startSimulatedCluster", () => {
  it("streams nodes first, then job lifecycles across namespaces, in every core topic", async () => {
    const nomad = await cluster({ eventsPerSecond: 0, seed: 11 });
    const stream = subscribe(nomad, 0);
    nomad.setRate(2_000);
    const frames = await takeUntil(stream, (read) => eventCount(read) >= 800);
    nomad.setRate(0);
    const events = eventsOf(frames);

    expect(frames.slice(0, 3).flatMap((frame) => frame.Events)).toEqual([0, 1, 2].map(() => expect.objectContaining({ Topic: "Node", Type: "NodeRegistration", Namespace: "" })));
    expect(new Set(events.map((event) => event.Topic))).toEqual(new Set(["Node", "Job", "Evaluation", "Allocation", "Deployment"]));
    for (const type of ["JobRegistered", "PlanResult", "AllocationUpdated", "DeploymentStatusUpdate", "JobDeregistered"]) {
      expect(events.some((event) => event.Type === type), type).toBe(true);
    }
    const jobNamespaces = new Set(events.filter((event) => event.Topic === "Job").map((event) => event.Namespace));
    expect(jobNamespaces.size).toBeGreaterThanOrEqual(2);
    expect(nomad.namespaces).toEqual(["default", "web", "batch"]);
    for (const namespace of jobNamespaces) expect(nomad.namespaces).toContain(namespace);

    // The client saw exactly what was published, in order.
    expect(frames).toEqual(nomad.server.emitted().slice(0, frames.length));

    const registeredAt = new Map<string, number>();
    const placedAt = new Map<string, number>();
    let live = 0;
    for (const event of events) {
      const job = `${event.Namespace}/${event.Topic === "Job" ? event.Key : (event.FilterKeys?.[0] ?? "")}`;
      if (event.Type === "JobRegistered" && event.Topic === "Job") {
        registeredAt.set(job, event.Index);
        live++;
      }
      if (event.Type === "JobDeregistered") live--;
      expect(live).toBeLessThanOrEqual(MAX_LIVE_JOBS);
      if (event.Topic !== "Allocation") continue;
      expect(registeredAt.get(job), `job of allocation ${event.Key}`).toBeLessThan(event.Index);
      if (event.Type === "PlanResult") placedAt.set(event.Key, event.Index);
      else expect(placedAt.get(event.Key), `placement of allocation ${event.Key}`).toBeLessThan(event.Index);
    }
  });

  it("publishes each raft write at its own index and counts it in stats()", async () => {
    const nomad = await cluster({ eventsPerSecond: 1_000, seed: 3 });
    await until(() => nomad.stats().events >= 200, 10_000, "200 events");
    nomad.setRate(0);
    const emitted = nomad.server.emitted();
    const stats = nomad.stats();
    expect(stats.lastIndex).toBe(stats.writes);
    expect(new Set(emitted.map((frame) => frame.Index))).toEqual(new Set(Array.from({ length: stats.writes }, (_, i) => i + 1)));
    expect(eventCount(emitted)).toBe(stats.events);
  });

  it("lists its namespaces on GET /v1/namespaces", async () => {
    const nomad = await cluster({ eventsPerSecond: 0, namespaces: ["default", "ops"] });
    const response = await request(`${nomad.url}/v1/namespaces`);
    const list = (await response.body.json()) as Array<{ Name: string }>;
    expect(response.statusCode).toBe(200);
    expect(list.map((namespace) => namespace.Name)).toEqual(["default", "ops"]);
  });

  it("keeps close to the configured rate (a sanity band, not a benchmark)", async () => {
    const nomad = await cluster({ eventsPerSecond: 200 });
    await until(() => nomad.stats().events > 0, 10_000, "the first write");
    const startedAt = performance.now();
    const before = nomad.stats().events;
    await sleep(2_000);
    const rate = ((nomad.stats().events - before) * 1000) / (performance.now() - startedAt);
    expect(rate).toBeGreaterThan(100);
    expect(rate).toBeLessThan(300);
  });

  it("catches up at most about a second of events after the event loop was blocked", async () => {
    const nomad = await cluster({ eventsPerSecond: 100 });
    await until(() => nomad.stats().events > 0, 10_000, "the first write");
    const before = nomad.stats().events;
    const blockedUntil = performance.now() + 2_000;
    while (performance.now() < blockedUntil) {
      // Busy: the ticker cannot run for 2 s, which would be 200 events without the cap.
    }
    await sleep(25);
    const burst = nomad.stats().events - before;
    expect(burst).toBeGreaterThanOrEqual(60);
    expect(burst).toBeLessThanOrEqual(115);
  });

  it("stops publishing at setRate(0) and resumes at a positive rate", async () => {
    const nomad = await cluster({ eventsPerSecond: 500 });
    await until(() => nomad.stats().events > 0, 10_000, "the first write");
    nomad.setRate(0);
    const paused = nomad.stats();
    await sleep(300);
    expect(nomad.stats()).toEqual(paused);
    expect(nomad.server.lastIndex).toBe(paused.lastIndex);
    nomad.setRate(500);
    await until(() => nomad.stats().events > paused.events, 10_000, "writes after resuming");
    expect(() => nomad.setRate(-1)).toThrow(/setRate's eventsPerSecond must be a finite number of events per second >= 0, but -1 was provided/);
    expect(() => nomad.setRate(Number.NaN)).toThrow(/but NaN was provided/);
  });

  it("repeats the same writes for the same seed, and others for another seed", async () => {
    const [a, b, c] = await Promise.all([42, 42, 43].map((seed) => cluster({ eventsPerSecond: 1_000, seed })));
    if (a === undefined || b === undefined || c === undefined) throw new Error("three clusters expected");
    await until(() => [a, b, c].every((nomad) => nomad.stats().events >= 300), 10_000, "300 events from each cluster");
    for (const nomad of [a, b, c]) nomad.setRate(0);
    const [sa, sb, sc] = [a, b, c].map((nomad) => signature(nomad.server.emitted()));
    if (sa === undefined || sb === undefined || sc === undefined) throw new Error("three signatures expected");
    const common = Math.min(sa.length, sb.length, sc.length);
    expect(common).toBeGreaterThan(50);
    expect(sa.slice(0, common)).toEqual(sb.slice(0, common));
    expect(sa.slice(0, common)).not.toEqual(sc.slice(0, common));
  });

  it("continues after a restart from its state file: same buffer, resumable index, higher indexes", async () => {
    const stateFile = join(tempDir(), "nested", "nomad-state.json");
    const first = await cluster({ eventsPerSecond: 1_000, bufferSize: 20, seed: 5, stateFile });
    expect(first.restoredFrom).toBeUndefined();
    expect(first.restoreError).toBeUndefined();
    await until(() => first.stats().lastIndex >= 60, 10_000, "index 60");
    first.setRate(0);
    const retained = first.server.retained();
    const firstRun = eventsOf(first.server.emitted());
    const savedIndex = first.stats().lastIndex;
    await first.stop();
    expect(retained.length).toBeGreaterThanOrEqual(20);
    expect(readdirSync(join(stateFile, ".."))).toEqual(["nomad-state.json"]);

    const second = await cluster({ eventsPerSecond: 0, bufferSize: 20, stateFile });
    expect(second.restoredFrom).toBe(savedIndex);
    expect(second.restoreError).toBeUndefined();
    expect(second.stats()).toEqual({ writes: 0, events: 0, lastIndex: savedIndex });
    expect(second.server.retained()).toEqual(retained);

    const checkpoint = retained[5]?.Index ?? Number.NaN;
    const replay = retained.filter((frame) => frame.Index >= checkpoint);
    const stream = subscribe(second, checkpoint);
    expect(await takeUntil(stream, (read) => read.length === replay.length)).toEqual(replay);

    second.setRate(500);
    const [next] = await takeUntil(stream, (read) => read.length === 1);
    expect(next?.Index).toBe(savedIndex + 1);
    await until(() => second.stats().writes >= 100, 10_000, "100 writes after the restart");
    second.setRate(0);
    // The lifecycle continued: jobs of the first run are advanced or retired, and nothing refers to a job never registered.
    const jobOf = (event: NomadEvent): string => `${event.Namespace}/${event.Topic === "Job" ? event.Key : (event.FilterKeys?.[0] ?? "")}`;
    const secondRun = eventsOf(second.server.emitted()).filter((event) => event.Index > savedIndex);
    const registeredBefore = new Set(firstRun.filter((event) => event.Type === "JobRegistered").map(jobOf));
    const registeredAfter = new Set(secondRun.filter((event) => event.Type === "JobRegistered").map(jobOf));
    const jobEvents = secondRun.filter((event) => event.Topic !== "Node" && event.Type !== "JobRegistered");
    expect(jobEvents.some((event) => registeredBefore.has(jobOf(event)))).toBe(true);
    for (const event of jobEvents) expect(registeredBefore.has(jobOf(event)) || registeredAfter.has(jobOf(event)), `${event.Type} of ${jobOf(event)}`).toBe(true);
  });

  it("starts fresh and says why when the state file is corrupt, then replaces it on stop", async () => {
    const stateFile = join(tempDir(), "nomad-state.json");
    writeFileSync(stateFile, "{ not json");
    const first = await cluster({ eventsPerSecond: 1_000, stateFile });
    expect(first.restoredFrom).toBeUndefined();
    expect(first.restoreError).toBeInstanceOf(SimulatedStateError);
    expect(first.restoreError?.message).toContain(stateFile);
    await until(() => first.stats().lastIndex >= 5, 10_000, "index 5");
    expect(first.server.emitted()[0]?.Index).toBe(1);
    await first.stop();

    const saved = JSON.parse(readFileSync(stateFile, "utf8")) as { lastIndex: number };
    const second = await cluster({ eventsPerSecond: 0, stateFile });
    expect(second.restoredFrom).toBe(saved.lastIndex);
  });

  it("starts fresh when the state file is JSON of the wrong shape", async () => {
    const stateFile = join(tempDir(), "nomad-state.json");
    const world = { nodes: [], jobs: [], jobsCreated: 0, random: 1 };
    const cases = [
      { state: { version: 1, lastIndex: 3, frames: [], world: {} }, problem: /world\.nodes: / },
      { state: { version: 1, lastIndex: 3, frames: [{ Index: 9, Events: [] }], world }, problem: /frames\[0\]: frames must be in index order, up to lastIndex 3/ },
      { state: { version: 2, lastIndex: 3, frames: [], world }, problem: /version: / },
    ];
    for (const { state, problem } of cases) {
      writeFileSync(stateFile, JSON.stringify(state));
      const nomad = await cluster({ eventsPerSecond: 0, stateFile });
      expect(nomad.restoredFrom).toBeUndefined();
      expect(nomad.restoreError?.message).toMatch(/is not usable, starting fresh: /);
      expect(nomad.restoreError?.message).toMatch(problem);
      expect(nomad.stats().lastIndex).toBe(0);
      await nomad.stop();
    }
  });

  it("rejects options it cannot run with", async () => {
    await expect(startSimulatedCluster({ eventsPerSecond: -5 })).rejects.toThrow(/eventsPerSecond must be a finite number of events per second >= 0, but -5 was provided/);
    await expect(startSimulatedCluster({ namespaces: [] })).rejects.toThrow(/namespaces must be distinct, non-empty names other than "\*", but \[\] was provided/);
    await expect(startSimulatedCluster({ namespaces: ["web", "web"] })).rejects.toThrow(/namespaces must be distinct/);
    await expect(startSimulatedCluster({ seed: 1.5 })).rejects.toThrow(/seed must be an integer, but 1.5 was provided/);
  });
});

describe("startNomadProtocolServer's restore and emittedLimit, which the simulated cluster relies on", () => {
  const job = (index: number): EmittedFrame => ({ Index: index, Events: [{ Topic: "Job", Type: "JobRegistered", Key: `job-${index}`, Namespace: "default", FilterKeys: null, Index: index, Payload: { Job: { ID: `job-${index}` } } }] });

  it("serves restored frames as if published, and publishes above the restored index", async () => {
    const server = await startNomadProtocolServer({ era: "chunked", restore: { lastIndex: 9, frames: [job(4), job(4), job(7)] } });
    try {
      expect(server.lastIndex).toBe(9);
      expect(server.retained()).toEqual([job(4), job(4), job(7)]);
      expect(server.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "job-10", Namespace: "default", Payload: { Job: { ID: "job-10" } } }]])).toBe(10);
      const stream = readEventStream({ index: 5 }, { config: readNomadConfig({ NOMAD_ADDR: server.url }), livenessMs: 5_000 });
      streams.push(stream);
      expect(await takeUntil(stream, (read) => read.length === 2)).toEqual([job(7), job(10)]);
    } finally {
      await server.close();
    }
  });

  it("refuses a history that could not have been published", async () => {
    await expect(startNomadProtocolServer({ era: "chunked", restore: { lastIndex: 5, frames: [job(7)] } })).rejects.toThrow(/restore\.frames\[0\]\.Index must be an integer from 1 to restore\.lastIndex 5, got 7/);
    await expect(startNomadProtocolServer({ era: "chunked", restore: { lastIndex: 9, frames: [job(7), job(4)] } })).rejects.toThrow(/restore\.frames\[1\]\.Index must be an integer from 7 to restore\.lastIndex 9, got 4/);
    await expect(startNomadProtocolServer({ era: "chunked", restore: { lastIndex: 9, frames: [{ ...job(7), Index: 8 }] } })).rejects.toThrow(/restore\.frames\[0\] has an event with Index 7, the frame 8/);
    await expect(startNomadProtocolServer({ era: "chunked", emittedLimit: 0 })).rejects.toThrow(/emittedLimit must be a positive integer, got 0/);
  });

  it("keeps only the newest emittedLimit frames in emitted()", async () => {
    const server = await startNomadProtocolServer({ era: "hijacked", emittedLimit: 3 });
    try {
      for (let i = 1; i <= 10; i++) server.publish([[{ Topic: "Job", Type: "JobRegistered", Key: `job-${i}`, Namespace: "default", Payload: { Job: { ID: `job-${i}` } } }]]);
      expect(server.emitted()).toEqual([job(8), job(9), job(10)]);
    } finally {
      await server.close();
    }
  });
});
