import { afterEach, describe, expect, it } from "vitest";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startNomadProtocolServer, SUBSCRIPTION_CLOSED_BY_SERVER, type NomadProtocolServer, type NomadProtocolServerOptions } from "../../infra/local/nomad/protocol-server";
import type { NomadFrame } from "../../shared/nomad/event";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { NomadResponseError, readEventStream, StreamBacklogError, StreamErrorTail, StreamLineTooLongError, StreamStalledError, type StreamOptions, type StreamRequest } from "../../shared/nomad/stream-client";

const factory = createEventFactory({ fixturesDir: null });
const servers: NomadProtocolServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function nomad(options: NomadProtocolServerOptions): Promise<NomadProtocolServer> {
  const server = await startNomadProtocolServer(options);
  servers.push(server);
  return server;
}

function options(server: NomadProtocolServer, extra: Partial<StreamOptions> & { token?: string } = {}): StreamOptions {
  const { token, ...rest } = extra;
  return { config: readNomadConfig({ NOMAD_ADDR: server.url, ...(token ? { NOMAD_TOKEN: token } : {}) }), livenessMs: 2_000, ...rest };
}

/** Reads `count` frames and leaves the stream open (a `break` in for-await would close it). */
async function take(stream: AsyncGenerator<NomadFrame>, count: number): Promise<NomadFrame[]> {
  const frames: NomadFrame[] = [];
  while (frames.length < count) {
    const next = await stream.next();
    if (next.done) break;
    frames.push(next.value);
  }
  return frames;
}

/** Reads everything until the stream ends or fails; returns what came and how it ended. */
async function drain(stream: AsyncGenerator<NomadFrame>): Promise<{ frames: NomadFrame[]; error?: unknown }> {
  const frames: NomadFrame[] = [];
  try {
    for await (const frame of stream) frames.push(frame);
    return { frames };
  } catch (error) {
    return { frames, error };
  }
}

const all: StreamRequest = { index: 0 };
/** Frames that pile up unread: a few hundred KB. */
const PILED_UP_FRAMES = 60;

