import { connect, type Socket } from "node:net";

/**
 * A bare HTTP/1.1 client on a TCP socket, so tests see the exact bytes a Nomad client
 * would: status line, headers, chunk framing, terminator, and when the socket closes.
 */
export interface RawConnection {
  readonly socket: Socket;
  /** Bytes received so far. */
  readonly length: number;
  bytes(): Buffer;
  endsWith(tail: string): boolean;
  /** Resolves once `done()` holds, checked on every read; rejects after `timeoutMs`. */
  until(done: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** True once the server closed (or reset) the connection. */
  readonly closed: boolean;
  readonly closedAt: Promise<void>;
  destroy(): void;
}

export async function rawRequest(baseUrl: string, target: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  if (hostname !== "127.0.0.1") throw new Error(`tests only talk to loopback, not ${hostname}`);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const chunks: Buffer[] = [];
  let length = 0;
  let cache: Buffer | undefined;
  let closed = false;
  const checks = new Set<() => void>();
  const runChecks = (): void => {
    for (const check of [...checks]) check();
  };
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    cache = undefined;
    runChecks();
  });
  socket.on("error", () => undefined);
  const closedAt = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
      runChecks();
    }),
  );
  const headers = { Host: `${hostname}:${port}`, ...options.headers };
  const head = `${options.method ?? "GET"} ${target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;
  socket.write(head);

  const connection: RawConnection = {
    socket,
    get length() {
      return length;
    },
    bytes() {
      cache ??= Buffer.concat(chunks, length);
      return cache;
    },
    endsWith(tail) {
      const last = chunks.at(-1);
      if (last === undefined) return false;
      if (last.length >= tail.length) return last.subarray(last.length - tail.length).toString("latin1") === tail;
      return connection.bytes().subarray(length - tail.length).toString("latin1") === tail;
    },
    until(done, what, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!done()) return;
          checks.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${length} bytes: ${JSON.stringify(connection.bytes().subarray(0, 600).toString("latin1"))}`));
        }, timeoutMs);
        checks.add(check);
        check();
      });
    },
    get closed() {
      return closed;
    },
    closedAt,
    destroy() {
      socket.destroy();
    },
  };
  return connection;
}

export interface ResponseHead {
  readonly statusLine: string;
  readonly status: number;
  /** Header lines as sent, in order. */
  readonly lines: readonly string[];
  header(name: string): string | undefined;
  /** Byte offset where the body starts. */
  readonly bodyStart: number;
}

export function parseHead(bytes: Buffer): ResponseHead | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) return undefined;
  const [statusLine = "", ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  return {
    statusLine,
    status: Number(statusLine.split(" ")[1]),
    lines,
    header(name) {
      const prefix = `${name.toLowerCase()}:`;
      const line = lines.find((candidate) => candidate.toLowerCase().startsWith(prefix));
      return line?.slice(prefix.length).trim();
    },
    bodyStart: end + 4,
  };
}

export interface ChunkedBody {
  /** Every complete chunk's data, in order (the terminator excluded). */
  readonly chunks: readonly Buffer[];
  /** True once the `0\r\n\r\n` terminator arrived. */
  readonly terminated: boolean;
  /** Bytes after the terminator, or of an incomplete chunk. */
  readonly rest: Buffer;
}

/** Decodes HTTP/1.1 chunked framing strictly: lowercase or uppercase hex, CRLF after each part. */
export function decodeChunked(body: Buffer): ChunkedBody {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd === -1) return { chunks, terminated: false, rest: body.subarray(at) };
    const sizeText = body.subarray(at, lineEnd).toString("latin1");
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)} at ${at}`);
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      if (body.subarray(lineEnd + 2, lineEnd + 4).toString("latin1") !== "\r\n") return { chunks, terminated: false, rest: body.subarray(at) };
      return { chunks, terminated: true, rest: body.subarray(lineEnd + 4) };
    }
    const dataEnd = lineEnd + 2 + size;
    if (body.length < dataEnd + 2) return { chunks, terminated: false, rest: body.subarray(at) };
    if (body.subarray(dataEnd, dataEnd + 2).toString("latin1") !== "\r\n") throw new Error(`chunk at ${at} is not followed by CRLF`);
    chunks.push(body.subarray(lineEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}
