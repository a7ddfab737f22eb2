import { runDeliveryBench } from "./delivery.bench";
import { runDomainBench } from "./domain.bench";
import { runE2eBench } from "./e2e.bench";
import { runStreamerBench } from "./streamer.bench";

/** `npm run bench` runs every benchmark; `npm run bench -- <name>` runs one. */
const benches: Record<string, () => boolean | Promise<boolean>> = {
  domain: runDomainBench,
  streamer: runStreamerBench,
  delivery: runDeliveryBench,
  e2e: runE2eBench,
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = wanted.filter((name) => !(name in benches));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(", ")}; available: ${Object.keys(benches).join(", ")}\n`);
    process.exit(2);
  }
  process.stdout.write(`# nomad-event-sinks benchmarks (${new Date().toISOString()}, node ${process.version})\n`);
  let ok = true;
  for (const name of wanted.length > 0 ? wanted : Object.keys(benches)) ok = (await benches[name]!()) && ok;
  process.stdout.write(ok ? "\nevery goal met\n" : "\nsome goals not met\n");
}

// The SDK warns on Node 20; benchmarks run here on Node 20 by design.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
void main().then(() => process.exit(0));
