import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { constants as zlibConstants, gunzipSync, inflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { NomadEvent } from "../../shared/nomad/event";
import { createEventFactory, DEFAULT_FIXTURES_DIR, loadFixtureFrames, parseFrameLine } from "../../infra/local/nomad/fixture-frames";
import { rawJson, startNomadProtocolServer, type NomadProtocolServer, type NomadProtocolServerOptions, type NomadStreamEra, type PublishEvent } from "../../infra/local/nomad/protocol-server";
import { HIJACKED_RESPONSE_HEAD } from "../../infra/local/nomad/stream-transport";
import { decodeChunked, parseHead, rawRequest, type RawConnection, type ResponseHead } from "./raw-http";

const ERAS: readonly NomadStreamEra[] = ["chunked", "hijacked"];
const DERIVED = join(DEFAULT_FIXTURES_DIR, "derived");

const servers: NomadProtocolServer[] = [];
const connections: RawConnection[] = [];

async function start(options: NomadProtocolServerOptions): Promise<NomadProtocolServer> {
  const server = await startNomadProtocolServer(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

interface WireFrame {
  Index: number;
  Events: NomadEvent[];
}

/** A subscription seen through a raw socket, decoding the body of either era. */
interface Stream {
  readonly connection: RawConnection;
  head(): ResponseHead;
  /** The identity body: de-chunked in the chunked era, as is in the hijacked one. */
  body(): Buffer;
  terminated(): boolean;
  /** Complete NDJSON lines, heartbeats included. */
  lines(): string[];
  frames(): WireFrame[];
  heartbeats(): number;
  until(done: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

async function openStream(server: NomadProtocolServer, query = "", options: { headers?: Record<string, string>; method?: string } = {}): Promise<Stream> {
  const connection = await rawRequest(server.url, `/v1/event/stream${query}`, options);
  connections.push(connection);
  const head = (): ResponseHead => {
    const parsed = parseHead(connection.bytes());
    if (parsed === undefined) throw new Error("no response head yet");
    return parsed;
  };
  const body = (): Buffer => {
    const parsed = head();
    const raw = connection.bytes().subarray(parsed.bodyStart);
    return parsed.header("transfer-encoding") === "chunked" ? Buffer.concat(decodeChunked(raw).chunks) : raw;
  };
  const lines = (): string[] => {
    if (parseHead(connection.bytes()) === undefined) return [];
    const text = body().toString("utf8");
    return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").slice(0, -1);
  };
  const stream: Stream = {
    connection,
    head,
    body,
    terminated: () => decodeChunked(connection.bytes().subarray(head().bodyStart)).terminated,
    lines,
    frames: () => lines().filter((line) => line !== "{}").map((line) => JSON.parse(line) as WireFrame),
    heartbeats: () => lines().filter((line) => line === "{}").length,
    until: (done, what, timeoutMs) => connection.until(done, what, timeoutMs),
  };
  return stream;
}

function fixtureBytes(name: string): Buffer {
  return readFileSync(join(DERIVED, name));
}

function fixtureLine(name: string): string {
  return fixtureBytes(`frame_${name}.ndjson`).toString("utf8").replace(/\n$/, "");
}

/** Publishes a fixture frame at its own index, so the served line can equal the file. */
function publishFixture(server: NomadProtocolServer, ...names: string[]): void {
  const frames = names.map((name) => parseFrameLine(fixtureLine(name), name));
  server.publish(
    frames.map((frame) => frame.events),
    { index: frames[0]?.index ?? 0 },
  );
}

const job = (id: string, namespace = "default"): PublishEvent => ({ Topic: "Job", Type: "JobRegistered", Key: id, Namespace: namespace, FilterKeys: null, Payload: { Job: { ID: id, Namespace: namespace } } });
const evaluation = (id: string, jobId: string, deploymentId = "", namespace = "default"): PublishEvent => ({
  Topic: "Evaluation",
  Type: "JobRegistered",
  Key: id,
  Namespace: namespace,
  FilterKeys: [jobId, deploymentId],
  Payload: { Evaluation: { ID: id, JobID: jobId } },
});
const allocation = (id: string, jobId: string, deploymentId = "", namespace = "default"): PublishEvent => ({
  Topic: "Allocation",
  Type: "AllocationUpdated",
  Key: id,
  Namespace: namespace,
  FilterKeys: [jobId, deploymentId],
  Payload: { Allocation: { ID: id, JobID: jobId } },
});
const node = (id: string): PublishEvent => ({ Topic: "Node", Type: "NodeRegistration", Key: id, Namespace: "", FilterKeys: null, Payload: { Node: { ID: id } } });

const keysOf = (frames: WireFrame[]): string[] => frames.flatMap((frame) => frame.Events.map((event) => event.Key));
const framesOf = (frames: WireFrame[]): string[] => frames.map((frame) => `${frame.Index}:${frame.Events.map((event) => event.Key).join("+")}`);

/** Waits for `count` frames, then a little longer, so extra frames would show up too. */
async function settle(stream: Stream, count: number): Promise<WireFrame[]> {
  await stream.until(() => stream.heartbeats() >= 1 && stream.frames().length >= count, `${count} frames`);
  await sleep(60);
  return stream.frames();
}

describe("wire bytes of each era", () => {
  it("chunked: the body matches the <=1.11.1 fixture byte for byte, one chunk per frame and one per newline, then the terminator", async () => {
    // The fixture job lives in namespace "apps".
    const server = await start({ era: "chunked", namespaces: ["default", "apps"] });
    publishFixture(server, "job-registered");
    publishFixture(server, "evaluation-updated");
    const stream = await openStream(server, "?index=0&namespace=*");
    await stream.until(() => stream.frames().length === 2, "both frames");
    server.endStreams();
    await stream.until(() => stream.connection.endsWith("0\r\n\r\n"), "the terminator");

    const fixture = fixtureBytes("http-wire_pre-1.11.2_chunked_identity.bin");
    const fixtureHead = parseHead(fixture);
    const head = stream.head();
    expect(stream.connection.bytes().subarray(head.bodyStart).equals(fixture.subarray(fixtureHead?.bodyStart))).toBe(true);
    expect(decodeChunked(stream.connection.bytes().subarray(head.bodyStart)).chunks.map((chunk) => chunk.length)).toEqual([2, 1, 2503, 1, 1426, 1]);

    expect(head.statusLine).toBe("HTTP/1.1 200 OK");
    // Node adds Connection/Keep-Alive and its own Date; every header of the fixture is there.
    for (const line of fixtureHead?.lines ?? []) {
      if (!line.startsWith("Date:")) expect(head.lines).toContain(line);
    }
    expect(head.header("date")).toMatch(/GMT$/);
    expect(head.header("content-length")).toBeUndefined();
    expect(head.header("content-encoding")).toBeUndefined();
  });

  it("hijacked: the whole response matches the >=1.11.3 fixture byte for byte: raw head, NDJSON, then FIN", async () => {
    const server = await start({ era: "hijacked", namespaces: ["default", "apps"] });
    publishFixture(server, "job-registered");
    publishFixture(server, "evaluation-updated");
    const stream = await openStream(server, "?index=0&namespace=*", { headers: { "Accept-Encoding": "gzip" } });
    await stream.until(() => stream.frames().length === 2, "both frames");
    server.endStreams();
    await stream.connection.closedAt;
    const fixture = fixtureBytes("http-wire_1.11.3plus_hijacked.bin");
    expect(stream.connection.bytes().toString("latin1")).toBe(fixture.toString("latin1"));
    expect(stream.head().header("transfer-encoding")).toBeUndefined();
    expect(stream.head().header("content-encoding")).toBeUndefined();
    expect(stream.head().header("date")).toBeUndefined();
  });

  it("chunked with Accept-Encoding: gzip streams gzip, sync-flushed so each frame decodes before the stream ends", async () => {
    const server = await start({ era: "chunked" });
    const stream = await openStream(server, "?index=0", { headers: { "Accept-Encoding": "gzip" } });
    const compressed = (): Buffer => Buffer.concat(decodeChunked(stream.connection.bytes().subarray(stream.head().bodyStart)).chunks);
    const partial = (): string => {
      if (parseHead(stream.connection.bytes()) === undefined || compressed().length === 0) return "";
      return gunzipSync(compressed(), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString("utf8");
    };
    await stream.until(() => partial() === "{}\n", "the gzip heartbeat");
    expect(stream.head().header("content-encoding")).toBe("gzip");
    expect(stream.head().header("vary")).toBe("Accept-Encoding");
    server.publish([[job("web")]]);
    await stream.until(() => partial().includes('"Key":"web"'), "the gzip frame");
    server.endStreams();
    await stream.until(() => stream.connection.endsWith("0\r\n\r\n"), "the terminator");
    expect(gunzipSync(compressed()).toString("utf8")).toBe(
      '{}\n{"Index":1,"Events":[{"Topic":"Job","Type":"JobRegistered","Key":"web","Namespace":"default","FilterKeys":null,"Index":1,"Payload":{"Job":{"ID":"web","Namespace":"default"}}}]}\n',
    );
  });

  it("chunked with Accept-Encoding: deflate streams raw DEFLATE (Go's compress/flate), and gzip;q=1 is not recognised", async () => {
    const server = await start({ era: "chunked" });
    const deflated = await openStream(server, "", { headers: { "Accept-Encoding": "br, deflate, gzip" } });
    const weighted = await openStream(server, "", { headers: { "Accept-Encoding": "gzip;q=1.0" } });
    const inflated = (): string => {
      const head = parseHead(deflated.connection.bytes());
      if (head === undefined) return "";
      const compressed = Buffer.concat(decodeChunked(deflated.connection.bytes().subarray(head.bodyStart)).chunks);
      return compressed.length === 0 ? "" : inflateRawSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString("utf8");
    };
    await deflated.until(() => inflated() === "{}\n", "the inflated heartbeat");
    await weighted.until(() => weighted.lines().length === 1, "identity heartbeat");
    expect(deflated.head().header("content-encoding")).toBe("deflate");
    expect(weighted.head().header("content-encoding")).toBeUndefined();
    expect(weighted.lines()).toEqual(["{}"]);
  });

  it("frames keep Nomad's field order and leave <, > and & unescaped", async () => {
    const server = await start({ era: "hijacked" });
    const stream = await openStream(server);
    server.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "a<b>&c", Payload: { Job: { Template: "{{ if gt 1 0 }}<&>{{ end }}" } } }]]);
    await stream.until(() => stream.frames().length === 1, "the frame");
    expect(stream.lines()[1]).toBe('{"Index":1,"Events":[{"Topic":"Job","Type":"JobRegistered","Key":"a<b>&c","Namespace":"","FilterKeys":null,"Index":1,"Payload":{"Job":{"Template":"{{ if gt 1 0 }}<&>{{ end }}"}}}]}');
  });
});

describe("raw JSON payloads", () => {
  it("are written verbatim, so Go's uint64 nanoseconds survive, and must be compact", async () => {
    const server = await start({ era: "hijacked" });
    const stream = await openStream(server);
    const payload = '{"Evaluation":{"ID":"e1","CreateTime":1647394818583344123}}';
    server.publish([[{ Topic: "Evaluation", Type: "EvaluationUpdated", Key: "e1", Namespace: "default", FilterKeys: ["web", ""], Payload: rawJson(payload) }]]);
    await stream.until(() => stream.frames().length === 1, "the frame");
    expect(stream.lines()[1]).toBe(`{"Index":1,"Events":[{"Topic":"Evaluation","Type":"EvaluationUpdated","Key":"e1","Namespace":"default","FilterKeys":["web",""],"Index":1,"Payload":${payload}}]}`);
    expect(server.emitted()[0]?.Events[0]?.Payload).toEqual(JSON.parse(payload));
    expect(() => server.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "k", Payload: rawJson('{\n  "Job": {}\n}') }]])).toThrow(/compact/);
    expect(() => server.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "k", Payload: rawJson("[1]") }]])).toThrow(/object or null/);
    expect(server.lastIndex).toBe(1);
  });
});

