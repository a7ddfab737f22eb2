import { realpathSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { intEnv, optionalEnv } from "../../shared/config/env";
import { malformedSecret, verifyWebhook } from "../../shared/delivery/verify-signature";
import { decodeNomadFrame, type NomadEvent } from "../../shared/nomad/event";
import { httpUrl } from "./http-url";

/**
 * A demo webhook receiver (`npm run receiver`): the other end of the deliver function, to
 * watch deliveries arrive. It accepts a POST on any path, verifies its Standard Webhooks
 * signature with the sink's secrets (verify-signature.ts; any of several during a
 * rotation), checks the body is `{"Index": N, "Events": [...Nomad events]}`, and prints
 * one plain, greppable line per request:
 *
 *   12:01:02.345  msg_2b…  index 1234  3 events  Job/JobRegistered default/web, …  ✓ signed
 *   12:01:03.012  msg_9f…  ✗ 401 no signature matches: …
 *
 * Answers: 204 to a delivery (signed, or any when no secret is given: then it is printed
 * "unverified" and a warning at start says how to pass the secret), 401 with the reason
 * as plain text to a bad or missing signature, 400 to a body that is not the expected
 * JSON, 405 to anything but POST, 413 to a body over 8 MiB. The body is checked only once
 * the signature is. Bad input never ends the process. A webhook-id already accepted (the
 * deliver function retries under the same id) is marked "repeat". Colour only on a TTY,
 * and not with NO_COLOR.
 */

/** Larger than any request the deliver function sends (DELIVERY_MAX_REQUEST_BYTES is at most 6 MiB). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Events named on a line; the rest are counted. */
const EVENTS_SHOWN = 3;
/** webhook-ids remembered to mark repeats. */
const SEEN_IDS = 10_000;

export interface DemoReceiverOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** The sink's `whsec_` secrets; none accepts every delivery unverified. A malformed one fails the start. */
  readonly secrets?: readonly string[];
  /** Where lines are printed. @default process.stdout */
  readonly out?: Output;
  /** How far webhook-timestamp may be from now. @default 300 */
  readonly toleranceSeconds?: number;
  /** Colour the marks. @default out.isTTY and NO_COLOR unset */
  readonly color?: boolean;
}

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ReceivedDelivery {
  /** The webhook-id header ("" when an unverified delivery had none). */
  readonly id: string;
  readonly index: number;
  readonly events: readonly NomadEvent[];
  readonly verified: boolean;
}

export interface DemoReceiver {
  /** `http://host:port/`; POST to any path under it. */
  readonly url: string;
  readonly port: number;
  /** Every delivery answered 204, in arrival order. */
  received(): ReceivedDelivery[];
  close(): Promise<void>;
}

type Answer = { status: number; text?: string; headers?: Record<string, string> };

