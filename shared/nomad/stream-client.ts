import { createGunzip, createInflateRaw } from "node:zlib";
import { pipeline, Transform, type Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import type { NomadFrame } from "./event";
import { decodeNomadFrame, isHeartbeat, rememberFramePayloads } from "./event";
import { parsedFrame, scanFrame, scannedFrame, type ScannedFrame } from "./frame-scan";
import { LineSplitter, LineTooLongError } from "./ndjson-lines";
import type { NomadConfig } from "./nomad-config";
import type { TopicFilter } from "./topic-filter";

/** Nomad sends `{}` every 30 s; silence for longer than this means the stream is dead. */
export const DEFAULT_LIVENESS_MS = 45_000;

/** Nomad answered with a status other than 200 before streaming. */
export class NomadResponseError extends Error {
  override readonly name = "NomadResponseError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`Unexpected response code: ${status} (${body})`);
  }
}

/** No byte at all (not even a heartbeat) arrived for the liveness window. */
export class StreamStalledError extends Error {
  override readonly name = "StreamStalledError";
  constructor(readonly silentMs: number, readonly sawBytes: boolean) {
    super(
      sawBytes
        ? `no bytes from Nomad's event stream for ${silentMs} ms (heartbeats come every 30 s)`
        : `Nomad answered 200 but sent nothing for ${silentMs} ms: on Nomad >= 1.11.2 this is how a rejected token (403) looks`,
    );
  }
}

/** The stream ended with text that is not a frame: Nomad <= 1.11.1 writes mid-stream errors this way. */
export class StreamErrorTail extends Error {
  override readonly name = "StreamErrorTail";
  constructor(readonly text: string) {
    super(`Nomad ended the event stream with an error: ${text}`);
  }
}

/**
 * The reader fell further behind Nomad's stream than `maxBufferedBytes`: the connection is
 * dropped (the caller resumes from its checkpoint), as Nomad itself drops a subscriber that
 * falls out of its buffer.
 */
export class StreamBacklogError extends Error {
  override readonly name = "StreamBacklogError";
  constructor(readonly bufferedBytes: number, readonly maxBufferedBytes: number) {
    super(`the reader fell ${bufferedBytes} bytes behind Nomad's event stream (more than ${maxBufferedBytes}); dropping the connection to resume from the checkpoint`);
  }
}

/** The most a reader may fall behind the stream before the connection is dropped. */
export const DEFAULT_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/**
 * A line of the stream grew past `maxLineBytes` before it ended: the connection is dropped
 * rather than the line held without bound (the caller resumes from its checkpoint, so a
 * frame this large is read once the limit is raised, or falls out of Nomad's buffer and is
 * reported as a gap).
 */
export class StreamLineTooLongError extends Error {
  override readonly name = "StreamLineTooLongError";
  constructor(readonly bytes: number, readonly maxLineBytes: number) {
    super(`a line of Nomad's event stream reached ${bytes} bytes without ending, over the limit of ${maxLineBytes} bytes per line; dropping the connection to resume from the checkpoint`);
  }
}

/** The longest line (one frame) read from the stream: 6 × the ~10 MB PlanResult frames seen in practice. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** A line was JSON but not a frame. */
export class StreamDecodeError extends Error {
  override readonly name = "StreamDecodeError";
}

export interface StreamRequest {
  /** Nomad's `index`: inclusive; 0 replays the server's whole buffer. */
  readonly index: number;
  /** @default every topic, `{"*": ["*"]}` */
  readonly topics?: TopicFilter;
  /** @default the config's namespace */
  readonly namespace?: string;
}