describe.each(ERAS)("errors before the stream (%s era)", (era) => {
  const plain = async (server: NomadProtocolServer, target: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<{ head: ResponseHead; body: Buffer }> => {
    const connection = await rawRequest(server.url, target, options);
    connections.push(connection);
    await connection.until(() => {
      const head = parseHead(connection.bytes());
      return head !== undefined && connection.length >= head.bodyStart + Number(head.header("content-length"));
    }, "a complete response");
    const head = parseHead(connection.bytes()) as ResponseHead;
    return { head, body: connection.bytes().subarray(head.bodyStart) };
  };

  it("405 Invalid method for anything but GET", async () => {
    const server = await start({ era });
    for (const method of ["POST", "PUT", "DELETE"]) {
      const { head, body } = await plain(server, "/v1/event/stream?index=0", { method, headers: { "Content-Length": "0" } });
      expect(head.status).toBe(405);
      expect(body.toString()).toBe("Invalid method");
      expect(head.header("content-type")).toBe("text/plain; charset=utf-8");
    }
  });

  it("400 with Go's strconv texts for a bad index", async () => {
    const server = await start({ era });
    const cases: Array<[string, string]> = [
      ["x", 'Unable to parse index: strconv.Atoi: parsing "x": invalid syntax'],
      ["1.5", 'Unable to parse index: strconv.Atoi: parsing "1.5": invalid syntax'],
      ["99999999999999999999", 'Unable to parse index: strconv.Atoi: parsing "99999999999999999999": value out of range'],
      ["%22q%22", 'Unable to parse index: strconv.Atoi: parsing "\\"q\\"": invalid syntax'],
      ["-1", "Invalid index"],
    ];
    for (const [index, message] of cases) {
      const { head, body } = await plain(server, `/v1/event/stream?index=${index}`);
      expect(head.status, index).toBe(400);
      expect(body.toString(), index).toBe(message);
      expect(head.header("cache-control")).toBeUndefined();
    }
  });

  it("400 for a topic with more than one colon, quoting the raw value", async () => {
    const server = await start({ era });
    const { head, body } = await plain(server, "/v1/event/stream?topic=Job&topic=Job%3Aa%3Ab");
    expect(head.status).toBe(400);
    expect(body.toString()).toBe("Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: Job:a:b");
  });

  it("error bodies are compressed when the client accepts gzip (gorilla wraps every response)", async () => {
    const server = await start({ era });
    const { head, body } = await plain(server, "/v1/event/stream?index=x", { headers: { "Accept-Encoding": "gzip" } });
    expect(head.status).toBe(400);
    expect(head.header("content-encoding")).toBe("gzip");
    expect(gunzipSync(body).toString()).toBe('Unable to parse index: strconv.Atoi: parsing "x": invalid syntax');
  });

  it("accepts X-Nomad-Token (trimmed) and Authorization: Bearer; other schemes do not count", async () => {
    const server = await start({ era, token: "s3cret" });
    const ok1 = await openStream(server, "", { headers: { "X-Nomad-Token": "  s3cret " } });
    const ok2 = await openStream(server, "", { headers: { Authorization: "Bearer s3cret" } });
    for (const stream of [ok1, ok2]) await stream.until(() => stream.heartbeats() === 1, "a heartbeat");
    expect(server.activeStreams()).toBe(2);
    server.setToken("other");
    const refused = await openStream(server, "", { headers: { Authorization: "Basic s3cret" } });
    await refused.until(() => parseHead(refused.connection.bytes()) !== undefined, "a head");
    expect(server.activeStreams()).toBe(2);
  });
});

describe("token failures", () => {
  it("chunked: 403 Permission denied before streaming, with the headers EventStream had set", async () => {
    const server = await start({ era: "chunked", token: "s3cret" });
    const attempts: Array<Record<string, string>> = [{}, { "X-Nomad-Token": "wrong" }];
    for (const headers of attempts) {
      const connection = await rawRequest(server.url, "/v1/event/stream?index=0", { headers });
      connections.push(connection);
      await connection.until(() => connection.endsWith("Permission denied"), "the 403 body");
      const head = parseHead(connection.bytes()) as ResponseHead;
      expect(head.statusLine).toBe("HTTP/1.1 403 Forbidden");
      expect(head.header("content-type")).toBe("text/plain; charset=utf-8");
      expect(head.header("cache-control")).toBe("no-cache");
      expect(head.header("vary")).toBe("Accept-Encoding");
      expect(head.header("content-length")).toBe("17");
      expect(connection.bytes().subarray(head.bodyStart).toString()).toBe("Permission denied");
    }
  });

  it("hijacked: the silent 403 is a 200 head, then nothing at all, and the socket stays open", async () => {
    const server = await start({ era: "hijacked", token: "s3cret", heartbeatMs: 50 });
    server.publish([[job("web")]]);
    const stream = await openStream(server, "?index=0", { headers: { "X-Nomad-Token": "wrong" } });
    await stream.until(() => stream.connection.length >= HIJACKED_RESPONSE_HEAD.length, "the head");
    await sleep(250);
    server.publish([[job("api")]]);
    await sleep(50);
    expect(stream.connection.bytes().toString("latin1")).toBe(HIJACKED_RESPONSE_HEAD);
    expect(stream.connection.closed).toBe(false);
    expect(server.activeStreams()).toBe(0);
    server.dropConnections();
    await stream.connection.closedAt;
    expect(stream.connection.bytes().toString("latin1")).toBe(HIJACKED_RESPONSE_HEAD);
  });
});

describe("heartbeats", () => {
  it("sends {} at once, then on a fixed ticker that events do not reset", async () => {
    const server = await start({ era: "hijacked", heartbeatMs: 200 });
    const opened = Date.now();
    const stream = await openStream(server);
    const beats: number[] = [];
    for (let count = 1; count <= 4; count++) {
      await stream.until(() => stream.heartbeats() >= count, `heartbeat ${count}`);
      beats.push(Date.now());
      // An event in the middle of an interval: a reset ticker would push the next beat 150 ms later.
      if (count === 2) setTimeout(() => server.publish([[job("web")]]), 150);
    }
    expect((beats[0] ?? Infinity) - opened).toBeLessThan(120);
    const gaps = beats.slice(1).map((at, i) => at - (beats[i] ?? -Infinity));
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(150);
      expect(gap).toBeLessThan(290);
    }
    expect(stream.lines().map((line) => (line === "{}" ? "{}" : "frame"))).toEqual(["{}", "{}", "frame", "{}", "{}"]);
  });

  it("stopHeartbeats suppresses the immediate {} and the ticker; resumeHeartbeats brings them back", async () => {
    const server = await start({ era: "hijacked", heartbeatMs: 60 });
    server.stopHeartbeats();
    const stream = await openStream(server);
    await stream.until(() => stream.connection.length >= HIJACKED_RESPONSE_HEAD.length, "the head");
    await sleep(250);
    expect(stream.body().length).toBe(0);
    server.resumeHeartbeats();
    await stream.until(() => stream.heartbeats() >= 2, "heartbeats again", 2_000);
    expect(stream.lines().every((line) => line === "{}")).toBe(true);
  });
});