export async function startDemoReceiver(options: DemoReceiverOptions = {}): Promise<DemoReceiver> {
  const secrets = options.secrets ?? [];
  const problem = malformedSecret(secrets);
  if (problem !== undefined) throw new Error(`cannot verify deliveries: ${problem}`);
  const out = options.out ?? process.stdout;
  const paint = painter(options.color ?? (out.isTTY === true && !process.env.NO_COLOR));
  const host = options.host ?? "127.0.0.1";
  const received: ReceivedDelivery[] = [];
  const seen = new Set<string>();

  const print = (text: string) => out.write(`${paint.dim(clock())}  ${text}\n`);
  const refuse = (id: string, status: number, reason: string, headers?: Record<string, string>): Answer => {
    print(`${id || "-"}  ${paint.red(`✗ ${status} ${oneLine(reason, 300)}`)}`);
    return { status, text: `${reason}\n`, ...(headers ? { headers } : {}) };
  };

  function answer(req: IncomingMessage, body: Buffer | "too large"): Answer {
    const headerId = req.headers["webhook-id"];
    const rawId = typeof headerId === "string" ? headerId.trim() : "";
    const id = oneLine(rawId, 100); // as printed
    if (req.method !== "POST") return refuse(id, 405, `${oneLine(req.method ?? "?", 20)} ${oneLine(req.url ?? "", 100)}: only POST is accepted`, { allow: "POST" });
    if (body === "too large") return refuse(id, 413, `the body is over ${MAX_BODY_BYTES} bytes`);
    let verified = false;
    if (secrets.length > 0) {
      const verification = verifyWebhook(secrets, req.headers, body, options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds });
      if (!verification.ok) return refuse(id, 401, verification.reason);
      verified = true;
    }
    const frame = parseDelivery(body);
    if ("problem" in frame) return refuse(id, 400, frame.problem);
    received.push({ id: rawId, index: frame.index, events: frame.events, verified });
    const repeat = rawId !== "" && seen.has(rawId);
    if (rawId !== "" && !repeat) {
      if (seen.size >= SEEN_IDS) seen.delete(seen.values().next().value as string);
      seen.add(rawId);
    }
    const n = frame.events.length;
    const mark = verified ? paint.green("✓ signed") : paint.yellow("unverified");
    const columns = [id || "-", `index ${frame.index}`, `${n} event${n === 1 ? "" : "s"}`, summary(frame.events), mark, repeat ? "repeat" : ""];
    print(columns.filter((column) => column !== "").join("  "));
    return { status: 204 };
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("error", () => undefined); // a client that goes away mid-body: nothing to answer
    res.on("error", () => undefined);
    req.on("end", () => {
      let reply: Answer;
      try {
        reply = answer(req, size > MAX_BODY_BYTES ? "too large" : Buffer.concat(chunks));
      } catch (error) {
        reply = refuse("", 500, `the receiver failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      const headers: Record<string, string> = { ...reply.headers };
      if (reply.text !== undefined) headers["content-type"] = "text/plain; charset=utf-8";
      res.writeHead(reply.status, headers);
      res.end(reply.text);
    });
  });
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => undefined);
  const { port } = server.address() as AddressInfo;
  const url = `${httpUrl(host, port)}/`;

  out.write(`demo webhook receiver listening on ${url} (POST to any path); ${secrets.length > 0 ? `verifying signatures with ${secrets.length} secret${secrets.length === 1 ? "" : "s"}` : "not verifying signatures"}\n`);
  if (secrets.length === 0) {
    out.write(
      `${paint.yellow("warning:")} no secret given, so deliveries are accepted and printed "unverified". To verify them, pass the sink's ` +
        `secret: npm run receiver -- --secret whsec_… (repeatable), or RECEIVER_SECRET=whsec_…[,whsec_…]. ` +
        `Read it with GET /v1/event/sink/<id>/secret (Secret and any PreviousSecrets), or choose it as "Secret" when registering the sink (PUT /v1/event/sink/<id>).\n`,
    );
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    received: () => [...received],
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/** The body as `{"Index": N, "Events": [...]}`, or what is wrong with it. */
function parseDelivery(body: Buffer): { index: number; events: NomadEvent[] } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (error) {
    const start = body.subarray(0, 40).toString("utf8");
    return { problem: `the body is not JSON (${(error as Error).message}); received ${body.length} bytes starting ${JSON.stringify(start)}` };
  }
  const expected = `expected {"Index": N, "Events": [...]}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { problem: `the body is not a JSON object: ${expected}, received ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}` };
  const record = value as Record<string, unknown>;
  if (record.Index === undefined) return { problem: `the body has no Index: ${expected}` };
  if (!Array.isArray(record.Events)) return { problem: `the body's Events is not an array: ${expected}, received ${record.Events === undefined ? "no Events" : JSON.stringify(record.Events)?.slice(0, 40)}` };
  const decoded = decodeNomadFrame(value);
  if ("issue" in decoded) return { problem: `the body's ${decoded.issue.path || "value"} is not as Nomad sends it: ${decoded.issue.message}` };
  return { index: decoded.frame.Index, events: decoded.frame.Events ?? [] };
}

/** `Topic/Type Namespace/Key` of the first few events, then how many more. */
function summary(events: readonly NomadEvent[]): string {
  const named = events.slice(0, EVENTS_SHOWN).map((e) => {
    const key = [e.Namespace, e.Key].filter((part) => part !== "").join("/");
    return oneLine(`${e.Topic}/${e.Type}${key ? ` ${key}` : ""}`, 80);
  });
  const more = events.length - named.length;
  return named.join(", ") + (more > 0 ? `, +${more} more` : "");
}

/** Text from a request made safe for one terminal line: control characters shown as `?`, at most `max` characters. */
function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?");
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function clock(date = new Date()): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

function painter(color: boolean) {
  const wrap = (code: number) => (text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  return { green: wrap(32), red: wrap(31), yellow: wrap(33), dim: wrap(2) };
}

// ---------------------------------------------------------------------------------------
// npm run receiver

const HELP = `nomad-event-sinks demo webhook receiver

Usage: npm run receiver -- [--port N] [--host ADDRESS] [--secret whsec_…]... [--help]

Listens for the webhooks the deliver function POSTs (to any path), verifies their
Standard Webhooks signature and prints one line per delivery:

  12:01:02.345  msg_2b…  index 1234  3 events  Job/JobRegistered default/web, …  ✓ signed

It answers 204 to a delivery, 401 (with the reason) to a bad or missing signature, 400 to
a body that is not {"Index": N, "Events": [...]}, and 405 to anything but POST.
Stop it with Ctrl-C.

Options:
  --port N          port to listen on, 0 for any free one (default RECEIVER_PORT, else 9000)
  --host ADDRESS    address to listen on (default RECEIVER_HOST, else 127.0.0.1)
  --secret SECRET   the sink's whsec_ signing secret; repeat it to accept several, as during
                    a rotation (default RECEIVER_SECRET, a comma-separated list)
  -h, --help        this help

Without a secret, every delivery is accepted and printed "unverified". A sink's secrets:

  curl -H "X-Nomad-Token: $TOKEN" http://127.0.0.1:8080/v1/event/sink/my-sink/secret

(its Secret and, after a rotation, PreviousSecrets: pass them all). npm start lets
webhooks reach this machine (WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8,::1/128 by default there);
elsewhere the SSRF guard refuses loopback unless WEBHOOK_ALLOWED_CIDRS allows it.
`;

/** A command line that cannot be used as given; exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface ReceiverCommand {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  readonly secrets: readonly string[];
}

/** Flags, then the environment, then defaults. Throws UsageError naming the flag or variable and what was received. */
export function parseReceiverCommand(args: readonly string[], env: Readonly<Record<string, string | undefined>>): ReceiverCommand {
  let port: number | undefined;
  let host: string | undefined;
  const secrets: string[] = [];
  if (args.includes("-h") || args.includes("--help")) return { help: true, port: 0, host: "", secrets: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (flag !== "--port" && flag !== "--host" && flag !== "--secret") {
      throw new UsageError(arg.startsWith("-") ? `unknown flag ${JSON.stringify(flag)}; the flags are --port, --host, --secret and --help` : `unexpected argument ${JSON.stringify(arg)}; values follow their flag, e.g. --port 9000`);
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UsageError(`${flag} needs a value, but ${next === undefined ? "nothing" : JSON.stringify(next)} followed it`);
      value = next;
      i++;
    }
    value = value.trim();
    if (flag === "--port") port = portOf(value, `${flag} must be an integer from 0 to 65535, but ${JSON.stringify(value)} was received`);
    else if (flag === "--host") {
      if (value === "") throw new UsageError(`--host needs an address, but "" was received`);
      host = value;
    } else {
      const problem = malformedSecret([value]);
      if (problem !== undefined) throw new UsageError(`--secret (#${secrets.length + 1}) is not a sink secret: ${problem.replace(/^malformed secret: /, "")}`);
      secrets.push(value);
    }
  }
  if (secrets.length === 0) {
    const listed = (optionalEnv(env, "RECEIVER_SECRET") ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    const problem = malformedSecret(listed);
    if (problem !== undefined) throw new UsageError(`RECEIVER_SECRET holds a ${problem}`);
    secrets.push(...listed);
  }
  try {
    port ??= intEnv(env, "RECEIVER_PORT", 9000, { min: 0, max: 65535 });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { help: false, port, host: host ?? optionalEnv(env, "RECEIVER_HOST") ?? "127.0.0.1", secrets };
}

function portOf(value: string, message: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(message);
  return Number(value);
}

async function main(): Promise<void> {
  let command: ReceiverCommand;
  try {
    command = parseReceiverCommand(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`npm run receiver: ${error.message}; see --help\n`);
    process.exit(2);
  }
  if (command.help) {
    process.stdout.write(HELP);
    return;
  }
  let receiver: DemoReceiver;
  try {
    receiver = await startDemoReceiver({ port: command.port, host: command.host, secrets: command.secrets });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === "EADDRINUSE" ? " (that port is taken: choose another with --port or RECEIVER_PORT)" : "";
    process.stderr.write(`npm run receiver: could not listen on ${command.host}:${command.port}: ${(error as Error).message}${hint}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const n = receiver.received().length;
    process.stdout.write(`\n${signal}: stopping after ${n} ${n === 1 ? "delivery" : "deliveries"}\n`);
    await receiver.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((error: unknown) => {
    process.stderr.write(`npm run receiver failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