export interface StreamOptions {
  readonly config: NomadConfig;
  /** @default an Agent built from the config's TLS settings (see nomadDispatcher) */
  readonly dispatcher?: Dispatcher;
  /** @default DEFAULT_LIVENESS_MS */
  readonly livenessMs?: number;
  readonly signal?: AbortSignal;
  /** Called with the size of every chunk received (before decompression): liveness and metrics. */
  readonly onBytes?: (bytes: number) => void;
  /** Bytes read from the socket and not yet taken by the consumer, past which the connection is dropped. @default DEFAULT_MAX_BUFFERED_BYTES */
  readonly maxBufferedBytes?: number;
  /** The longest line (one frame) read; a longer one drops the connection (StreamLineTooLongError). @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

/** An undici Agent for Nomad with the CLI's TLS settings. */
export function nomadDispatcher(config: NomadConfig): Agent {
  const { tls } = config;
  return new Agent({
    // The stream is long-lived and quiet between heartbeats; liveness (headers included) is
    // the stream reader's to judge. Other requests set their own timeouts.
    bodyTimeout: 0,
    headersTimeout: 0,
    connect: {
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
      rejectUnauthorized: !tls.skipVerify,
    },
  });
}

/** The query the Go api client sends: keys sorted, values escaped, one `topic=T:k` per key. */
export function streamQuery(config: NomadConfig, stream: StreamRequest): string {
  const params: Array<[string, string]> = [["index", String(stream.index)]];
  const namespace = stream.namespace ?? config.namespace;
  if (namespace) params.push(["namespace", namespace]);
  if (config.region) params.push(["region", config.region]);
  for (const [topic, keys] of Object.entries(stream.topics ?? { "*": ["*"] })) {
    for (const key of keys) params.push(["topic", `${topic}:${key}`]);
  }
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

/** The body, watched byte by byte (liveness counts compressed bytes too), then decompressed. */
function decodedBody(body: Readable, encoding: string | undefined, onChunk: (bytes: number) => void): Readable {
  const watch = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onChunk(chunk.length);
      done(null, chunk);
    },
  });
  const decompress = encoding === "gzip" || encoding === "x-gzip" ? createGunzip() : encoding === "deflate" ? createInflateRaw() : undefined; // Nomad's "deflate" is raw DEFLATE (gorilla/handlers)
  // pipeline destroys every stage on a failure, so the last one carries the error to the reader.
  const noop = () => undefined;
  return decompress ? pipeline(body, watch, decompress, noop) : pipeline(body, watch, noop);
}

/**
 * The body's chunks, read as fast as they arrive and queued here for the consumer. The body
 * is never paused: undici 7 crashes the process (an uncatchable `assert(!this.paused)`, fixed
 * only in undici 8, which needs Node 22) when the peer closes a socket whose parser is paused
 * by backpressure, and Nomad >= 1.11.2 ends every stream by closing it. Instead of pausing,
 * a consumer more than `maxBytes` behind fails the read with StreamBacklogError.
 */
async function* drained(body: Readable, maxBytes: number, onBacklog: (error: StreamBacklogError) => void): AsyncGenerator<Buffer, void, undefined> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued > maxBytes) onBacklog(new StreamBacklogError(queued, maxBytes));
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (error: unknown) => {
    failure ??= { error };
    notify();
  };
  body.on("data", onData);
  body.once("end", onEnd);
  body.once("error", onError);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        queued -= chunk.length;
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    body.off("data", onData);
    body.off("end", onEnd);
    body.off("error", onError);
  }
}

/**
 * One line of the stream, its payloads left as text. Nearly every line is read by the
 * scan (frame-scan.ts); any other (a blank line, an error tail, a frame of the wrong
 * shape, a rare form the scan leaves out) is read the general way here, which gives the
 * frame or says exactly what is wrong.
 */