describe.each(["chunked", "hijacked"] as const)("readEventStream against a %s-era Nomad", (era) => {
  it("yields every frame exactly as emitted, skips heartbeats, and returns on a clean end", async () => {
    const server = await nomad({ era, heartbeatMs: 50 });
    server.publish(factory.jobRegistered({ jobId: "web", namespace: "default" }));
    server.publish(factory.nodeRegistration({ nodeId: "n1" }));
    const stream = readEventStream(all, options(server));
    const first = await take(stream, 3);
    server.publish(factory.allocationUpdated({ allocId: "a1", jobId: "web", namespace: "default" }));
    setTimeout(() => server.endStreams(), 200);
    const rest = await drain(stream);
    expect(rest.error).toBeUndefined();
    const got = [...first, ...rest.frames];
    expect(got).toEqual(server.emitted().map((f) => ({ Index: f.Index, Events: f.Events })));
    // A JobRegistered index arrives as two frames sharing one Index.
    expect(got[0]!.Index).toBe(got[1]!.Index);
    expect(got.map((f) => f.Events?.[0]?.Topic)).toEqual(["Job", "Evaluation", "Node", "Allocation"]);
  });

  it("sends the Go client's query and the token", async () => {
    const server = await nomad({ era, token: "secret-token" });
    server.publish(factory.nodeRegistration({ nodeId: "n1" }));
    const stream = readEventStream({ index: 5, topics: { Job: ["web"], Node: ["*"] }, namespace: "*" }, options(server, { token: "secret-token" }));
    await take(stream, 1);
    await stream.return();
    const [request] = server.requests();
    expect(request!.query).toMatchObject({ index: ["5"], namespace: ["*"], topic: ["Job:web", "Node:*"] });
    expect(request!.headers["x-nomad-token"]).toBe("secret-token");
    expect(request!.headers["accept-encoding"]).toBe("gzip");
  });

  it("reads a 10 MB PlanResult frame on one line", async () => {
    const server = await nomad({ era });
    server.publish(factory.planResult({ jobId: "big", namespace: "default", allocations: 13_000 }));
    const [frame] = await take(readEventStream(all, options(server, { livenessMs: 20_000 })), 1);
    expect(JSON.stringify(frame).length).toBeGreaterThan(10 * 1024 * 1024);
    expect(frame!.Events).toHaveLength(server.emitted()[0]!.Events.length);
  }, 60_000);

  it("drops the connection with StreamLineTooLongError on a line over maxLineBytes, after yielding the frames before it", async () => {
    const server = await nomad({ era });
    server.publish(factory.jobRegistered({ jobId: "web", namespace: "default" }));
    server.publish(factory.planResult({ jobId: "big", namespace: "default", allocations: 3_000 }));
    server.publish(factory.jobRegistered({ jobId: "after", namespace: "default" }));
    const sizes = server.emitted().map((f) => JSON.stringify(f).length);
    const big = Math.max(...sizes);
    expect(big).toBeGreaterThan(2 * 1024 * 1024);
    const { frames, error } = await drain(readEventStream(all, options(server, { maxLineBytes: 1024 * 1024 })));
    // Every frame before the long line, none after it.
    expect(frames.map((f) => f.Index)).toEqual(server.emitted().slice(0, sizes.indexOf(big)).map((f) => f.Index));
    expect(frames.length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(StreamLineTooLongError);
    expect((error as StreamLineTooLongError).maxLineBytes).toBe(1024 * 1024);
    expect((error as StreamLineTooLongError).bytes).toBeGreaterThan(1024 * 1024);
    expect((error as Error).message).toMatch(/^a line of Nomad's event stream reached \d+ bytes without ending, over the limit of 1048576 bytes per line/);
    // The same frame under a limit it fits: read whole.
    const whole = await take(readEventStream(all, options(server, { maxLineBytes: big + 100 })), sizes.length);
    expect(whole.map((f) => f.Events?.length)).toEqual(server.emitted().map((f) => f.Events.length));
  }, 60_000);

  it("aborts with StreamStalledError when even heartbeats stop", async () => {
    const server = await nomad({ era, heartbeatMs: 50 });
    const stream = readEventStream(all, options(server, { livenessMs: 400 }));
    setTimeout(() => server.stopHeartbeats(), 300);
    const { error } = await drain(stream);
    expect(error).toBeInstanceOf(StreamStalledError);
    expect((error as StreamStalledError).sawBytes).toBe(true);
    expect((error as Error).message).toContain("no bytes from Nomad's event stream for 400 ms");
  });

  it("stays connected while only heartbeats arrive", async () => {
    const server = await nomad({ era, heartbeatMs: 50 });
    const stream = readEventStream(all, options(server, { livenessMs: 300 }));
    setTimeout(() => {
      server.publish(factory.nodeRegistration({ nodeId: "late" }));
      setTimeout(() => server.endStreams(), 100);
    }, 1_000);
    const { frames, error } = await drain(stream);
    expect(error).toBeUndefined();
    expect(frames.map((f) => f.Events?.[0]?.Key)).toEqual(["late"]);
  });

  it("a reader behind when Nomad closes the stream still gets every frame (the socket is never left paused)", async () => {
    const server = await nomad({ era, heartbeatMs: 60_000, bufferSize: 5_000 });
    const stream = readEventStream(all, options(server, { livenessMs: 10_000 }));
    server.publish(factory.jobRegistered({ jobId: "first" }));
    await take(stream, 1);
    // A few hundred KB arrives while the reader takes nothing (more than the body's stream buffers
    // hold, less than the sockets do), then Nomad closes the stream. undici 7 used to crash the
    // process here, from the socket's end handler, when the body was paused by backpressure.
    for (let i = 0; i < PILED_UP_FRAMES; i++) server.publish(factory.planResult({ jobId: `big${i}`, allocations: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.endStreams();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rest = await drain(stream);
    expect(rest.error).toBeUndefined();
    const emitted = server.emitted().map((frame) => frame.Events[0]!.Key);
    const received = rest.frames.map((frame) => frame.Events![0]!.Key);
    expect(received).toEqual(emitted.slice(1));
  });

  it("drops the connection with StreamBacklogError when the reader falls more than maxBufferedBytes behind", async () => {
    const server = await nomad({ era, heartbeatMs: 60_000, bufferSize: 5_000 });
    const stream = readEventStream(all, options(server, { maxBufferedBytes: 256 * 1024 }));
    server.publish(factory.jobRegistered({ jobId: "first" }));
    await take(stream, 1);
    for (let i = 0; i < 500; i++) server.publish(factory.planResult({ jobId: `big${i}`, allocations: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rest = await drain(stream);
    expect(rest.error).toBeInstanceOf(StreamBacklogError);
    expect((rest.error as Error).message).toMatch(/^the reader fell \d+ bytes behind Nomad's event stream \(more than 262144\)/);
    expect(rest.frames.length + 1).toBeLessThan(server.emitted().length);
  });

  it("stops when the caller aborts", async () => {
    const server = await nomad({ era, heartbeatMs: 50 });
    const abort = new AbortController();
    const stream = readEventStream(all, options(server, { signal: abort.signal }));
    setTimeout(() => abort.abort(new Error("shutting down")), 200);
    const { error } = await drain(stream);
    expect(error).toBeDefined();
    expect(server.activeStreams()).toBeLessThanOrEqual(1);
  });
});

describe("readEventStream: errors as each Nomad era reports them", () => {
  it("a 403 before streaming (Nomad <= 1.11.1) is NomadResponseError, as the Go client words it", async () => {
    const server = await nomad({ era: "chunked", token: "right" });
    const { error } = await drain(readEventStream(all, options(server, { token: "wrong" })));
    expect(error).toBeInstanceOf(NomadResponseError);
    expect((error as NomadResponseError).status).toBe(403);
    expect((error as Error).message).toBe("Unexpected response code: 403 (Permission denied)");
  });

  it("a 400 carries Nomad's text", async () => {
    const server = await nomad({ era: "chunked" });
    const { error } = await drain(readEventStream({ index: 0, topics: { "Job:x": ["y"] } }, options(server)));
    expect(error).toBeInstanceOf(NomadResponseError);
    expect((error as Error).message).toMatch(/^Unexpected response code: 400 \(Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: Job:x:y\)$/);
  });

  it("the silent 403 of Nomad >= 1.11.2 (a 200 and then nothing) is caught by the liveness window", async () => {
    const server = await nomad({ era: "hijacked", token: "right", heartbeatMs: 50 });
    const { error } = await drain(readEventStream(all, options(server, { token: "wrong", livenessMs: 400 })));
    expect(error).toBeInstanceOf(StreamStalledError);
    expect((error as StreamStalledError).sawBytes).toBe(false);
    expect((error as Error).message).toContain("how a rejected token (403) looks");
  });

  it("a mid-stream error written as raw text (Nomad <= 1.11.1) is StreamErrorTail with that text, after every frame before it", async () => {
    const server = await nomad({ era: "chunked", heartbeatMs: 50 });
    server.publish(factory.nodeRegistration({ nodeId: "n1" }));
    const stream = readEventStream(all, options(server));
    const first = await take(stream, 1);
    server.failMidstream();
    const { frames, error } = await drain(stream);
    expect(first).toHaveLength(1);
    expect(frames).toEqual([]);
    expect(error).toBeInstanceOf(StreamErrorTail);
    expect((error as StreamErrorTail).text).toBe(SUBSCRIPTION_CLOSED_BY_SERVER);
  });

  it("a dropped connection mid-chunked-stream is an error, not a clean end", async () => {
    const server = await nomad({ era: "chunked", heartbeatMs: 50 });
    server.publish(factory.nodeRegistration({ nodeId: "n1" }));
    const stream = readEventStream(all, options(server));
    await take(stream, 1);
    server.dropConnections();
    const { error } = await drain(stream);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(StreamStalledError);
  });

  it("decodes a gzip stream (the chunked era compresses when asked)", async () => {
    const server = await nomad({ era: "chunked", heartbeatMs: 50 });
    server.publish(factory.jobRegistered({ jobId: "gz", namespace: "default" }));
    const frames = await take(readEventStream(all, options(server)), 2);
    expect(frames.map((f) => f.Events?.[0]?.Topic)).toEqual(["Job", "Evaluation"]);
  });
});
