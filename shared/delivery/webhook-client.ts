import type { IncomingHttpHeaders } from "node:http";
import { errors as undiciErrors, type Dispatcher } from "undici";
import { parseRetryAfter } from "./retry-policy";
import { findBlockedAddressError } from "./ssrf-guard";

/** What one POST to a webhook came to. */
export type AttemptResult =
  | { readonly outcome: "delivered"; readonly status: number; readonly latencyMs: number }
  /** 410 Gone: the receiver asks never to be called again. */
  | { readonly outcome: "gone"; readonly status: number; readonly latencyMs: number; readonly error: string }
  | {
      readonly outcome: "failed";
      /** Undefined when no response came (timeout, reset, DNS, refused, blocked address). */
      readonly status: number | undefined;
      readonly latencyMs: number;
      readonly error: string;
      /** The receiver's `Retry-After` (429 and 503 only), in ms. */
      readonly retryAfterMs?: number;
    };

export interface WebhookClientOptions {
  /** Connection pool (keep-alive, connect timeout, SSRF guard): see AddressGuard.dispatcher. */
  readonly dispatcher: Dispatcher;
  /** Whole request, from sending to the last byte of the answer. @default 15_000 */
  readonly timeoutMs?: number;
  readonly userAgent: string;
  readonly now?: () => number;
}

/** How much of an error response's body is kept to explain the failure. */
const ERROR_BODY_CHARS = 200;
/**
 * The most of an answer's body that is read (and thrown away). Past it the connection is
 * closed instead of read to the end, as undici's `body.dump()` does: the answer's status is
 * all that counts.
 */
const MAX_ANSWER_BYTES = 128 * 1024;

/** Where a request goes, as undici's dispatch takes it (parsed once per address, not per POST). */
interface Target {
  readonly origin: string;
  readonly path: string;
}
const TARGET_CACHE_SIZE = 1_000;

/**
 * POSTs signed deliveries and classifies the answer. Redirects are never followed (a 3xx
 * is a failure naming where it pointed); an answer's body is read (up to MAX_ANSWER_BYTES)
 * and discarded so the connection returns to the pool. Each request is one undici dispatch
 * with its own handler (no response stream, no AbortSignal) and one timer for the whole
 * exchange, from sending to the last byte of the answer.
 */
export class WebhookClient {
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly targets = new Map<string, Target>();

  constructor(private readonly options: WebhookClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  post(url: string, body: string | Buffer, headers: Readonly<Record<string, string>>): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const exchange = new Exchange(resolve, this.timeoutMs, this.now);
      let target: Target;
      try {
        target = this.target(url);
      } catch (error) {
        exchange.fail(error);
        return;
      }
      const all: Record<string, string> = { "content-type": "application/json", "user-agent": this.options.userAgent };
      for (const name in headers) all[name] = headers[name]!;
      try {
        // undici hands a refusal (bad header, closed dispatcher) to the handler's onResponseError.
        this.options.dispatcher.dispatch({ origin: target.origin, path: target.path, method: "POST", headers: all, body }, exchange);
      } catch (error) {
        exchange.fail(error);
      }
    });
  }

  /** The origin and path of a webhook address (the fragment is not sent, as with undici's request). */
  private target(url: string): Target {
    let target = this.targets.get(url);
    if (target === undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new InvalidWebhookAddressError(`the webhook address ${JSON.stringify(url.slice(0, 200))} is not a URL`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new InvalidWebhookAddressError(`the webhook address ${JSON.stringify(url.slice(0, 200))} is not http or https`);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (this.targets.size >= TARGET_CACHE_SIZE) this.targets.delete(this.targets.keys().next().value as string);
      this.targets.set(url, target);
    }
    return target;
  }
}

/** A webhook address that cannot be requested at all. */
class InvalidWebhookAddressError extends Error {
  override readonly name = "InvalidWebhookAddressError";
}

/** The whole exchange took longer than the client's timeout. */
class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
  }
}

/**
 * One POST's undici handler: settles its promise once, with the first of the answer's end,
 * an error, or the timeout (which also aborts the request, or, if it has not started yet,
 * aborts it as soon as it does).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  private status = 0;
  private location: string | undefined;
  private retryAfter: string | string[] | undefined;
  private excerpt = "";
  private bytes = 0;

  constructor(
    private readonly resolve: (result: AttemptResult) => void,
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {
    this.timer = setTimeout(() => this.timeout(), timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled) controller.abort(new TimeoutError(this.timeoutMs));
    else this.controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx (100 Continue, 103 Early Hints) are interim: the answer follows.
    if (statusCode < 200 || this.settled) return;
    this.status = statusCode;
    if (statusCode >= 300) {
      this.location = first(headers.location);
      this.retryAfter = headers["retry-after"];
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled || this.status === 0) return;
    if (this.status >= 300 && this.excerpt.length < ERROR_BODY_CHARS) this.excerpt += chunk.toString("utf8");
    this.bytes += chunk.length;
    if (this.bytes > MAX_ANSWER_BYTES) {
      // Enough: the status decides; the rest is not worth reading. The connection is closed.
      this.answered();
      controller.abort(new Error("answer body too large to read to the end; connection closed"));
    }
  }

  onResponseEnd(): void {
    if (!this.settled && this.status !== 0) this.answered();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  fail(error: unknown): void {
    this.settle({ outcome: "failed", status: undefined, latencyMs: this.elapsed(), error: describeFailure(error, this.timeoutMs) });
  }

  private timeout(): void {
    if (this.settled) return;
    this.settle({ outcome: "failed", status: undefined, latencyMs: this.elapsed(), error: describeFailure(new TimeoutError(this.timeoutMs), this.timeoutMs) });
    this.controller?.abort(new TimeoutError(this.timeoutMs));
  }

  /** The answer is in (or as much of it as is read): its classification. */
  private answered(): void {
    const status = this.status;
    const latencyMs = this.elapsed();
    if (status < 300) return this.settle({ outcome: "delivered", status, latencyMs });
    const excerpt = this.excerpt.replace(/\s+/g, " ").trim().slice(0, ERROR_BODY_CHARS);
    const said = excerpt ? `: ${excerpt}` : "";
    if (status === 410) return this.settle({ outcome: "gone", status, latencyMs, error: `410 Gone${said}` });
    if (status < 400) {
      return this.settle({ outcome: "failed", status, latencyMs, error: `${status} redirect to ${JSON.stringify(this.location ?? "")} not followed (register the final address)` });
    }
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(this.retryAfter, this.now()) : undefined;
    this.settle({ outcome: "failed", status, latencyMs, error: `HTTP ${status}${said}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }

  private settle(result: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(result);
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.started);
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A network failure in words: what happened, with the system code when there is one. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  const chain: unknown[] = [];
  for (let e: unknown = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  const names = chain.map((e) => (e as Error).name);
  if (names.includes("TimeoutError") || chain.some((e) => e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError)) {
    return `no complete answer within ${timeoutMs} ms`;
  }
  if (chain.some((e) => e instanceof undiciErrors.ConnectTimeoutError)) return `could not connect in time (${(error as Error).message})`;
  const blocked = findBlockedAddressError(error);
  if (blocked) return blocked.message;
  const coded = chain.find((e) => typeof (e as { code?: unknown }).code === "string") as (Error & { code: string }) | undefined;
  const last = chain.at(-1) as Error | undefined;
  const message = last?.message ?? String(error);
  return coded && !message.includes(coded.code) ? `${coded.code}: ${message}` : message;
}
