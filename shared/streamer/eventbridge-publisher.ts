import { setMaxListeners } from "node:events";
import { PutEventsCommand, type EventBridgeClient, type EventBridgeClientConfig } from "@aws-sdk/client-eventbridge";
import { PutEventsSender, type PutEventsResultEntry } from "../aws/put-events-sender";
import { fullJitter, sleep } from "../retry/backoff";
import type { BusEntry } from "./event-contract";

export interface EventBridgePublisherOptions {
  /**
   * Sends through this SDK client's PutEventsCommand instead (its middleware, its own
   * retries first). Without one, calls go through a PutEventsSender (native JSON, SigV4,
   * undici), several times cheaper per call.
   */
  readonly client?: EventBridgeClient;
  /**
   * @default {} (region, credentials and endpoint, e.g. AWS_ENDPOINT_URL_EVENTBRIDGE, from
   * the environment, as the SDK client reads them). Read by the PutEventsSender; unused
   * with a `client`.
   */
  readonly clientConfig?: EventBridgeClientConfig;
  /** @default 100 */
  readonly retryBaseMs?: number;
  /** @default 20_000 */
  readonly retryCapMs?: number;
  /** Aborting stops retrying: `send` then rejects with the reason. */
  readonly signal?: AbortSignal;
  /** Told of every retry: failed entries (by error code) or a failed call. */
  readonly onRetry?: (info: { attempt: number; failedEntries: number; errorCodes: string[]; callError?: unknown; waitMs: number }) => void;
}

type PutEvents = (entries: BusEntry[], signal: AbortSignal | undefined) => Promise<{ Entries?: readonly PutEventsResultEntry[] | undefined }>;

/**
 * Sends entries with PutEvents until every one is accepted: entries the bus reports as
 * failed (FailedEntryCount: throttling, internal errors) and calls that fail outright
 * (an outage) are retried with exponential backoff and full jitter, for as long as it
 * takes. Nothing is dropped; only aborting the signal ends it early.
 */
export class EventBridgePublisher {
  private readonly putEvents: PutEvents;
  /** The PutEventsSender built from `clientConfig` (none with a `client`), destroyed by `destroy()`. */
  private readonly sender: PutEventsSender | undefined;
  /**
   * Aborted when `options.signal` is: calls and waits listen here, so the caller's signal
   * gets one listener however many calls are in flight (not one per call, which set off
   * Node's MaxListenersExceededWarning at 8 calls in flight).
   */
  private readonly stop = new AbortController();
  private readonly forwardAbort = () => this.stop.abort(this.options.signal?.reason);
  /** What calls and waits listen to: `stop`'s signal with a caller's signal, none without (no listener per call then). */
  private readonly callSignal: AbortSignal | undefined;

  constructor(private readonly options: EventBridgePublisherOptions = {}) {
    setMaxListeners(0, this.stop.signal);
    this.callSignal = options.signal !== undefined ? this.stop.signal : undefined;
    if (options.signal?.aborted) this.forwardAbort();
    else options.signal?.addEventListener("abort", this.forwardAbort, { once: true });
    const client = options.client;
    if (client !== undefined) {
      this.putEvents = (entries, signal) => client.send(new PutEventsCommand({ Entries: entries }), { abortSignal: signal });
    } else {
      const sender = new PutEventsSender(options.clientConfig !== undefined ? { clientConfig: options.clientConfig } : {});
      this.sender = sender;
      this.putEvents = (entries, signal) => sender.putEvents(entries, signal);
    }
  }

  async send(entries: readonly BusEntry[]): Promise<void> {
    let remaining = [...entries];
    for (let attempt = 0; remaining.length > 0; attempt++) {
      let callError: unknown;
      let errorCodes: string[] = [];
      try {
        const result = await this.putEvents(remaining, this.callSignal);
        const answered = result.Entries ?? [];
        const failed: BusEntry[] = [];
        const codes = new Set<string>();
        remaining.forEach((entry, i) => {
          const answer = answered[i];
          // An entry without an EventId was not accepted, whatever the count says.
          if (answer?.EventId !== undefined && answer.ErrorCode === undefined) return;
          failed.push(entry);
          codes.add(answer?.ErrorCode ?? "Missing");
        });
        remaining = failed;
        errorCodes = [...codes];
        if (remaining.length === 0) return;
      } catch (error) {
        if (this.options.signal?.aborted) throw this.options.signal.reason ?? error;
        callError = error;
      }
      const waitMs = fullJitter(attempt, this.options.retryBaseMs ?? 100, this.options.retryCapMs ?? 20_000);
      this.options.onRetry?.({ attempt, failedEntries: remaining.length, errorCodes, ...(callError !== undefined ? { callError } : {}), waitMs });
      await sleep(waitMs, this.callSignal);
    }
  }

  destroy(): void {
    this.options.signal?.removeEventListener("abort", this.forwardAbort);
    this.sender?.destroy();
  }
}
