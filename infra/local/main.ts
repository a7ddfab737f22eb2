import { banner, formatCounters } from "./banner";
import { LOCAL_WEBHOOK_ALLOWED_CIDRS, startLocalRuntime } from "./runtime";

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
  WEBHOOK_ALLOWED_CIDRS=${LOCAL_WEBHOOK_ALLOWED_CIDRS}  (webhooks on this machine are allowed)
  POWERTOOLS_LOG_LEVEL=WARN  HEALTH_PORT=0  HEALTH_HOST=<HOST>  METRICS_INTERVAL_SECONDS=0
  DELIVERY_LATEST_INDEX_EVERY_MS=1000  (a sink's LatestIndex is written at most once a second)
for example DELIVERY_RETRY_BASE_SECONDS, SINK_CACHE_SECONDS, SINK_CHECK_MS, STREAMER_TOPICS.

See it work: npm run receiver (in another terminal), then paste the curl printed below.
`;

// The local runtime runs on Node 20 by design; Lambda runs Node 22 (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

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