describe("index semantics", () => {
  it.each([
    ["index=0 replays the whole buffer", "?index=0", ["10:job-a", "10:eval-a", "20:n1", "30:job-b"]],
    ["no index is index=0", "", ["10:job-a", "10:eval-a", "20:n1", "30:job-b"]],
    ["an index older than the buffer starts at the oldest item", "?index=3", ["10:job-a", "10:eval-a", "20:n1", "30:job-b"]],
    ["the item at index N is re-sent (inclusive), with every frame of that index", "?index=10", ["10:job-a", "10:eval-a", "20:n1", "30:job-b"]],
    ["N+1 starts at the next index", "?index=11", ["20:n1", "30:job-b"]],
    ["an index between items starts at the next one", "?index=25", ["30:job-b"]],
    ["an index newer than everything still gets the newest item", "?index=31", ["30:job-b"]],
    ["an index far in the future still gets the newest item", "?index=9007199254740991", ["30:job-b"]],
  ])("%s", async (_name, query, expected) => {
    const server = await start({ era: "hijacked" });
    server.publish([[job("job-a")], [evaluation("eval-a", "job-a")]], { index: 10 });
    server.publish([[node("n1")]], { index: 20 });
    server.publish([[job("job-b")]], { index: 30 });
    const stream = await openStream(server, query);
    expect(framesOf(await settle(stream, expected.length))).toEqual(expected);
  });

  it("several frames share an index, and beyond the newest index only the last frame (the newest item) comes", async () => {
    const server = await start({ era: "chunked" });
    expect(server.publish([[job("web")], [evaluation("e1", "web")]])).toBe(1);
    const all = await openStream(server, "?index=0");
    const beyond = await openStream(server, "?index=2");
    expect(framesOf(await settle(all, 2))).toEqual(["1:web", "1:e1"]);
    expect(framesOf(await settle(beyond, 1))).toEqual(["1:e1"]);
  });

  it("after the replay, live frames follow in publish order, and empty transactions send nothing but use the index", async () => {
    const server = await start({ era: "chunked" });
    server.publish([[job("old")]]);
    const stream = await openStream(server, "?index=0");
    expect(server.publish([[], [node("n1")]])).toBe(2);
    expect(server.publish([])).toBe(3);
    expect(server.publish([[job("new")]], { index: 9 })).toBe(9);
    expect(() => server.publish([[job("stale")]], { index: 9 })).toThrow(RangeError);
    expect(framesOf(await settle(stream, 3))).toEqual(["1:old", "2:n1", "9:new"]);
    expect(server.emitted().map((frame) => frame.Index)).toEqual([1, 2, 9]);
  });
});

