import { existsSync, readFileSync } from "node:fs";
import { generateSecret } from "../../shared/sinks/secret";
import { startLocalRuntime, type LocalRuntime, type RuntimeCounters } from "./runtime";
import { managementTokenFile } from "./management-token";

const HELP = `nomad-event-sinks local runtime: the whole pipeline on this machine

Usage: npm start [-- --help]

Runs the streamer, a local EventBridge (PutEvents endpoint, rule to the ingest queue,
archive), SQS (fauxqs), the fanout and deliver functions (polled like Lambda's SQS
event sources), and the sinks API, over DynamoDB Local. State is kept under the data
directory, so a restart continues where the last run stopped: sinks, the streamer's
checkpoint, and the messages still on the queues. Stop it with Ctrl-C.

Source of events:
  NOMAD_ADDR              a Nomad to stream from, e.g. http://127.0.0.1:4646; with it the
                          Nomad CLI's variables apply too: NOMAD_TOKEN, NOMAD_REGION,
                          NOMAD_NAMESPACE (default *), NOMAD_CACERT, NOMAD_CLIENT_CERT,
                          NOMAD_CLIENT_KEY, NOMAD_SKIP_VERIFY, NOMAD_TLS_SERVER_NAME
  (unset)                 a built-in simulated cluster that speaks Nomad's event stream:
  SIMULATED_EVENTS_PER_SECOND  its rate (default 20; 0 pauses it)
  SIMULATED_NAMESPACES    its namespaces, comma-separated (default default,web,batch)

Runtime:
  PORT                    port of the sinks API (default 8080)
  HOST                    address the API listens on (default 127.0.0.1)
  SINKS_MANAGEMENT_TOKEN  the management token; when unset, one is generated once,
                          saved in <data dir>/management-token and printed
  LOCAL_DATA_DIR          where local state is kept (default .data)
  FANOUT_CONCURRENCY      fanout invocations at once (default 2)
  DELIVER_CONCURRENCY     deliver invocations at once (default 10; one sink's deliveries
                          are one FIFO message group, handled one batch at a time)
  COUNTERS_INTERVAL_SECONDS  how often the counters are printed when the output is not
                          a terminal (default 10; 0 prints none)

Names (defaults shown):
  SINKS_TABLE=nomad-event-sinks  DELIVERIES_TABLE=nomad-event-sinks-deliveries
  STREAMER_TABLE=nomad-event-sinks-streamer  EVENT_BUS_NAME=nomad-event-sinks

The functions' and the streamer's own variables work as documented in the README
(Configuration), with these local defaults:
  WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8,::1/128  (webhooks on this machine are allowed)
  POWERTOOLS_LOG_LEVEL=WARN  HEALTH_PORT=0  HEALTH_HOST=<HOST>  METRICS_INTERVAL_SECONDS=0
  DELIVERY_LATEST_INDEX_EVERY_MS=1000  (a sink's LatestIndex is written at most once a second)
for example DELIVERY_RETRY_BASE_SECONDS, SINK_CACHE_SECONDS, SINK_CHECK_MS, STREAMER_TOPICS.

See it work: npm run receiver (in another terminal), then paste the curl printed below.
`;

// The local runtime runs on Node 20 by design; Lambda runs Node 22 (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Whether a token saved by an earlier start exists and differs from the one in use. */
function savedTokenDiffers(file: string, token: string): boolean {
  if (!existsSync(file)) return false;
  try {
    return readFileSync(file, "utf8").trim() !== token;
  } catch {
    return false;
  }
}

function banner(runtime: LocalRuntime): string {
  const { apiUrl, token, dataDir } = runtime;
  const tokenFile = managementTokenFile(dataDir);
  const tokenNote =
    runtime.tokenSource === "environment"
      ? `(from SINKS_MANAGEMENT_TOKEN${savedTokenDiffers(tokenFile, token) ? `; the token saved in ${tokenFile} is not accepted while it is set` : ""})`
      : runtime.tokenSource === "saved" ? `(saved in ${tokenFile})` : `(generated, saved in ${tokenFile})`;
  const source =
    runtime.source.kind === "simulated"
      ? `simulated cluster at ${runtime.source.cluster.url}, ${runtime.source.eventsPerSecond} events/s in namespaces ${runtime.source.namespaces.join(", ")}
                    (set NOMAD_ADDR, and NOMAD_TOKEN if ACLs are on, to stream from a real Nomad)`
      : `Nomad at ${runtime.source.address} (unset NOMAD_ADDR to use the simulated cluster)`;
  const restored = Object.entries(runtime.restored).filter(([, n]) => n > 0);
  const restoreError = runtime.source.kind === "simulated" ? runtime.source.cluster.restoreError : undefined;
  return `
nomad-event-sinks is running locally.

  Sinks API         ${apiUrl}/v1/event/sinks
  Streamer health   ${runtime.healthUrl}
  Management token  ${token}  ${tokenNote}
  Events from       ${source}
  Data              ${dataDir}${restoreError ? `\n  Note              ${restoreError.message}` : ""}${restored.length > 0 ? `\n  Restored          ${restored.map(([name, n]) => `${n} message(s) on ${name}`).join(", ")}` : ""}

${seeEvents(runtime)}
List sinks:       curl -H "X-Nomad-Token: ${token}" "${apiUrl}/v1/event/sinks?pretty"
Its deliveries:   curl -H "X-Nomad-Token: ${token}" "${apiUrl}/v1/event/sink/demo/deliveries?pretty"

Ctrl-C stops everything; the next npm start continues where this one stopped.

`;
}

