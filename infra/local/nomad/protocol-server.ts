/**
 * A Nomad event-stream server for tests and the local runtime's simulated cluster. It
 * speaks `GET /v1/event/stream` the way a Nomad server agent does (EVENT-STREAM-SPEC.md,
 * sections 1 and 2, in the team's reference material), plus `GET /v1/namespaces`.
 *
 * ```ts
 * const nomad = await startNomadProtocolServer({ era: "hijacked", heartbeatMs: 200 });
 * const index = nomad.publish([[jobEvent], [evalEvent]]); // two frames (transactions), one raft index
 * // a client reads `${nomad.url}/v1/event/stream?index=0&topic=Job`
 * nomad.emitted();           // every frame published, with its Index: what tests compare against
 * nomad.failMidstream();     // or endStreams(), dropConnections()
 * await nomad.close();
 * ```
 *
 * Options (only `era` is required):
 * - `era: "chunked"`: Nomad 1.10 – 1.11.1 (the framing is that of every release since 1.0):
 *   `Transfer-Encoding: chunked`, one chunk per frame and one for its "\n", gzip or raw
 *   deflate per gorilla/handlers' reading of `Accept-Encoding`; errors are real statuses
 *   with `text/plain; charset=utf-8` bodies. Node adds `Connection: keep-alive` and
 *   `Keep-Alive` headers that Go does not send; nothing else in the head differs.
 * - `era: "hijacked"`: Nomad >= 1.11.3: the raw head `HTTP/1.1 200 OK` + `Connection: close`,
 *   no Date, Content-Length or Transfer-Encoding, a body that ends at TCP close, never
 *   compressed. Errors found before the hijack (405, 400) are still normal responses.
 * - `heartbeatMs` (30 000): `{}` at subscribe, then on a fixed ticker that events do not reset.
 * - `bufferSize` (100): Nomad's `event_buffer_size`, quirks included (event-buffer.ts): one
 *   item per frame, and `bufferSize + 1` items once the initial sentinel has been evicted.
 * - `token`: `X-Nomad-Token` (trimmed) or `Authorization: Bearer` must equal it. A failure is
 *   `403 Permission denied` in the chunked era and, in the hijacked era, the 200 head followed
 *   by nothing, the socket left open (what Nomad >= 1.11.2 does after an ACL failure).
 * - `namespaces` (`["default"]`): `namespace=*` means those existing at subscribe time; also
 *   served by `GET /v1/namespaces`.
 * - `host` (`127.0.0.1`), `port` (0: any free port).
 * - `restore`: frames published before this server started (the simulated cluster's
 *   restart). They go into the buffer and `emitted()` in order, exactly as if published at
 *   their Index, and `lastIndex` starts at the given one, so a client resuming with
 *   `index=<a checkpoint>` is served what followed it. Payloads are re-encoded from the
 *   parsed events: a number JSON cannot represent exactly (a raw-JSON nanosecond
 *   timestamp) comes back as the JS number, as `emitted()` already shows it.
 * - `emittedLimit` (unlimited): `emitted()` keeps only the newest frames, so a server that
 *   runs for days (the simulated cluster) does not grow without bound.
 *
 * A request goes through Nomad's checks in Nomad's order: non-GET → 405 `Invalid method`;
 * bad `index` → 400 `Unable to parse index: strconv.Atoi: …`; bad `topic` → 400
 * `Invalid topic query: …`; then the token; then the stream. Events pass when their
 * Namespace is empty or subscribed, and `matchesTopics` accepts them (an event matching
 * two keys is sent once: Nomad's duplicate-append quirk is not reproduced).
 *
 * Subscribers are fed synchronously on every publish, so a reader that keeps up never lags
 * however fast a test publishes. A reader whose socket is full (a multi-MB frame not yet
 * taken) stops advancing, and when its item is evicted meanwhile it gets Nomad's
 * `event dropped from buffer` mid-stream error.
 *
 * Not reproduced: per-topic ACLs (the token is all or nothing), region forwarding (`region`
 * is recorded and ignored), the hijacked writes' 40 s deadline, the `HTTP/0.0` status line of
 * 1.11.2 exactly, the stray `400 Invalid index` Nomad writes into a stream opened with a
 * signed index (this server answers that 400 and stops), stray 400s from `wait`/`stale`, and
 * the buffering between Nomad's subscription and its HTTP writer (JsonStream's channel, the
 * RPC pipe) that decides exactly how far behind a slow reader gets before it is dropped.
 */