describe("event buffer size", () => {
  it("keeps bufferSize + 1 items once it evicts, counting each frame of an index as an item", async () => {
    const server = await start({ era: "hijacked", bufferSize: 3 });
    server.publish([[job("j1")]]);
    server.publish([[job("j2")], [evaluation("e2", "j2")]]);
    server.publish([[job("j3")]]);
    expect(server.retained().map((frame) => frame.Events[0]?.Key)).toEqual(["j1", "j2", "e2", "j3"]);
    server.publish([[job("j4")]]);
    expect(server.retained().map((frame) => frame.Events[0]?.Key)).toEqual(["j2", "e2", "j3", "j4"]);
    server.publish([[job("j5")]]);
    // The Job frame of index 2 is gone, its Evaluation frame is still there.
    expect(server.retained().map((frame) => frame.Events[0]?.Key)).toEqual(["e2", "j3", "j4", "j5"]);
    const stream = await openStream(server, "?index=0");
    expect(framesOf(await settle(stream, 4))).toEqual(["2:e2", "3:j3", "4:j4", "5:j5"]);
    const fromOne = await openStream(server, "?index=1");
    expect(framesOf(await settle(fromOne, 4))).toEqual(["2:e2", "3:j3", "4:j4", "5:j5"]);
    expect(server.emitted().map((frame) => frame.Events[0]?.Key)).toEqual(["j1", "j2", "e2", "j3", "j4", "j5"]);
  });

  it("defaults to 100: after 150 indexes, index=0 replays the newest 101", async () => {
    const server = await start({ era: "hijacked" });
    for (let i = 1; i <= 150; i++) server.publish([[job(`j${i}`)]]);
    const stream = await openStream(server, "?index=0");
    const frames = await settle(stream, 101);
    expect(frames).toHaveLength(101);
    expect(frames[0]?.Index).toBe(50);
    expect(frames.at(-1)?.Index).toBe(150);
  });
});