/** How to see events arrive: register the example sink, or, once an earlier run did, start the receiver with its secrets. */
function seeEvents(runtime: LocalRuntime): string {
  const { apiUrl, token, demoSink } = runtime;
  if (demoSink === undefined) {
    const secret = generateSecret();
    return `See events arrive: start the demo receiver in another terminal

  npm run receiver -- --port 9000 --secret ${secret}

then register a sink that sends it every event:

  curl -X PUT ${apiUrl}/v1/event/sink/demo \\
    -H "X-Nomad-Token: ${token}" \\
    -d '{"ID":"demo","Type":"webhook","Address":"http://127.0.0.1:9000/","Topics":{"*":["*"]},"Secret":"${secret}"}'
`;
  }
  const registered = `The example sink "demo" is registered (webhook ${demoSink.address}${demoSink.disabled !== undefined ? `; disabled: ${demoSink.disabled}` : ""}).`;
  const listener = receiverAddress(demoSink.address);
  if (listener === undefined || demoSink.disabled !== undefined) return `${registered}\n`;
  return `${registered} See its events arrive: start the
demo receiver in another terminal with its secret${demoSink.secrets.length > 1 ? "s" : ""}

  npm run receiver -- ${listener}${demoSink.secrets.map((s) => ` --secret ${s}`).join("")}
`;
}

/** The demo receiver's flags to listen where an http address on this machine points (127.0.0.0/8, [::1], localhost); else undefined. */
function receiverAddress(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  const host = url.hostname === "[::1]" ? "::1" : url.hostname;
  if (url.protocol !== "http:" || !(host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host))) return undefined;
  return `--port ${url.port === "" ? 80 : url.port}${host === "127.0.0.1" ? "" : ` --host ${host}`}`;
}

function formatCounters(c: RuntimeCounters): string {
  const streamer = c.streamerRole === "active" ? (c.connected ? "streaming" : "connecting") : c.streamerRole;
  return `streamed ${c.streamed}  matched ${c.matched}  delivered ${c.delivered}  retried ${c.retried}  dead-lettered ${c.deadLettered}  lag ${c.lagMs} ms  (streamer ${streamer})`;
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(HELP);
    return;
  }
  const unknown = process.argv.slice(2).filter((arg) => arg !== "--");
  if (unknown.length > 0) {
    process.stderr.write(`npm start: unknown argument ${JSON.stringify(unknown[0])}; everything is configured by environment (npm start -- --help)\n`);
    process.exit(2);
  }
  // Ctrl-C while starting: the start finishes (DynamoDB Local, detached, must not be left behind),
  // then everything stops in order.
  let early: string | undefined;
  const onEarlySignal = (signal: string) => (early = signal);
  process.once("SIGINT", onEarlySignal).once("SIGTERM", onEarlySignal);
  const runtime = await startLocalRuntime(process.env);
  process.removeListener("SIGINT", onEarlySignal).removeListener("SIGTERM", onEarlySignal);
  process.stdout.write(banner(runtime));
  const interval = runtime.settings.countersIntervalSeconds;

  // A terminal gets one line refreshed in place; anything else (a log, a pipe) plain periodic lines.
  const tty = process.stdout.isTTY === true;
  const timer =
    tty || interval > 0
      ? setInterval(
          () => {
            const line = formatCounters(runtime.counters());
            process.stdout.write(tty ? `\r\x1b[2K${line}` : `${new Date().toISOString()}  ${line}\n`);
          },
          tty ? 1_000 : interval * 1_000,
        )
      : undefined;

  let stopping = false;
  /** Stops once, on a signal (exit 0) or a stand-in's failure (exit 1). */
  const stop = async (why: { signal: string } | { failure: Error }) => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    if ("signal" in why) process.stdout.write(`\n${why.signal}: stopping…\n`);
    else process.stderr.write(`\nnpm start failed: ${why.failure.message}; stopping\n`);
    await runtime.stop();
    if ("failure" in why) process.exit(1);
    process.stdout.write(`stopped: ${formatCounters(runtime.counters())}\n`);
    process.exit(0);
  };
  runtime.failure.catch((failure: Error) => stop({ failure }));
  process.on("SIGINT", () => void stop({ signal: "SIGINT" }));
  process.on("SIGTERM", () => void stop({ signal: "SIGTERM" }));
  if (early !== undefined) await stop({ signal: early });
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
