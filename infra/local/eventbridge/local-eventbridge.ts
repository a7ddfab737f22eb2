/**
 * A local EventBridge PutEvents endpoint for tests and the local runtime (AWS ships no
 * EventBridge emulator). The real `@aws-sdk/client-eventbridge` talks to it through
 * `AWS_ENDPOINT_URL_EVENTBRIDGE` or an explicit `endpoint`; it speaks AWS JSON 1.1:
 * `POST /`, `X-Amz-Target: AWSEvents.<Operation>`, errors as `{"__type","message"}`.
 *
 * ```ts
 * const bus = await startLocalEventBridge({ busNames: ["nomad"], onAccepted: (events) => route(events) });
 * // AWS_ENDPOINT_URL_EVENTBRIDGE=bus.endpoint
 * bus.accepted();                                  // every accepted event, in order
 * bus.failEntries((entry, i) => (i === 0 ? { code: "ThrottlingException" } : undefined));
 * bus.failCalls({ count: 2, type: "ThrottlingException" }); // then it heals by itself
 * bus.delay(200);                                  // every answer 200 ms later
 * await bus.close();
 * ```
 *
 * Operations: PutEvents, and DescribeEventBus for health checks. Anything else is
 * `400 UnknownOperationException`; a body that is not JSON is `400 SerializationException`.
 *
 * A PutEvents call goes: outage (`failCalls`) → shape → 1 to 10 entries → summed size by
 * AWS's rule (entry-size.ts) ≤ `maxRequestBytes`; each failure fails the whole call. Then each
 * entry: Source, DetailType, Detail required (`InvalidArgument`), Detail a JSON object
 * nested at most 1100 deep (`MalformedDetail`), its bus existing, then `failEntries`.
 * What passes is handed to `onAccepted` (one call at a time, in arrival order) and only
 * then recorded and answered with EventIds; if the hook throws, those entries are
 * answered `InternalFailure` and not recorded, so nothing is lost silently.
 *
 * Unknown buses: AWS answers an EventId and drops the event (LocalStack's snapshot
 * recorded against AWS, 2025-01), which hides a misconfigured bus name. By default this
 * stand-in answers `ResourceNotFoundException` / `Event bus <name> does not exist.` (the
 * message AWS gives DescribeEventBus) instead; `unknownBus: "drop"` does what AWS does.
 *
 * Not reproduced: signatures (any credentials pass), rules, targets and archives (that is
 * `onAccepted`'s job), global endpoints (`EndpointId`), `aws.`-prefixed sources being
 * refused, quotas and throttling other than injected ones.
 */
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { AcceptedEvent } from "./accepted-event";
import { PUT_EVENTS_DEFAULT_MAX_BYTES, putEventsRequestSize } from "../../../shared/eventbridge/entry-size";
import {
  checkEntryFields,
  checkPutEventsLimits,
  DEFAULT_EVENT_BUS,
  EventBridgeApiError,
  eventBusName,
  eventTime,
  readPutEventsEntries,
  type PutEventsResultEntry,
  type PutEventsWireEntry,
} from "./put-events";
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from "../local-aws";

export type { AcceptedEvent } from "./accepted-event";
export type { PutEventsResultEntry, PutEventsWireEntry } from "./put-events";

const HOST = "127.0.0.1";
const JSON_CONTENT_TYPE = "application/x-amz-json-1.1";
const TARGET_PREFIX = "AWSEvents.";

/** A guard against runaway bodies only: legitimate calls are far smaller even fully escaped. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface LocalEventBridgeOptions {
  /** @default 0: any free port on 127.0.0.1 */
  readonly port?: number;
  /** The summed entry size one call may carry, by AWS's rule. @default 262,144 */
  readonly maxRequestBytes?: number;
  /** Buses that exist; `default` always does. @default ["default"] */
  readonly busNames?: readonly string[];
  /** An entry naming a bus that does not exist: fail it (`reject`) or, as AWS does, accept and drop it. @default "reject" */
  readonly unknownBus?: "reject" | "drop";
  /** Runs after a call's entries pass, before the answer; throwing fails them with InternalFailure. */
  readonly onAccepted?: (events: readonly AcceptedEvent[]) => void | Promise<void>;
  /**
   * Keeps every accepted event and every call in memory, for `accepted()` and `calls()`
   * (tests). A long-running bus (the local runtime, where a day at 20 events/s would hold
   * gigabytes) turns it off and reads events through `onAccepted`. @default true
   */
  readonly record?: boolean;
}