describe("filters", () => {
  const publishAll = (server: NomadProtocolServer): void => {
    server.publish([[job("web")]]);
    server.publish([[job("api")]]);
    server.publish([[evaluation("e1", "web", "")]]);
    server.publish([[evaluation("e2", "api", "d1")]]);
    server.publish([[node("n1")]]);
    server.publish([[allocation("a1", "web", "d1")]]);
  };

  it.each([
    ["no topic means *:*", "", ["web", "api", "e1", "e2", "n1", "a1"]],
    ["topic=Job means Job:*", "?topic=Job", ["web", "api"]],
    ["a key matches the event Key", "?topic=Job:web", ["web"]],
    ["an escaped colon is the same", "?topic=Job%3Aweb", ["web"]],
    ["repeated topics accumulate keys", "?topic=Job:web&topic=Job:api", ["web", "api"]],
    ["* is a wildcard only as the sole key", "?topic=Job:*&topic=Job:web", ["web"]],
    ["an empty key matches an empty FilterKey (no deployment)", "?topic=Evaluation:", ["e1"]],
    ["keys match FilterKeys too", "?topic=Allocation:d1&topic=Evaluation:d1", ["e2", "a1"]],
    ["keys under * apply to every topic", "?topic=*:web", ["web", "e1", "a1"]],
    ["several topics", "?topic=Node&topic=Job:api", ["api", "n1"]],
    ["an event matching two keys comes once (no duplicate-append quirk)", "?topic=Allocation:web&topic=Allocation:d1", ["a1"]],
    ["an unknown topic matches nothing", "?topic=Nope", []],
  ])("%s", async (_name, query, expected) => {
    const server = await start({ era: "hijacked" });
    publishAll(server);
    const stream = await openStream(server, `${query}${query === "" ? "?" : "&"}index=0`);
    expect(keysOf(await settle(stream, expected.length))).toEqual(expected);
  });

  it("filters events inside a frame and keeps the frame's index; a frame filtered empty is not sent", async () => {
    const server = await start({ era: "chunked" });
    server.publish([[allocation("a1", "web", "d1"), { Topic: "Deployment", Type: "PlanResult", Key: "d1", Namespace: "default", FilterKeys: ["web"], Payload: { Deployment: { ID: "d1" } } }]]);
    server.publish([[job("web")]]);
    const stream = await openStream(server, "?index=0&topic=Deployment");
    const frames = await settle(stream, 1);
    expect(frames).toHaveLength(1);
    expect(frames[0]?.Index).toBe(1);
    expect(frames[0]?.Events.map((event) => event.Key)).toEqual(["d1"]);
  });

  it("namespace: default by default, * is every namespace existing at subscribe time, empty-namespace events always pass", async () => {
    const server = await start({ era: "hijacked", namespaces: ["default", "apps"] });
    const wildcard = await openStream(server, "?namespace=*");
    const byDefault = await openStream(server);
    const apps = await openStream(server, "?namespace=apps");
    server.addNamespace("late");
    const lateWildcard = await openStream(server, "?namespace=%2A");
    server.publish([[job("in-default", "default")]]);
    server.publish([[job("in-apps", "apps")]]);
    server.publish([[job("in-late", "late")]]);
    server.publish([[job("in-missing", "missing")]]);
    server.publish([[node("n1")]]);
    expect(keysOf(await settle(wildcard, 3))).toEqual(["in-default", "in-apps", "n1"]);
    expect(keysOf(await settle(byDefault, 2))).toEqual(["in-default", "n1"]);
    expect(keysOf(await settle(apps, 2))).toEqual(["in-apps", "n1"]);
    expect(keysOf(await settle(lateWildcard, 4))).toEqual(["in-default", "in-apps", "in-late", "n1"]);
  });
});

