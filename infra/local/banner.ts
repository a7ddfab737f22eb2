import { cidrContains, parseIpLiteral } from "../../shared/delivery/ip-address";
import { parseCidrList } from "../../shared/delivery/ssrf-guard";
import { generateSecret } from "../../shared/sinks/secret";
import { managementTokenFile } from "./management-token";
import { LOCAL_WEBHOOK_ALLOWED_CIDRS, type LocalRuntime, type RuntimeCounters } from "./runtime";

/** What npm start prints once everything runs: where things are, and how to see events arrive. */
export function banner(runtime: LocalRuntime): string {
  const { apiUrl, token, dataDir } = runtime;
  const tokenFile = managementTokenFile(dataDir);
  const tokenNote =
    runtime.tokenSource === "environment"
      ? `(from SINKS_MANAGEMENT_TOKEN${runtime.savedTokenRefused ? `; the token saved in ${tokenFile} is not accepted while it is set` : ""})`
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

const LOOPBACK = parseCidrList(LOCAL_WEBHOOK_ALLOWED_CIDRS);

/** The demo receiver's flags to listen where an http address on this machine points (loopback, or localhost); else undefined. */
export function receiverAddress(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  const ip = parseIpLiteral(url.hostname);
  if (url.protocol !== "http:" || !(url.hostname === "localhost" || (ip !== undefined && LOOPBACK.some((cidr) => cidrContains(cidr, ip))))) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return `--port ${url.port === "" ? 80 : url.port}${host === "127.0.0.1" ? "" : ` --host ${host}`}`;
}

/** The counters line. */
export function formatCounters(c: RuntimeCounters): string {
  const streamer = c.streamerRole === "active" ? (c.connected ? "streaming" : "connecting") : c.streamerRole;
  return `streamed ${c.streamed}  matched ${c.matched}  delivered ${c.delivered}  retried ${c.retried}  dead-lettered ${c.deadLettered}  lag ${c.lagMs} ms  (streamer ${streamer})`;
}