/** The per-entry ErrorCodes AWS documents as retryable, or any other code a test needs. */
export type EntryErrorCode = "InternalFailure" | "ThrottlingException" | (string & {});

export interface EntryFailure {
  readonly code: EntryErrorCode;
  readonly message?: string;
}

/** Decides, for an entry that passed every check, whether it fails instead. */
export type EntryFailurePicker = (entry: PutEventsWireEntry, indexInCall: number, callNumber: number) => EntryFailure | undefined;

export type CallErrorType = "InternalException" | "ThrottlingException" | "ServiceUnavailable" | (string & {});

export interface CallFailure {
  /** How many PutEvents calls fail before it heals. @default Infinity */
  readonly count?: number;
  /** @default from `type`: 400 for ThrottlingException, 503 for ServiceUnavailable, else 500 */
  readonly status?: number;
  /** The `__type`, which the SDK makes `error.name`. @default from `status`: 400 ThrottlingException, 503 ServiceUnavailable, else InternalException */
  readonly type?: CallErrorType;
  readonly message?: string;
}

export type PutEventsCallOutcome =
  | { readonly kind: "pending" }
  | {
      readonly kind: "answered";
      readonly failedEntryCount: number;
      readonly results: readonly PutEventsResultEntry[];
      /** Entries answered with an EventId but dropped (`unknownBus: "drop"`). */
      readonly dropped: number;
      /** What `onAccepted` threw, when it did. */
      readonly onAcceptedError?: unknown;
    }
  | { readonly kind: "failed"; readonly status: number; readonly type: string; readonly message: string };

export interface PutEventsCall {
  /** 1-based, in arrival order. */
  readonly number: number;
  readonly receivedAt: string;
  /** 0 when the body could not be read. */
  readonly entryCount: number;
  /** The summed entry size by AWS's rule (0 when the body could not be read). */
  readonly size: number;
  readonly outcome: PutEventsCallOutcome;
}

