import { errors as undiciErrors, request, type Dispatcher } from "undici";
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
 * POSTs signed deliveries and classifies the answer. Redirects are never followed (a 3xx
 * is a failure naming where it pointed); any answer body is read and discarded so the
 * connection returns to the pool.
 */
export class WebhookClient {
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: WebhookClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  async post(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    // One plain timer per request for the whole exchange (cheaper than AbortSignal.timeout).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new TimeoutError(this.timeoutMs)), this.timeoutMs);
    try {
      const response = await request(url, {
        method: "POST",
        dispatcher: this.options.dispatcher,
        headers: { "content-type": "application/json", "user-agent": this.options.userAgent, ...headers },
        body,
        signal: abort.signal,
      });
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        await response.body.dump();
        return { outcome: "delivered", status, latencyMs: elapsed() };
      }
      const excerpt = await readExcerpt(response.body);
      const latencyMs = elapsed();
      const said = excerpt ? `: ${excerpt}` : "";
      if (status === 410) return { outcome: "gone", status, latencyMs, error: `410 Gone${said}` };
      if (status >= 300 && status < 400) {
        const location = response.headers.location;
        return { outcome: "failed", status, latencyMs, error: `${status} redirect to ${JSON.stringify(Array.isArray(location) ? location[0] : (location ?? ""))} not followed (register the final address)` };
      }
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers["retry-after"], this.now()) : undefined;
      return { outcome: "failed", status, latencyMs, error: `HTTP ${status}${said}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    } catch (error) {
      return { outcome: "failed", status: undefined, latencyMs: elapsed(), error: describeFailure(error, this.timeoutMs) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The whole exchange took longer than the client's timeout. */
class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
  }
}

async function readExcerpt(body: Dispatcher.ResponseData["body"]): Promise<string> {
  let text = "";
  for await (const chunk of body) {
    if (text.length < ERROR_BODY_CHARS) text += (chunk as Buffer).toString("utf8");
  }
  return text.replace(/\s+/g, " ").trim().slice(0, ERROR_BODY_CHARS);
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