import { createServer, type IncomingMessage, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { deflateRawSync, gzipSync } from "node:zlib";
import type { NomadEvent } from "../../../shared/nomad/event";
import { matchesTopics, type TopicFilter } from "../../../shared/nomad/topic-filter";
import { type BufferCursor, DEFAULT_EVENT_BUFFER_SIZE, EVENT_DROPPED_FROM_BUFFER, EventBuffer } from "./event-buffer";
import { chooseContentCoding, parseStreamQuery, requestToken } from "./stream-request";
import { chunkedTransport, compressedChunkedTransport, hijackedTransport, type StreamTransport } from "./stream-transport";
import { encodeFrame, FRAME_DELIMITER, frameLine, HEARTBEAT_FRAME, type EncodedFrame, type PublishFrame } from "./wire-format";
import { httpUrl } from "../http-url";

export type { PublishEvent, PublishFrame } from "./wire-format";
export { rawJson, RawJson } from "./wire-format";

export type NomadStreamEra = "chunked" | "hijacked";

export interface NomadProtocolServerOptions {
  readonly era: NomadStreamEra;
  readonly heartbeatMs?: number;
  readonly bufferSize?: number;
  readonly token?: string;
  readonly namespaces?: readonly string[];
  readonly host?: string;
  readonly port?: number;
  /** Frames published before start, oldest first, and the newest raft index then used. */
  readonly restore?: RestoredHistory;
  /** How many of the newest frames `emitted()` keeps. @default unlimited */
  readonly emittedLimit?: number;
}

/** One frame as published: what a client should eventually see, before its filters. */
export interface EmittedFrame {
  readonly Index: number;
  readonly Events: readonly NomadEvent[];
}

/** What a previous run of a server published: see the `restore` option. */
export interface RestoredHistory {
  /** The newest raft index handed out; at least the newest frame's Index. */
  readonly lastIndex: number;
  /** Frames in publish order (Index never decreasing), as `retained()` returned them. */
  readonly frames: readonly EmittedFrame[];
}

export interface RecordedRequest {
  readonly method: string;
  /** The request target as sent, for example `/v1/event/stream?index=0&topic=Job%3Aweb`. */
  readonly url: string;
  readonly path: string;
  /** Decoded query, every value of every parameter in order. */
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly headers: IncomingHttpHeaders;
}

export interface NomadNamespace {
  readonly Name: string;
  readonly Description: string;
  readonly Quota: string;
  readonly Capabilities: null;
  readonly NodePoolConfiguration: null;
  readonly VaultConfiguration: null;
  readonly ConsulConfiguration: null;
  readonly Meta: null;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

export interface NomadProtocolServer {
  /** `http://127.0.0.1:<port>`, the Nomad address (`NOMAD_ADDR`). */
  readonly url: string;
  readonly era: NomadStreamEra;
  /** The newest raft index handed out (publishes and namespace writes). */
  readonly lastIndex: number;
  /**
   * Publishes one raft index: each inner array is one committed transaction, sent as
   * its own frame, all with the same Index (the next one, or `options.index`, which must
   * be newer). Empty transactions publish nothing, as in Nomad, but still use the index.
   */
  publish(frames: readonly PublishFrame[], options?: { readonly index?: number }): number;
  /**
   * Every frame published so far (restored ones first), in order, including those evicted
   * from the buffer; only the newest `emittedLimit` when that option is set.
   */
  emitted(): readonly EmittedFrame[];
  /** What the buffer retains now, oldest first (what `index=0` would replay). */
  retained(): readonly EmittedFrame[];
  /** Every HTTP request received, in order. */
  requests(): readonly RecordedRequest[];
  /** Event-stream subscriptions currently streaming (not silent, not ended). */
  activeStreams(): number;
  /** Destroys every event-stream socket (streaming or silent): no terminator, like a crash. */
  dropConnections(): void;
  /**
   * Ends every streaming subscription with a mid-stream error. Chunked era: the message as
   * raw text, then a clean chunked end. Hijacked era: silence; the socket stays open.
   */
  failMidstream(message?: string): void;
  /**
   * Ends every stream cleanly: the chunked terminator `0\r\n\r\n`, or a TCP FIN for
   * hijacked streams (how Nomad >= 1.11.2 ends any stream; the client sees EOF).
   */
  endStreams(): void;
  /**
   * Stops `{}` heartbeats, including the immediate one for new subscriptions. In the
   * chunked era the response head leaves with the first write (Nomad's WriteFlusher does
   * not flush earlier), so such a stream sends no head until an event matches.
   */
  stopHeartbeats(): void;
  resumeHeartbeats(): void;
  /** Creates (or updates) a namespace; like any Nomad write it uses a raft index. */
  addNamespace(name: string, description?: string): void;
  setToken(token: string | undefined): void;
  close(): Promise<void>;
}

export const SUBSCRIPTION_CLOSED_BY_SERVER = "subscription closed by server, client should resubscribe";
const DEFAULT_HEARTBEAT_MS = 30_000;
const DEFAULT_NAMESPACE_DESCRIPTION = "Default shared namespace";

function toEmitted(frame: EncodedFrame): EmittedFrame {
  return { Index: frame.index, Events: frame.events.map((event) => event.event) };
}

/** The restored frames, encoded for the buffer; throws when they could not have been published in that order. */
function encodeRestored(restore: RestoredHistory): EncodedFrame[] {
  if (!Number.isSafeInteger(restore.lastIndex) || restore.lastIndex < 0) throw new RangeError(`restore.lastIndex must be a non-negative safe integer, got ${restore.lastIndex}`);
  let previous = 0;
  const encoded: EncodedFrame[] = [];
  for (const [position, frame] of restore.frames.entries()) {
    const index = frame.Index;
    if (!Number.isSafeInteger(index) || index < Math.max(previous, 1) || index > restore.lastIndex) {
      throw new RangeError(`restore.frames[${position}].Index must be an integer from ${Math.max(previous, 1)} to restore.lastIndex ${restore.lastIndex}, got ${index}`);
    }
    const stray = frame.Events.find((event) => event.Index !== index);
    if (stray !== undefined) throw new RangeError(`restore.frames[${position}] has an event with Index ${stray.Index}, the frame ${index}`);
    previous = index;
    // Empty transactions publish nothing, as in publish().
    if (frame.Events.length > 0) encoded.push(encodeFrame(index, frame.Events));
  }
  return encoded;
}

/** Go's `wrap()` error path: a plain-text status, compressed when the client accepts it. */
function sendText(request: IncomingMessage, response: ServerResponse, status: number, text: string, extraHeaders: Record<string, string> = {}): void {
  sendBody(request, response, status, Buffer.from(text, "utf8"), { ...extraHeaders, "Content-Type": "text/plain; charset=utf-8" });
}

function sendBody(request: IncomingMessage, response: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): void {
  const coding = chooseContentCoding(request.headers);
  const encoded = coding === "gzip" ? gzipSync(body) : coding === "deflate" ? deflateRawSync(body) : body;
  response.writeHead(status, {
    ...headers,
    Vary: "Accept-Encoding",
    ...(coding === undefined ? {} : { "Content-Encoding": coding }),
    "Content-Length": String(encoded.length),
  });
  response.end(encoded);
}

interface SubscriptionFilter {
  readonly topics: TopicFilter;
  readonly namespaces: ReadonlySet<string>;
}

type SubscriptionState = "streaming" | "silent" | "ended";

/** One `/v1/event/stream` connection: Nomad's Subscription, JsonStream and HTTP writer in one. */
class Subscription {
  #state: SubscriptionState = "streaming";
  #heartbeat: NodeJS.Timeout | undefined;
  #awaitingDrain = false;

  constructor(
    readonly transport: StreamTransport,
    /** Undefined for a stream that never gets events (the hijacked-era ACL failure). */
    private readonly cursor: BufferCursor<EncodedFrame> | undefined,
    private readonly filter: SubscriptionFilter,
    private readonly heartbeats: { readonly ms: number; readonly paused: () => boolean },
    private readonly onEnd: (subscription: Subscription) => void,
  ) {
    transport.onClose(() => this.#end());
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  start(): void {
    if (this.cursor === undefined) {
      this.silence();
      return;
    }
    this.#beat();
    this.#heartbeat = setInterval(() => this.#beat(), this.heartbeats.ms);
    this.pump();
  }

  /**
   * Writes every buffered frame the peer can take now. It runs synchronously on each
   * publish, so a reader that keeps up never lags however fast tests publish; only a
   * reader whose socket is full stops moving through the buffer and can meet Nomad's
   * "event dropped from buffer" once its item is evicted.
   */
  pump(): void {
    const cursor = this.cursor;
    if (cursor === undefined) return;
    while (this.#state === "streaming" && !this.transport.needsDrain) {
      const step = cursor.next();
      if (step.kind === "wait") return;
      if (step.kind === "dropped") {
        this.fail(EVENT_DROPPED_FROM_BUFFER);
        return;
      }
      const frame = step.item.value;
      const events = frame.events.filter(({ event }) => (event.Namespace === "" || this.filter.namespaces.has(event.Namespace)) && matchesTopics(this.filter.topics, event));
      // Nomad never sends a frame that filtering emptied.
      if (events.length === 0) continue;
      this.transport.write(frameLine(frame, events));
      this.transport.write(FRAME_DELIMITER);
    }
    if (this.#state === "streaming" && !this.#awaitingDrain) {
      this.#awaitingDrain = true;
      void this.transport.drained().then(() => {
        this.#awaitingDrain = false;
        this.pump();
      });
    }
  }

  /** Stops writing for good but keeps the socket open (hijacked-era failures). */
  silence(): void {
    if (this.#state !== "streaming") return;
    this.#state = "silent";
    this.#stopHeartbeats();
  }

  /** A mid-stream error: text and a clean end (chunked), or silence (hijacked). */
  fail(message: string): void {
    if (this.#state !== "streaming") return;
    this.transport.endWithText(message);
    this.silence();
  }

  /** A clean end of the body: terminator (chunked) or FIN (hijacked). */
  end(): void {
    if (this.#state === "ended") return;
    this.transport.end();
    this.silence();
  }

  destroy(): void {
    this.transport.destroy();
    this.#end();
  }

  #end(): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    this.#stopHeartbeats();
    this.onEnd(this);
  }

  #stopHeartbeats(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #beat(): void {
    // A ticker whose receiver is blocked in a write drops ticks; so do we.
    if (this.#state !== "streaming" || this.heartbeats.paused() || this.transport.needsDrain) return;
    this.transport.write(HEARTBEAT_FRAME);
    this.transport.write(FRAME_DELIMITER);
  }
}

export async function startNomadProtocolServer(options: NomadProtocolServerOptions): Promise<NomadProtocolServer> {
  const era = options.era;
  if (era !== "chunked" && era !== "hijacked") throw new TypeError(`era must be "chunked" or "hijacked", got ${String(era)}`);
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!(heartbeatMs > 0)) throw new RangeError(`heartbeatMs must be positive, got ${heartbeatMs}`);
  const emittedLimit = options.emittedLimit ?? Number.POSITIVE_INFINITY;
  if (!(emittedLimit >= 1) || (emittedLimit !== Number.POSITIVE_INFINITY && !Number.isSafeInteger(emittedLimit))) throw new RangeError(`emittedLimit must be a positive integer, got ${emittedLimit}`);
  const buffer = new EventBuffer<EncodedFrame>(options.bufferSize ?? DEFAULT_EVENT_BUFFER_SIZE);
  const restored = options.restore === undefined ? [] : encodeRestored(options.restore);

  let token = options.token;
  let lastIndex = options.restore?.lastIndex ?? 0;
  let heartbeatsPaused = false;
  const emitted: EmittedFrame[] = [];
  for (const frame of restored) {
    buffer.append(frame.index, frame);
    recordEmitted(frame);
  }
  const requests: RecordedRequest[] = [];
  const subscriptions = new Set<Subscription>();
  const hijackedSockets = new WeakSet<object>();
  const namespaces = new Map<string, NomadNamespace>();
  for (const name of options.namespaces ?? ["default"]) {
    namespaces.set(name, namespaceRecord(name, name === "default" ? DEFAULT_NAMESPACE_DESCRIPTION : "", 1, 1));
  }

  function recordEmitted(frame: EncodedFrame): void {
    emitted.push(toEmitted(frame));
    // Trimmed in batches, so a long run pays for one copy per `emittedLimit` frames.
    if (emitted.length >= 2 * emittedLimit) emitted.splice(0, emitted.length - emittedLimit);
  }

  function namespaceRecord(name: string, description: string, createIndex: number, modifyIndex: number): NomadNamespace {
    return {
      Name: name,
      Description: description,
      Quota: "",
      Capabilities: null,
      NodePoolConfiguration: null,
      VaultConfiguration: null,
      ConsulConfiguration: null,
      Meta: null,
      CreateIndex: createIndex,
      ModifyIndex: modifyIndex,
    };
  }

  function record(request: IncomingMessage, url: URL): void {
    const query: Record<string, string[]> = {};
    for (const [name, value] of url.searchParams) (query[name] ??= []).push(value);
    requests.push({ method: request.method ?? "GET", url: request.url ?? "/", path: url.pathname, query, headers: { ...request.headers } });
  }

  function streamTransport(request: IncomingMessage, response: ServerResponse): StreamTransport {
    if (era === "hijacked") {
      hijackedSockets.add(request.socket);
      return hijackedTransport(request.socket as Socket);
    }
    const coding = chooseContentCoding(request.headers);
    return coding === undefined ? chunkedTransport(response) : compressedChunkedTransport(response, coding);
  }

  function eventStream(request: IncomingMessage, response: ServerResponse, url: URL): void {
    if (request.method !== "GET") return sendText(request, response, 405, "Invalid method");
    const parsed = parseStreamQuery(url.searchParams);
    if (!parsed.ok) return sendText(request, response, parsed.status, parsed.message);
    const authorized = token === undefined || requestToken(request.headers) === token;
    if (era === "chunked" && !authorized) {
      // EventStream had already set Cache-Control when the RPC reported the ACL failure.
      return sendText(request, response, 403, "Permission denied", { "Cache-Control": "no-cache" });
    }
    const transport = streamTransport(request, response);
    const { namespace } = parsed.request;
    const filter: SubscriptionFilter = {
      topics: parsed.request.topics,
      namespaces: new Set(namespace === "*" ? namespaces.keys() : [namespace]),
    };
    const subscription = new Subscription(
      transport,
      authorized ? buffer.subscribe(parsed.request.index) : undefined,
      filter,
      { ms: heartbeatMs, paused: () => heartbeatsPaused },
      (ended) => subscriptions.delete(ended),
    );
    if (transport.closed) return;
    subscriptions.add(subscription);
    subscription.start();
  }

  function namespacesList(request: IncomingMessage, response: ServerResponse, url: URL): void {
    if (request.method !== "GET") return sendText(request, response, 405, "Invalid method");
    const presented = requestToken(request.headers);
    if (token !== undefined && presented !== "" && presented !== token) return sendText(request, response, 403, "ACL token not found");
    // The anonymous token sees no namespace; only the configured token sees them all.
    const visible = token === undefined || presented === token;
    const prefix = url.searchParams.get("prefix") ?? "";
    const list = visible ? [...namespaces.values()].filter((ns) => ns.Name.startsWith(prefix)).sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0)) : [];
    const tableIndex = Math.max(1, ...[...namespaces.values()].map((ns) => ns.ModifyIndex));
    // Go canonicalises header names, hence "Knownleader" and "Lastcontact".
    sendBody(request, response, 200, Buffer.from(JSON.stringify(list)), {
      "Content-Type": "application/json",
      "X-Nomad-Index": String(tableIndex),
      "X-Nomad-Knownleader": "true",
      "X-Nomad-Lastcontact": "0",
    });
  }

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://nomad.invalid");
    record(request, url);
    // After a hijack Nomad never reads the connection again, so a request pipelined
    // behind a stream gets no answer at all.
    if (hijackedSockets.has(request.socket)) return;
    if (url.pathname === "/v1/event/stream") return eventStream(request, response, url);
    if (url.pathname === "/v1/namespaces") return namespacesList(request, response, url);
    sendText(request, response, 404, "404 page not found\n");
  });
  // Streams live far longer than Node's default request timeout (5 min), and the silent
  // 403 must stay open until the client gives up.
  server.requestTimeout = 0;
  server.on("clientError", (_error, socket) => socket.destroy());

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: httpUrl(host, port),
    era,
    get lastIndex() {
      return lastIndex;
    },
    publish(frames, publishOptions = {}) {
      const index = publishOptions.index ?? lastIndex + 1;
      if (!Number.isSafeInteger(index) || index <= lastIndex) throw new RangeError(`publish index must be a safe integer newer than ${lastIndex}, got ${index}`);
      const encoded = frames.filter((frame) => frame.length > 0).map((frame) => encodeFrame(index, frame));
      lastIndex = index;
      for (const frame of encoded) {
        buffer.append(index, frame);
        recordEmitted(frame);
        for (const subscription of subscriptions) subscription.pump();
      }
      return index;
    },
    emitted: () => emitted.slice(Math.max(0, emitted.length - emittedLimit)),
    retained: () => buffer.retained().map((item) => toEmitted(item.value)),
    requests: () => [...requests],
    activeStreams: () => [...subscriptions].filter((subscription) => subscription.state === "streaming").length,
    dropConnections() {
      for (const subscription of [...subscriptions]) subscription.destroy();
    },
    failMidstream(message = SUBSCRIPTION_CLOSED_BY_SERVER) {
      for (const subscription of [...subscriptions]) {
        subscription.fail(message);
        // A chunked stream that ended cleanly is no longer a stream socket; a silent
        // hijacked one still is, until dropConnections or close.
        if (era === "chunked") subscriptions.delete(subscription);
      }
    },
    endStreams() {
      for (const subscription of [...subscriptions]) {
        subscription.end();
        if (era === "chunked") subscriptions.delete(subscription);
      }
    },
    stopHeartbeats() {
      heartbeatsPaused = true;
    },
    resumeHeartbeats() {
      heartbeatsPaused = false;
    },
    addNamespace(name, description = "") {
      lastIndex++;
      const existing = namespaces.get(name);
      namespaces.set(name, namespaceRecord(name, description, existing?.CreateIndex ?? lastIndex, lastIndex));
    },
    setToken(next) {
      token = next;
    },
    async close() {
      for (const subscription of [...subscriptions]) subscription.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