describe("ends of a stream", () => {
  it("chunked failMidstream: the message as raw body text, then a clean chunked end (the fixture, byte for byte)", async () => {
    const server = await start({ era: "chunked" });
    const stream = await openStream(server);
    await stream.until(() => stream.heartbeats() === 1, "the heartbeat");
    expect(server.activeStreams()).toBe(1);
    server.failMidstream();
    await stream.until(() => stream.connection.endsWith("0\r\n\r\n"), "the terminator");
    const fixture = fixtureBytes("http-wire_pre-1.11.2_midstream-error.bin");
    expect(stream.connection.bytes().subarray(stream.head().bodyStart).toString("latin1")).toBe(fixture.subarray(parseHead(fixture)?.bodyStart).toString("latin1"));
    expect(stream.body().toString()).toBe("{}\nsubscription closed by server, client should resubscribe");
    expect(server.activeStreams()).toBe(0);
  });

  it("chunked failMidstream through gzip: the text is compressed like the frames", async () => {
    const server = await start({ era: "chunked" });
    const stream = await openStream(server, "", { headers: { "Accept-Encoding": "gzip" } });
    await stream.until(() => parseHead(stream.connection.bytes()) !== undefined && stream.connection.length > stream.head().bodyStart, "gzip bytes");
    server.failMidstream("ACL token expired");
    await stream.until(() => stream.connection.endsWith("0\r\n\r\n"), "the terminator");
    expect(gunzipSync(stream.body()).toString()).toBe("{}\nACL token expired");
  });

  it("hijacked failMidstream: silence, no more heartbeats or frames, and the socket stays open", async () => {
    const server = await start({ era: "hijacked", heartbeatMs: 50 });
    const stream = await openStream(server);
    await stream.until(() => stream.heartbeats() >= 2, "two heartbeats");
    server.failMidstream();
    const before = stream.connection.length;
    server.publish([[job("web")]]);
    await sleep(250);
    expect(stream.connection.length).toBe(before);
    expect(stream.connection.closed).toBe(false);
    expect(server.activeStreams()).toBe(0);
  });

  it.each(ERAS)("dropConnections (%s) closes stream sockets abruptly: no terminator", async (era) => {
    const server = await start({ era });
    server.publish([[job("web")]]);
    const stream = await openStream(server, "?index=0");
    await stream.until(() => stream.frames().length === 1, "the frame");
    server.dropConnections();
    await stream.connection.closedAt;
    if (era === "chunked") expect(stream.terminated()).toBe(false);
    expect(stream.heartbeats()).toBe(1);
    expect(stream.frames().map((frame) => frame.Events[0]?.Key)).toEqual(["web"]);
    expect(server.activeStreams()).toBe(0);
    // The server itself is still up.
    const again = await openStream(server, "?index=0");
    await again.until(() => again.frames().length === 1, "the replay");
  });

  it("a reader whose socket is full falls behind; once its frame is evicted it gets 'event dropped from buffer'", async () => {
    const server = await start({ era: "chunked", bufferSize: 2 });
    const stream = await openStream(server);
    await stream.until(() => stream.heartbeats() === 1, "the heartbeat");
    // No socket takes 12 MB at once, so the reader is still writing "big" while the next
    // three publishes evict it (bufferSize 2 keeps 3 items).
    server.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "big", Namespace: "default", Payload: { Blob: "x".repeat(12_000_000) } }]]);
    server.publish([[job("a")]]);
    server.publish([[job("b")]]);
    server.publish([[job("c")]]);
    await stream.until(() => stream.connection.endsWith("0\r\n\r\n"), "the terminator", 15_000);
    const body = stream.body().toString();
    expect(body.endsWith("}\nevent dropped from buffer")).toBe(true);
    expect(stream.frames().map((frame) => frame.Events[0]?.Key)).toEqual(["big"]);
  });
});