export function parseStreamLine(line: Buffer): ScannedFrame | undefined {
  const scanned = scanFrame(line);
  if (scanned !== undefined) return scanned;
  const text = line.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Blank lines are skipped; checked only here, off the path every frame takes.
    if (text.trim() === "") return undefined;
    throw new StreamErrorTail(text.trim());
  }
  const decoded = decodeNomadFrame(value);
  if ("issue" in decoded) {
    throw new StreamDecodeError(`a line of Nomad's event stream is not an event frame (${decoded.issue.message} at ${decoded.issue.path || "the top level"}): ${text.slice(0, 200)}`);
  }
  // Payloads are passed on as the line's own text: parsed, Nomad's int64 values lose digits.
  rememberFramePayloads(text, decoded.frame);
  return scannedFrame(decoded.frame);
}

/**
 * Reads `GET /v1/event/stream` once: yields every frame (heartbeats skipped), returns when
 * Nomad ends the stream, and throws on anything else. It does not reconnect: the caller
 * owns resume and backoff. Handles chunked (optionally gzip/deflate) and close-delimited
 * bodies, lines of any length, a raw-text error tail, and silence past the liveness window.
 */
export async function* readEventStream(stream: StreamRequest, options: StreamOptions): AsyncGenerator<NomadFrame, void, undefined> {
  for await (const frame of readStreamFrames(stream, options)) yield parsedFrame(frame);
}

/**
 * readEventStream with each payload left as the JSON text Nomad sent, never parsed: what
 * the streamer reads, since it only copies payloads onto the bus.
 */
export async function* readStreamFrames(stream: StreamRequest, options: StreamOptions): AsyncGenerator<ScannedFrame, void, undefined> {
  const { config } = options;
  const livenessMs = options.livenessMs ?? DEFAULT_LIVENESS_MS;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(options.signal?.reason);
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });

  let sawBytes = false;
  let stalled: StreamStalledError | undefined;
  let backlog: StreamBacklogError | undefined;
  // One timer, pushed back by every chunk (refresh), for the whole read.
  const timer = setTimeout(() => {
    stalled = new StreamStalledError(livenessMs, sawBytes);
    abort.abort(stalled);
  }, livenessMs);

  const ownDispatcher = options.dispatcher === undefined ? nomadDispatcher(config) : undefined;
  try {
    const response = await request(`${config.address}/v1/event/stream?${streamQuery(config, stream)}`, {
      method: "GET",
      dispatcher: options.dispatcher ?? ownDispatcher,
      signal: abort.signal,
      headers: {
        "accept-encoding": "gzip",
        ...(config.token ? { "x-nomad-token": config.token } : {}),
      },
    });
    const contentEncoding = response.headers["content-encoding"];
    const encoding = Array.isArray(contentEncoding) ? contentEncoding[0] : contentEncoding;
    if (response.statusCode !== 200) {
      // Nomad's gzip middleware compresses error bodies too.
      const chunks: Buffer[] = [];
      for await (const chunk of decodedBody(response.body, encoding, () => undefined)) chunks.push(chunk as Buffer);
      throw new NomadResponseError(response.statusCode, Buffer.concat(chunks).toString("utf8").trim());
    }
    const body = decodedBody(response.body, encoding, (bytes) => {
      sawBytes = true;
      options.onBytes?.(bytes);
      timer.refresh();
    });
    const lines = new LineSplitter(options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    for await (const chunk of drained(body, options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, (error) => abort.abort((backlog = error)))) {
      for (const line of lines.push(chunk)) {
        const frame = parseStreamLine(line);
        if (frame !== undefined && !isHeartbeat(frame)) yield frame;
      }
    }
    const tail = lines.rest();
    if (tail.length > 0) {
      const frame = parseStreamLine(tail);
      if (frame !== undefined && !isHeartbeat(frame)) yield frame;
    }
  } catch (error) {
    if (stalled !== undefined) throw stalled;
    if (backlog !== undefined) throw backlog;
    // The splitter's limit, said as the stream's error.
    if (error instanceof LineTooLongError) throw new StreamLineTooLongError(error.bytes, error.maxLineBytes);
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onOuterAbort);
    if (!abort.signal.aborted) abort.abort();
    await ownDispatcher?.close().catch(() => undefined);
  }
}