export interface LocalEventBridge {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_EVENTBRIDGE`. */
  readonly endpoint: string;
  readonly busNames: readonly string[];
  /** Every accepted event, in the order accepted (throws when started with `record: false`). */
  accepted(): readonly AcceptedEvent[];
  /** Every PutEvents call, in arrival order; those not yet answered are `pending` (throws when started with `record: false`). */
  calls(): readonly PutEventsCall[];
  /** Partial failures from now on (FailedEntryCount set); `undefined` stops them. */
  failEntries(pick: EntryFailurePicker | undefined): void;
  /** Whole-call failures (an outage) for the next `count` PutEvents calls. */
  failCalls(failure?: CallFailure): void;
  /** Ends injected failures: the outage and `failEntries`. */
  heal(): void;
  /** Holds every answer this long (0 stops it); the call is processed first, as when a reply is slow. */
  delay(ms: number): void;
  /** PutEvents calls received and not yet answered. */
  inFlight(): number;
  /** The most PutEvents calls that were ever in flight at once. */
  peakInFlight(): number;
  close(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

interface Outage {
  remaining: number;
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

interface CallRecord {
  readonly number: number;
  readonly receivedAt: string;
  entryCount: number;
  size: number;
  outcome: PutEventsCallOutcome;
}

const DEFAULT_OUTAGE_MESSAGES: Readonly<Record<string, string>> = {
  ThrottlingException: "Rate exceeded",
  ServiceUnavailable: "Service Unavailable",
  InternalException: "Internal Service Error",
};

function resolveOutage(failure: CallFailure): Outage {
  const count = failure.count ?? Number.POSITIVE_INFINITY;
  if (!(count >= 1) || (Number.isFinite(count) && !Number.isInteger(count))) {
    throw new RangeError(`failCalls count must be a positive integer or Infinity, got ${String(failure.count)}`);
  }
  const type = failure.type ?? (failure.status === 400 ? "ThrottlingException" : failure.status === 503 ? "ServiceUnavailable" : "InternalException");
  const status = failure.status ?? (type === "ThrottlingException" ? 400 : type === "ServiceUnavailable" ? 503 : 500);
  return { remaining: count, status, type, message: failure.message ?? DEFAULT_OUTAGE_MESSAGES[type] ?? `Injected ${type}` };
}

function errorAnswer(error: EventBridgeApiError): Answer {
  return { status: error.status, body: { __type: error.type, message: error.message } };
}

function parseJsonBody(body: Buffer): unknown {
  // The SDK sends `{}` for an empty input; an empty body means the same.
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new EventBridgeApiError(400, "SerializationException", `the request body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function send(response: ServerResponse, answer: Answer): void {
  if (response.destroyed || response.writableEnded) return;
  const body = Buffer.from(JSON.stringify(answer.body), "utf8");
  response.writeHead(answer.status, {
    "content-type": JSON_CONTENT_TYPE,
    "content-length": String(body.length),
    // The SDK reports it as `$metadata.requestId`.
    "x-amzn-requestid": randomUUID(),
  });
  response.end(body);
}

/** Starts the endpoint on 127.0.0.1 and resolves once it listens. */
export async function startLocalEventBridge(options: LocalEventBridgeOptions = {}): Promise<LocalEventBridge> {
  const maxRequestBytes = options.maxRequestBytes ?? PUT_EVENTS_DEFAULT_MAX_BYTES;
  if (!(maxRequestBytes > 0)) throw new RangeError(`maxRequestBytes must be positive, got ${maxRequestBytes}`);
  const buses = new Set([DEFAULT_EVENT_BUS, ...(options.busNames ?? [])]);
  const unknownBus = options.unknownBus ?? "reject";
  const keep = options.record ?? true;
  const accepted: AcceptedEvent[] = [];
  const records: CallRecord[] = [];
  let callCount = 0;
  const notRecorded = (what: string) => new Error(`this local EventBridge was started with record: false, so it keeps no ${what}; read events through onAccepted`);
  let pickEntryFailure: EntryFailurePicker | undefined;
  let outage: Outage | undefined;
  let delayMs = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  // onAccepted runs one call at a time so routing sees events in acceptance order.
  let acceptChain: Promise<void> = Promise.resolve();
  const closing = new AbortController();
  // Every answer held back (a set delay) listens here until it is sent: any number at once is expected.
  setMaxListeners(0, closing.signal);

  function takeOutage(): Outage | undefined {
    const current = outage;
    if (current === undefined) return undefined;
    current.remaining -= 1;
    if (current.remaining <= 0) outage = undefined;
    return current;
  }

  async function putEvents(body: Buffer, record: CallRecord, receivedAt: Date): Promise<Answer> {
    let entries: PutEventsWireEntry[] | undefined;
    let unreadable: unknown;
    try {
      entries = readPutEventsEntries(parseJsonBody(body));
      record.entryCount = entries.length;
      record.size = putEventsRequestSize(entries);
    } catch (error) {
      unreadable = error;
    }
    // An outage answers before the service looks at the request at all.
    const down = takeOutage();
    if (down !== undefined) throw new EventBridgeApiError(down.status, down.type, down.message);
    if (entries === undefined) throw unreadable;
    checkPutEventsLimits(entries, record.size, maxRequestBytes);

    const results: PutEventsResultEntry[] = [];
    const passed: AcceptedEvent[] = [];
    let dropped = 0;
    entries.forEach((entry, index) => {
      const invalid = checkEntryFields(entry);
      if (invalid !== undefined) {
        results.push(invalid);
        return;
      }
      const bus = eventBusName(entry);
      if (!buses.has(bus)) {
        if (unknownBus === "drop") {
          dropped += 1;
          results.push({ EventId: randomUUID() });
        } else {
          results.push({ ErrorCode: "ResourceNotFoundException", ErrorMessage: `Event bus ${bus} does not exist.` });
        }
        return;
      }
      const injected = pickEntryFailure?.(entry, index, record.number);
      if (injected !== undefined) {
        results.push({ ErrorCode: injected.code, ErrorMessage: injected.message ?? `Injected ${injected.code} (local EventBridge failEntries)` });
        return;
      }
      const event: AcceptedEvent = Object.freeze({
        id: randomUUID(),
        bus,
        // checkEntryFields has established these three.
        source: entry.Source ?? "",
        detailType: entry.DetailType ?? "",
        detail: entry.Detail ?? "",
        resources: Object.freeze([...(entry.Resources ?? [])]),
        time: eventTime(entry, receivedAt),
        receivedAt: record.receivedAt,
        ...(entry.TraceHeader === undefined ? {} : { traceHeader: entry.TraceHeader }),
        callNumber: record.number,
        indexInCall: index,
      });
      passed.push(event);
      results.push({ EventId: event.id });
    });

    let onAcceptedError: unknown;
    let hookFailed = false;
    if (passed.length > 0) {
      const delivered = acceptChain.then(async () => {
        await options.onAccepted?.(passed);
        if (keep) accepted.push(...passed);
      });
      acceptChain = delivered.catch(() => undefined);
      try {
        await delivered;
      } catch (error) {
        hookFailed = true;
        onAcceptedError = error;
        const reason = error instanceof Error ? error.message : String(error);
        for (const event of passed) {
          results[event.indexInCall] = { ErrorCode: "InternalFailure", ErrorMessage: `Internal failure (local onAccepted hook: ${reason})` };
        }
      }
    }
    const failedEntryCount = results.filter((result) => "ErrorCode" in result).length;
    record.outcome = {
      kind: "answered",
      failedEntryCount,
      results,
      dropped,
      ...(hookFailed ? { onAcceptedError } : {}),
    };
    return { status: 200, body: { FailedEntryCount: failedEntryCount, Entries: results } };
  }

  function describeEventBus(body: Buffer): Answer {
    const input = parseJsonBody(body);
    const rawName = typeof input === "object" && input !== null ? (input as Record<string, unknown>).Name : undefined;
    if (rawName !== undefined && rawName !== null && typeof rawName !== "string") {
      throw new EventBridgeApiError(400, "SerializationException", "Name must be a string");
    }
    const name = eventBusName(typeof rawName === "string" ? { EventBusName: rawName } : {});
    if (!buses.has(name)) throw new EventBridgeApiError(400, "ResourceNotFoundException", `Event bus ${name} does not exist.`);
    return { status: 200, body: { Name: name, Arn: `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:event-bus/${name}` } };
  }

  async function answer(request: IncomingMessage, body: Buffer, receivedAt: Date): Promise<Answer> {
    const target = request.method === "POST" ? request.headers["x-amz-target"] : undefined;
    const operation = typeof target === "string" && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
    if (operation === "DescribeEventBus") return describeEventBus(body);
    if (operation !== "PutEvents") {
      throw new EventBridgeApiError(400, "UnknownOperationException", `Unknown operation ${request.method ?? ""} ${String(target ?? "(no X-Amz-Target)")}`);
    }
    const call: CallRecord = { number: ++callCount, receivedAt: receivedAt.toISOString(), entryCount: 0, size: 0, outcome: { kind: "pending" } };
    if (keep) records.push(call);
    try {
      return await putEvents(body, call, receivedAt);
    } catch (error) {
      const failure =
        error instanceof EventBridgeApiError
          ? error
          : new EventBridgeApiError(500, "InternalException", `local EventBridge failed: ${error instanceof Error ? error.message : String(error)}`);
      call.outcome = { kind: "failed", status: failure.status, type: failure.type, message: failure.message };
      throw failure;
    }
  }

  async function handle(request: IncomingMessage, body: Buffer, response: ServerResponse): Promise<void> {
    const receivedAt = new Date();
    const counted = request.method === "POST" && request.headers["x-amz-target"] === `${TARGET_PREFIX}PutEvents`;
    if (counted) {
      inFlight += 1;
      peakInFlight = Math.max(peakInFlight, inFlight);
    }
    let result: Answer;
    try {
      result = await answer(request, body, receivedAt);
    } catch (error) {
      result = errorAnswer(
        error instanceof EventBridgeApiError ? error : new EventBridgeApiError(500, "InternalException", error instanceof Error ? error.message : String(error)),
      );
    }
    try {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: closing.signal });
      send(response, result);
    } catch {
      // Closed while holding the answer: the socket is gone, nothing to send.
    } finally {
      if (counted) inFlight -= 1;
    }
  }

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    // A client that disconnects mid-body must not crash the process.
    request.on("error", () => undefined);
    request.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        refused = true;
        send(response, { status: 413, body: { message: "Request Entity Too Large" } });
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (!refused) void handle(request, Buffer.concat(chunks), response);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://${HOST}:${port}`,
    busNames: [...buses],
    accepted: () => {
      if (!keep) throw notRecorded("accepted events");
      return [...accepted];
    },
    calls: () => {
      if (!keep) throw notRecorded("calls");
      return records.map((call) => ({ ...call }));
    },
    failEntries: (pick) => {
      pickEntryFailure = pick;
    },
    failCalls: (failure = {}) => {
      outage = resolveOutage(failure);
    },
    heal: () => {
      outage = undefined;
      pickEntryFailure = undefined;
    },
    delay: (ms) => {
      if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`delay must be a finite number of milliseconds >= 0, got ${ms}`);
      delayMs = ms;
    },
    inFlight: () => inFlight,
    peakInFlight: () => peakInFlight,
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