describe.each(ERAS)("a ~10 MB PlanResult frame (%s era)", (era) => {
  it("arrives intact as one line, without stalling the event loop", async () => {
    const server = await start({ era });
    const factory = createEventFactory();
    const frames = factory.planResult({ jobId: "big", allocations: 3_500 });
    const stream = await openStream(server);
    await stream.until(() => stream.heartbeats() === 1, "the heartbeat");
    server.publish(frames);
    let worstLag = 0;
    let last = Date.now();
    const ticker = setInterval(() => {
      const now = Date.now();
      worstLag = Math.max(worstLag, now - last);
      last = now;
    }, 5);
    try {
      await stream.until(() => stream.connection.endsWith("]}\n") || stream.connection.endsWith("]}\r\n1\r\n\n\r\n"), "the whole frame", 15_000);
    } finally {
      clearInterval(ticker);
    }
    const lines = stream.lines();
    expect(lines).toHaveLength(2);
    const line = lines[1] ?? "";
    expect(Buffer.byteLength(line)).toBeGreaterThan(10 * 1024 * 1024);
    const frame = JSON.parse(line) as WireFrame;
    expect(frame.Events).toHaveLength(3_502);
    expect(frame).toEqual(server.emitted()[0]);
    if (era === "chunked") {
      const chunks = decodeChunked(stream.connection.bytes().subarray(stream.head().bodyStart)).chunks;
      expect(chunks.map((chunk) => chunk.length)).toEqual([2, 1, Buffer.byteLength(line), 1]);
    }
    expect(worstLag).toBeLessThan(250);
  });
});

describe("fixture frames", () => {
  it("serves every derived fixture frame byte for byte at its own index", async () => {
    const fixtures = loadFixtureFrames();
    expect(fixtures?.length).toBe(13);
    const server = await start({ era: "hijacked", namespaces: ["default", "apps"] });
    const byIndex = new Map<number, string[]>();
    for (const fixture of fixtures ?? []) byIndex.set(fixture.index, [...(byIndex.get(fixture.index) ?? []), fixture.name]);
    const order = [...byIndex.entries()].sort(([a], [b]) => a - b);
    for (const [, names] of order) publishFixture(server, ...names);
    const stream = await openStream(server, "?index=0&namespace=*");
    await settle(stream, 13);
    const expected = order.flatMap(([, names]) => names.map((name) => fixtureLine(name)));
    expect(stream.lines().slice(1)).toEqual(expected);
  });

  it("rejects a frame that is not in compact wire form, and reports a missing fixtures directory as undefined", () => {
    expect(() => parseFrameLine('{"Index":1, "Events":[]}')).toThrow(/not a compact Nomad frame/);
    expect(() => parseFrameLine('{"Index":1,"Events":[{"Topic":"Job","Type":"T","Key":"k","Namespace":"","FilterKeys":null,"Index":1,"Payload":null,"Extra":1}]}')).toThrow(/after Payload/);
    expect(loadFixtureFrames(join(DEFAULT_FIXTURES_DIR, "does-not-exist"))).toBeUndefined();
  });

  it.each([
    ["fixtures", undefined],
    ["built-in", null],
  ] as const)("the event factory (%s payloads) builds Nomad's envelopes for a job's life", async (source, fixturesDir) => {
    const factory = createEventFactory({ fixturesDir });
    expect(factory.source).toBe(source);
    const server = await start({ era: "chunked", namespaces: ["default", "apps"] });
    const stream = await openStream(server, "?index=0&namespace=*");
    server.publish(factory.nodeRegistration({ nodeId: "n1" }));
    server.publish(factory.jobRegistered({ jobId: "web", namespace: "apps", evalId: "e1", index: server.lastIndex + 1 }));
    server.publish(factory.planResult({ jobId: "web", namespace: "apps", allocations: 2, evalId: "e1", deploymentId: "d1" }));
    server.publish(factory.allocationUpdated({ allocId: "a1", jobId: "web", namespace: "apps", deploymentId: "d1" }));
    server.publish(factory.deploymentStatusUpdate({ deploymentId: "d1", jobId: "web", namespace: "apps" }));
    server.publish(factory.jobDeregistered({ jobId: "web", namespace: "apps" }));
    const frames = await settle(stream, 7);
    const envelope = (event: NomadEvent): string => `${event.Topic}/${event.Type}/${event.Key}/${event.Namespace}/${JSON.stringify(event.FilterKeys)}`;
    expect(frames.map((frame) => `${frame.Index}:${frame.Events.length}`)).toEqual(["1:1", "2:1", "2:1", "3:4", "4:1", "5:1", "6:1"]);
    expect(frames[0]?.Events.map(envelope)).toEqual(["Node/NodeRegistration/n1//null"]);
    expect(frames[1]?.Events.map(envelope)).toEqual(["Job/JobRegistered/web/apps/null"]);
    expect(frames[2]?.Events.map(envelope)).toEqual(['Evaluation/JobRegistered/e1/apps/["web",""]']);
    expect(frames[3]?.Events.slice(2).map(envelope)).toEqual(['Deployment/PlanResult/d1/apps/["web"]', 'Evaluation/PlanResult/e1/apps/["web",""]']);
    expect(frames[3]?.Events[0]?.FilterKeys).toEqual(["web", "d1"]);
    expect(frames[4]?.Events.map(envelope)).toEqual(['Allocation/AllocationUpdated/a1/apps/["web","d1"]']);
    expect(frames[5]?.Events.map(envelope)).toEqual(['Deployment/DeploymentStatusUpdate/d1/apps/["web"]']);
    expect(frames[6]?.Events[0]?.Payload).toMatchObject({ Deleted: true, Job: { ID: "web", Namespace: "apps" } });
    expect(frames[1]?.Events[0]?.Payload).toMatchObject({ Job: { ID: "web", Namespace: "apps", CreateIndex: 2 } });
    const alloc = frames[3]?.Events[0]?.Payload?.Allocation as Record<string, unknown> | undefined;
    expect(alloc?.Job).toBeNull();
    // Fixture payloads carry the docs' fields (Metrics, TaskStates); built-in ones are smaller.
    expect(alloc !== undefined && "Metrics" in alloc).toBe(source === "fixtures");
  });
});

