import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { constants as zlibConstants, createDeflateRaw, createGzip, type Gzip, type DeflateRaw } from "node:zlib";
import type { ContentCoding } from "./stream-request";

/**
 * How the bytes of one subscription reach the socket, per framing era
 * (EVENT-STREAM-SPEC 1.2, "Transport framing depends on the server version").
 */
export interface StreamTransport {
  /** One Write+Flush of Nomad's handler. */
  write(data: string | Buffer): void;
  /** True while the peer has not taken what was written: Nomad would be blocked in Write. */
  readonly needsDrain: boolean;
  /** Resolves when `needsDrain` clears or the transport closes. */
  drained(): Promise<void>;
  /**
   * A mid-stream error as Nomad <= 1.11.1 sends it: `wrap()` writes the message as raw
   * body text (no JSON, no newline), then the response ends cleanly. Hijacked streams
   * have no such path; Nomad >= 1.11.2 writes nothing.
   */
  endWithText(text: string): void;
  /** A clean end: the `0\r\n\r\n` terminator (chunked) or a TCP FIN (hijacked). */
  end(): void;
  /** Abrupt close of the socket: no terminator, no more bytes. */
  destroy(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

/** Headers Nomad sets before streaming; gorilla/handlers adds Vary on every response. */
export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  "Cache-Control": "no-cache",
  "Content-Type": "application/json",
  Vary: "Accept-Encoding",
};

/**
 * What Go's `Response.Write` emits for Nomad's hijacked `200 OK` with ContentLength -1
 * (fixture `http-wire_1.11.3plus_hijacked.bin`): `Connection: close`, then the headers
 * sorted by name, no Date, no Content-Length, no Transfer-Encoding, never Content-Encoding.
 */
export const HIJACKED_RESPONSE_HEAD =
  "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache\r\nContent-Type: application/json\r\nVary: Accept-Encoding\r\n\r\n";

function waitForDrain(emitter: NodeJS.EventEmitter, isClosed: () => boolean): Promise<void> {
  if (isClosed()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      emitter.off("drain", done);
      emitter.off("close", done);
      resolve();
    };
    emitter.on("drain", done);
    emitter.on("close", done);
  });
}

/**
 * Nomad <= 1.11.1: a plain ResponseWriter behind a flush-per-write WriteFlusher, so each
 * write is one HTTP/1.1 chunk and headers leave with the first write (Node sends headers
 * lazily too). A clean end writes `0\r\n\r\n`.
 */
export function chunkedTransport(response: ServerResponse): StreamTransport {
  let closed = false;
  const listeners: Array<() => void> = [];
  response.on("close", () => {
    closed = true;
    for (const listener of listeners.splice(0)) listener();
  });
  response.on("error", () => undefined);
  response.writeHead(200, { ...STREAM_HEADERS });
  return {
    write(data) {
      if (!closed && !response.writableEnded) response.write(data);
    },
    get needsDrain() {
      return !closed && response.writableNeedDrain;
    },
    drained: () => (response.writableNeedDrain ? waitForDrain(response, () => closed) : Promise.resolve()),
    endWithText(text) {
      if (closed || response.writableEnded) return;
      response.write(text);
      response.end();
    },
    end() {
      if (!closed && !response.writableEnded) response.end();
    },
    destroy() {
      response.socket?.destroy();
      response.destroy();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
}

/**
 * Nomad 1.3 – 1.11.1 with `Accept-Encoding: gzip` or `deflate`: gorilla's compressor
 * sits between the WriteFlusher and the chunked writer, so every write is followed by a
 * sync flush (Go's `gzip.Writer.Flush`), and the compressed bytes travel in chunks.
 */
export function compressedChunkedTransport(response: ServerResponse, coding: ContentCoding): StreamTransport {
  let closed = false;
  const listeners: Array<() => void> = [];
  const encoder: Gzip | DeflateRaw = coding === "gzip" ? createGzip() : createDeflateRaw();
  const markClosed = (): void => {
    if (closed) return;
    closed = true;
    encoder.destroy();
    for (const listener of listeners.splice(0)) listener();
  };
  response.on("close", markClosed);
  response.on("error", () => undefined);
  encoder.on("error", () => response.destroy());
  response.writeHead(200, { ...STREAM_HEADERS, "Content-Encoding": coding });
  encoder.pipe(response);
  return {
    write(data) {
      if (closed || encoder.writableEnded) return;
      encoder.write(data);
      encoder.flush(zlibConstants.Z_SYNC_FLUSH);
    },
    get needsDrain() {
      return !closed && encoder.writableNeedDrain;
    },
    drained: () => (encoder.writableNeedDrain ? waitForDrain(encoder, () => closed) : Promise.resolve()),
    endWithText(text) {
      if (closed || encoder.writableEnded) return;
      encoder.end(text);
    },
    end() {
      if (!closed && !encoder.writableEnded) encoder.end();
    },
    destroy() {
      response.socket?.destroy();
      response.destroy();
      markClosed();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
}

/**
 * Nomad >= 1.11.2: the connection is hijacked and written raw. The body is NDJSON
 * delimited by TCP close and is never compressed. The socket stays under Node's HTTP
 * server only for bookkeeping; nothing is ever written through the ServerResponse.
 */
export function hijackedTransport(socket: Socket): StreamTransport {
  let closed = socket.destroyed;
  const listeners: Array<() => void> = [];
  socket.on("close", () => {
    closed = true;
    for (const listener of listeners.splice(0)) listener();
  });
  socket.on("error", () => undefined);
  socket.write(HIJACKED_RESPONSE_HEAD);
  return {
    write(data) {
      if (!closed && socket.writable) socket.write(data);
    },
    get needsDrain() {
      return !closed && socket.writableNeedDrain;
    },
    drained: () => (socket.writableNeedDrain ? waitForDrain(socket, () => closed) : Promise.resolve()),
    endWithText() {
      // Nothing reaches a hijacked client: wrap() writes into a ResponseWriter that no
      // longer owns the connection, and the connection stays open.
    },
    end() {
      if (!closed) socket.end();
    },
    destroy() {
      socket.destroy();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
}
