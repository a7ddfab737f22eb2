import { EventBridgeClient, PutEventsCommand, type EventBridgeClientConfig } from "@aws-sdk/client-eventbridge";
import { UndiciHttpHandler } from "../aws/undici-http-handler";
import { fullJitter, sleep } from "../retry/backoff";
import type { BusEntry } from "./event-contract";

export interface EventBridgePublisherOptions {
  /** @default a client built from `clientConfig` */
  readonly client?: EventBridgeClient;
  /**
   * @default {} (region, credentials and AWS_ENDPOINT_URL_EVENTBRIDGE from the environment);
   * without a `requestHandler`, calls go through UndiciHttpHandler (keep-alive undici).
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

/**
 * Sends entries with PutEvents until every one is accepted: entries the bus reports as
 * failed (FailedEntryCount: throttling, internal errors) and calls that fail outright
 * (an outage) are retried with exponential backoff and full jitter, for as long as it
 * takes. Nothing is dropped; only aborting the signal ends it early.
 */
export class EventBridgePublisher {
  private readonly client: EventBridgeClient;

  constructor(private readonly options: EventBridgePublisherOptions = {}) {
    this.client = options.client ?? new EventBridgeClient({ requestHandler: new UndiciHttpHandler(), ...options.clientConfig });
  }

  async send(entries: readonly BusEntry[]): Promise<void> {
    let remaining = [...entries];
    for (let attempt = 0; remaining.length > 0; attempt++) {
      let callError: unknown;
      let errorCodes: string[] = [];
      try {
        const result = await this.client.send(new PutEventsCommand({ Entries: remaining }), { abortSignal: this.options.signal });
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
      await sleep(waitMs, this.options.signal);
    }
  }

  destroy(): void {
    if (this.options.client === undefined) this.client.destroy();
  }
}