describe("GET /v1/namespaces and the request log", () => {
  it("lists namespaces as Nomad's JSON array, sorted, including ones added later", async () => {
    const server = await start({ era: "hijacked", namespaces: ["default", "apps"] });
    server.addNamespace("zeta", "added later");
    const response = await fetch(`${server.url}/v1/namespaces`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-nomad-index")).toBe("1");
    const list = (await response.json()) as Array<Record<string, unknown>>;
    expect(list.map((ns) => ns.Name)).toEqual(["apps", "default", "zeta"]);
    expect(list[1]).toMatchObject({ Name: "default", Description: "Default shared namespace", Quota: "", CreateIndex: 1, ModifyIndex: 1 });
    expect(list[2]).toMatchObject({ Name: "zeta", Description: "added later", CreateIndex: 1, ModifyIndex: 1 });
    expect(server.publish([[job("web")]])).toBe(2);
    expect((await fetch(`${server.url}/v1/namespaces?prefix=a`).then((r) => r.json() as Promise<Array<{ Name: string }>>)).map((ns) => ns.Name)).toEqual(["apps"]);
    expect((await fetch(`${server.url}/v1/namespaces`, { method: "POST" })).status).toBe(405);
  });

  it("with a token: anonymous sees no namespace, a wrong token gets 403, the token sees all", async () => {
    const server = await start({ era: "chunked", token: "s3cret" });
    expect(await fetch(`${server.url}/v1/namespaces`).then((r) => r.json())).toEqual([]);
    const wrong = await fetch(`${server.url}/v1/namespaces`, { headers: { "X-Nomad-Token": "nope" } });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toBe("ACL token not found");
    const list = (await fetch(`${server.url}/v1/namespaces`, { headers: { Authorization: "Bearer s3cret" } }).then((r) => r.json())) as Array<{ Name: string }>;
    expect(list.map((ns) => ns.Name)).toEqual(["default"]);
  });

  it("records every request: method, target, decoded query and headers", async () => {
    const server = await start({ era: "hijacked" });
    const stream = await openStream(server, "?index=3&topic=Job%3Aweb&topic=Node&namespace=%2A", { headers: { "X-Nomad-Token": "t0k" } });
    await stream.until(() => stream.heartbeats() === 1, "the heartbeat");
    await fetch(`${server.url}/v1/namespaces`);
    const [first, second] = server.requests();
    expect(first).toMatchObject({ method: "GET", url: "/v1/event/stream?index=3&topic=Job%3Aweb&topic=Node&namespace=%2A", path: "/v1/event/stream" });
    expect(first?.query).toEqual({ index: ["3"], topic: ["Job:web", "Node"], namespace: ["*"] });
    expect(first?.headers["x-nomad-token"]).toBe("t0k");
    expect(second?.path).toBe("/v1/namespaces");
    expect(server.requests()).toHaveLength(2);
  });
});
