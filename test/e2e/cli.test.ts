import { apiCall } from "../support/api-call";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startSimulatedCluster, type SimulatedCluster } from "../../infra/local/nomad/simulated-cluster";
import { cleanEnvironment, startRuntimeProcess, type RuntimeProcess } from "../support/local-runtime-process";
import { until } from "../support/until";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";

/**
 * The `nomad-event-sinks` CLI, run as its package.json `bin` (a real process, as a user runs
 * it) against one local runtime (`npm start`'s entry, its own process) fed by a Nomad this
 * test runs: every command, its tables, key = value blocks and -json output (compared with
 * what the API itself answers), its exit codes, the server's errors and usage errors.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; scripts: Record<string, string> };
const BIN = resolve(ROOT, PACKAGE.bin["nomad-event-sinks"]!);
const TOKEN = "e2e-cli-management-token";

let cluster: SimulatedCluster;
let runtime: RuntimeProcess;
let api: string;
let ok: WebhookReceiver;
let gone: WebhookReceiver;
let work: string;
const startedAt = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "Z");
const factory = createEventFactory();
const cleanups: Array<() => unknown> = [];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the bin with NOMAD_EVENT_SINKS_ADDR at the runtime and NOMAD_EVENT_SINKS_TOKEN the
 * management token, unless `token` (null: none) or `env` say otherwise. No NOMAD_* variable
 * of this process reaches it.
 */
async function cli(args: readonly string[], options: { token?: string | null; env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const env: Record<string, string> = { ...cleanEnvironment(), NOMAD_EVENT_SINKS_ADDR: api, ...(options.token === null ? {} : { NOMAD_EVENT_SINKS_TOKEN: options.token ?? TOKEN }), ...options.env };
  const child = spawn(BIN, args, { cwd: work, env, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? "");
  const code = await new Promise<number | null>((done, fail) => {
    child.once("error", fail);
    child.once("close", (c) => done(c));
  });
  return { code, stdout, stderr };
}

/** An expected failure: exit 1, nothing on stdout, the message on stderr, never a stack trace. */
function expectFailure(run: Run, message: string | RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toBe("");
  if (typeof message === "string") expect(run.stderr).toContain(message);
  else expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stderr).not.toMatch(/node:internal|\.ts:\d+/);
}

function expectSuccess(run: Run): string {
  expect(run.stderr, run.stdout).toBe("");
  expect(run.code).toBe(0);
  return run.stdout;
}

/** The API's own answer, to compare the CLI's -json output with. */
function apiGet(path: string, token = TOKEN): Promise<unknown> {
  return apiCall(api, token, "GET", path);
}

/**
 * A columnized table: the header's columns (split at two or more spaces), each row cut at the
 * header's column starts, so a row that is not aligned under its header comes out wrong.
 */
function table(stdout: string): { header: string[]; rows: Array<Record<string, string>> } {
  const lines = stdout.replace(/\n$/, "").split("\n");
  const head = lines[0]!;
  const header = head.split(/ {2,}/);
  const starts: number[] = [];
  for (const name of header) starts.push(head.indexOf(name, starts.length > 0 ? starts.at(-1)! + 1 : 0));
  const rows = lines.slice(1).map((line) => {
    // Every column starts right after two spaces (or at the start of the line).
    for (const start of starts.slice(1)) expect(line.slice(start - 2, start), `column at ${start} in ${JSON.stringify(line)}`).toBe("  ");
    return Object.fromEntries(header.map((name, i) => [name, line.slice(starts[i], starts[i + 1]).trim()]));
  });
  return { header, rows };
}

/** A `Key = value` block; the `=` signs must be aligned. */
function kv(stdout: string): Record<string, string> {
  const lines = stdout.replace(/\n$/, "").split("\n");
  const at = lines.map((line) => line.indexOf(" = "));
  expect(new Set(at).size, stdout).toBe(1);
  expect(at[0]).toBeGreaterThan(0);
  return Object.fromEntries(lines.map((line) => [line.slice(0, at[0]).trim(), line.slice(at[0]! + 3)]));
}

function sinkFile(name: string, sink: Record<string, unknown>): string {
  const path = join(work, `${name}.json`);
  writeFileSync(path, JSON.stringify(sink, null, 2));
  return path;
}

/** Publishes one Job event (and its evaluation) in `namespace` at a new index; returns the index. */
function publishJob(jobId: string, namespace = "default"): number {
  return cluster.server.publish(factory.jobRegistered({ jobId, namespace }));
}

beforeAll(async () => {
  cluster = await startSimulatedCluster({ eventsPerSecond: 0, heartbeatMs: 1_000, bufferSize: 10_000, seed: 7, namespaces: ["web", "batch", "default"] });
  cleanups.push(() => cluster.stop());
  work = mkdtempSync(join(tmpdir(), "nes-e2e-cli-"));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  ok = await startWebhookReceiver(() => ({ status: 204 }));
  gone = await startWebhookReceiver(() => ({ status: 410 }));
  cleanups.push(() => ok.close(), () => gone.close());
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  runtime = startRuntimeProcess({ NOMAD_ADDR: cluster.url, PORT: String(port), LOCAL_DATA_DIR: join(work, "data"), SINKS_MANAGEMENT_TOKEN: TOKEN, COUNTERS_INTERVAL_SECONDS: "0", SINK_CACHE_SECONDS: "0" });
  cleanups.push(() => runtime.stop("SIGTERM"));
  await runtime.waitFor(/nomad-event-sinks is running locally/, 90_000);
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("nomad-event-sinks CLI (package.json bin) against a local runtime", () => {
  it("is declared as a bin and an npm script, and prints help for itself and every command", async () => {
    expect(PACKAGE.bin).toEqual({ "nomad-event-sinks": "cli/bin.mjs" });
    expect(PACKAGE.scripts.cli).toBe("node cli/bin.mjs");

    const top = await cli(["-help"]);
    const help = expectSuccess(top);
    const commands = [
      "sink register",
      "sink list",
      "sink show",
      "sink deregister",
      "sink deliveries",
      "sink redrive",
      "sink secret",
      "sink rotate-secret",
      "token create",
      "token list",
      "token show",
      "token self",
      "token update",
      "token delete",
      "replay start",
      "replay status",
      "replay list",
    ];
    for (const command of commands) expect(help).toMatch(new RegExp(`^ +${command} +\\S`, "m"));
    for (const word of ["-address=<addr>", "-token=<token>", "-json", "NOMAD_EVENT_SINKS_ADDR", "NOMAD_EVENT_SINKS_TOKEN"]) expect(help).toContain(word);

    // Every command's -help (and --help, -h), exit 0, its usage line and its own flags.
    const helps = await Promise.all(commands.map((command, i) => cli([...command.split(" "), ["-help", "--help", "-h"][i % 3]!])));
    helps.forEach((run, i) => {
      const out = expectSuccess(run);
      expect(out.split("\n")[0]).toMatch(new RegExp(`^Usage: nomad-event-sinks ${commands[i]} \\[options\\]`));
      expect(out).toContain("-address=<addr>");
    });
    expect(helps[commands.indexOf("token create")]!.stdout).toMatch(/-namespace=<namespace>\n.*\(repeatable\)/);
    expect(helps[commands.indexOf("sink deliveries")]!.stdout).toContain("-next-token=<token>");
    expect(helps[commands.indexOf("replay start")]!.stdout).toContain("-from=<RFC3339>");

    const group = await cli(["sink", "-help"]);
    expect(expectSuccess(group)).toMatch(/^ +rotate-secret +Give a sink a new signing secret$/m);
    expect(expectSuccess(await cli(["-version"]))).toMatch(/^nomad-event-sinks v\d+\.\d+\.\d+\n$/);

    // No command: the help, as a usage error.
    const bare = await cli([]);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toContain("Usage: nomad-event-sinks");
  });

  it("refuses bad commands, flags and arguments with exit 1, naming what was wrong and what was received", async () => {
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const cases: Array<[string[], string]> = [
      [["frob"], 'Error: unknown command "frob"; the commands are sink, token, replay'],
      [["sink", "frob"], 'Error: unknown command "sink frob"; the sink commands are register, list, show'],
      [["sink", "list", "-bogus=1"], 'Error: unknown flag -bogus (received "-bogus=1")'],
      [["sink", "list", "--verbose"], 'Error: unknown flag -verbose (received "--verbose")'],
      [["sink", "list", "extra"], 'Error: this command takes no arguments; received 1: "extra"'],
      [["sink", "show"], "Error: this command takes one argument, the sink's ID; received none"],
      [["sink", "show", "a", "b"], `Error: this command takes one argument, the sink's ID; received 2: "a" "b"`],
      [["sink", "register"], "Error: this command takes one argument, a JSON file with the sink"],
      [["sink", "list", "-token"], "Error: flag -token needs a value, such as -token=<token>; received none"],
      [["sink", "list", "-json=maybe"], 'Error: -json is true or false; received "-json=maybe"'],
      [["sink", "deregister", "x", "-json"], "Error: unknown flag -json"],
      [["sink", "list", "-address", "ftp://127.0.0.1:1"], 'Error: -address must be an http:// or https:// URL such as http://127.0.0.1:8080; received "ftp://127.0.0.1:1"'],
      [["sink", "deliveries", "x", "-per-page", "0"], 'Error: -per-page must be a whole number from 1 to 500; received "0"'],
      [["sink", "deliveries", "x", "-per-page=many"], 'Error: -per-page must be a whole number from 1 to 500; received "many"'],
      [["token", "create", "-type", "admin"], 'Error: -type is "management" or "team"; received "admin"'],
      [["token", "create", "-ttl", "3d"], 'Error: -ttl must be a duration such as 10m, 1h or 72h30m; received "3d"'],
      [["token", "create", "-expiration-time", "tomorrow"], 'Error: -expiration-time must be an RFC 3339 time such as 2030-01-02T15:04:05Z; received "tomorrow"'],
      [["token", "create", "-ttl", "1h", "-expiration-time", future], `Error: give -ttl or -expiration-time, not both; received -ttl=1h and -expiration-time=${future}`],
      [["token", "create", "-namespace", "web,"], 'Error: -namespace takes a name (repeat the flag, or separate names with commas); received "web,"'],
      [["token", "update", "some-accessor"], "Error: nothing to change: give -name, -namespace, -cluster-topics, -ttl, -expiration-time or -no-expiration"],
      [["token", "update", "some-accessor", "-ttl", "1h", "-no-expiration"], "Error: give -no-expiration, -ttl or -expiration-time, not several"],
      [["replay", "start"], "Error: -from and -to are required: the replay's window, RFC 3339 times such as 2030-01-02T15:04:05Z; received no -from and no -to"],
      [["replay", "start", "-from", "yesterday", "-to", future], 'Error: -from must be an RFC 3339 time such as 2030-01-02T15:04:05Z; received "yesterday"'],
      [["replay", "start", "-from", future], `Error: -from and -to are required: the replay's window, RFC 3339 times such as 2030-01-02T15:04:05Z; received -from=${future} and no -to`],
      [["replay", "status"], "Error: this command takes one argument, the replay's ID; received none"],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((run, i) => {
      const [args, message] = cases[i]!;
      expectFailure(run, message);
      // Each points at the help of the command it was for.
      const help = args[0] === "frob" ? "nomad-event-sinks -help" : args[1] === "frob" ? "nomad-event-sinks sink -help" : `nomad-event-sinks ${args[0]} ${args[1]} -help`;
      expect(run.stderr).toContain(`For additional help try '${help}'`);
    });
  }, 60_000);

  it("prints the API's errors with exit 1: unknown sink, bad token, no token, a refused registration, no API", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const bad = sinkFile("bad", { ID: "bad", Type: "webhook", Address: ok.url, Topics: { Jobs: ["*"] } });
    const [missing, wrongToken, noToken, refused, noApi, noFile, notJson, noId] = await Promise.all([
      cli(["sink", "show", "no-such-sink"]),
      cli(["sink", "list", "-token", "not-a-token"]),
      // NOMAD_TOKEN and NOMAD_ADDR belong to Nomad: the CLI reads neither.
      cli(["sink", "list"], { token: null, env: { NOMAD_TOKEN: TOKEN, NOMAD_ADDR: unreachable } }),
      cli(["sink", "register", bad]),
      cli(["sink", "list"], { env: { NOMAD_EVENT_SINKS_ADDR: unreachable } }),
      cli(["sink", "register", join(work, "absent.json")]),
      cli(["sink", "register", "-"], { stdin: "{not json" }),
      cli(["sink", "register", "-"], { stdin: '{"Type":"webhook"}' }),
    ]);
    expectFailure(missing, /^Error: 404 event sink not found\n$/);
    expectFailure(wrongToken, /^Error: 403 Permission denied\n$/);
    expectFailure(noToken, /^Error: 403 Permission denied \(no token was given: set -token or NOMAD_EVENT_SINKS_TOKEN\)\n$/);
    expectFailure(refused, /^Error: 400 .*Topics.*Jobs/);
    expectFailure(noApi, new RegExp(`^Error: cannot reach the nomad-event-sinks API at ${unreachable}: .*ECONNREFUSED`));
    expectFailure(noFile, `Error: cannot read the sink from ${join(work, "absent.json")}: no such file`);
    expectFailure(notJson, "Error: the sink in stdin is not valid JSON");
    expectFailure(noId, 'Error: the sink in stdin needs an "ID" (the sink\'s ID, used in the path); received none');
    // -address beats the variable, and --flag=value is a flag too.
    expect(expectSuccess(await cli(["sink", "list", `--address=${api}`], { env: { NOMAD_EVENT_SINKS_ADDR: unreachable } }))).toBe("No event sinks found\n");
  });

  it("registers, lists, shows, reads and rotates secrets of sinks", async () => {
    const alpha = sinkFile("alpha", { ID: "alpha", Type: "webhook", Address: ok.url, Topics: { Job: ["*"], Evaluation: ["web", "batch"] } });
    const registered = expectSuccess(await cli(["sink", "register", alpha]));
    expect(registered).toMatch(/^Successfully registered event sink "alpha" \(index \d+\)\n$/);
    // From stdin, flags after the argument, double-dash token flag.
    const beta = JSON.stringify({ ID: "beta", Type: "webhook", Address: `${ok.url}/beta`, Topics: { "*": ["*"] }, Namespaces: ["web"], Team: "red" });
    expect(expectSuccess(await cli(["sink", "register", "-", `--token=${TOKEN}`], { token: null, stdin: beta }))).toMatch(/^Successfully registered event sink "beta" \(index \d+\)\n$/);

    // Reads, in parallel: table and JSON of the list, a sink and its secret.
    const [listRun, listJson, showRun, showJson, secretRun, secretJson] = await Promise.all([
      cli(["sink", "list"]),
      cli(["sink", "list", "-json"]),
      cli(["sink", "show", "alpha"]),
      cli(["sink", "show", "-json", "alpha"]),
      cli(["sink", "secret", "alpha"]),
      cli(["sink", "secret", "alpha", "-json"]),
    ]);
    const list = table(expectSuccess(listRun));
    expect(list.header).toEqual(["ID", "Type", "Address", "Topics", "Team", "Namespaces", "LatestIndex", "Enabled"]);
    expect(list.rows).toEqual([
      { ID: "alpha", Type: "webhook", Address: ok.url, Topics: "Evaluation[web batch],Job[*]", Team: "<none>", Namespaces: "*", LatestIndex: "0", Enabled: "true" },
      { ID: "beta", Type: "webhook", Address: `${ok.url}/beta`, Topics: "*[*]", Team: "red", Namespaces: "web", LatestIndex: "0", Enabled: "true" },
    ]);
    expect(JSON.parse(expectSuccess(listJson))).toEqual(await apiGet("/v1/event/sinks"));

    const shown = kv(expectSuccess(showRun));
    const apiAlpha = (await apiGet("/v1/event/sink/alpha")) as Record<string, unknown>;
    expect(shown).toEqual({
      ID: "alpha",
      Type: "webhook",
      Address: ok.url,
      Topics: "Evaluation[web batch],Job[*]",
      Team: "<none>",
      Namespaces: "*",
      Enabled: "true",
      "Latest Index": "0",
      "Create Index": String(apiAlpha.CreateIndex),
      "Modify Index": String(apiAlpha.ModifyIndex),
    });
    expect(JSON.parse(expectSuccess(showJson))).toEqual(apiAlpha);

    const secret = kv(expectSuccess(secretRun));
    const apiSecret = (await apiGet("/v1/event/sink/alpha/secret")) as { Secret: string };
    expect(secret).toEqual({ ID: "alpha", Secret: apiSecret.Secret, "Previous Secrets": "<none>" });
    expect(secret.Secret).toMatch(/^whsec_/);
    expect(JSON.parse(expectSuccess(secretJson))).toEqual(apiSecret);

    const rotated = kv(expectSuccess(await cli(["sink", "rotate-secret", "alpha"])));
    expect(rotated.Secret).toMatch(/^whsec_/);
    expect(rotated.Secret).not.toBe(apiSecret.Secret);
    expect(rotated["Previous Secrets"]).toMatch(new RegExp(`^${apiSecret.Secret.replace(/[+/]/g, "\\$&")} \\(signs until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)$`));
    const rotatedJson = JSON.parse(expectSuccess(await cli(["sink", "rotate-secret", "alpha", "-json"]))) as { Secret: string; PreviousSecrets: Array<{ Secret: string }> };
    expect(rotatedJson.PreviousSecrets.map((p) => p.Secret)).toEqual(expect.arrayContaining([apiSecret.Secret, rotated.Secret]));
    expect(await apiGet("/v1/event/sink/alpha/secret")).toEqual(rotatedJson);
  });

  it("lists a sink's deliveries a page at a time, following the next token, or every page", async () => {
    const gamma = sinkFile("gamma", { ID: "gamma", Type: "webhook", Address: `${ok.url}/gamma`, Topics: { Job: ["*"] }, Namespaces: ["batch"] });
    expectSuccess(await cli(["sink", "register", gamma]));
    // Three Job events, one at a time, so three requests and three attempts.
    for (let n = 1; n <= 3; n++) {
      publishJob(`gamma-${n}`, "batch");
      await until(() => ok.accepted.filter((r) => r.url.endsWith("/gamma")).length >= n, 30_000, `delivery ${n} to gamma`);
    }
    const all = (await apiGet("/v1/event/sink/gamma/deliveries?per_page=500")) as Array<{ DeliveryID: string; At: string; FirstIndex: number; LastIndex: number }>;
    expect(all.length).toBe(3);

    const [pageRun, firstRun, json, allJson, allTable, empty, missing] = await Promise.all([
      cli(["sink", "deliveries", "gamma"]),
      cli(["sink", "deliveries", "gamma", "-per-page", "1"]),
      cli(["sink", "deliveries", "gamma", "-per-page", "2", "-json"]),
      cli(["sink", "deliveries", "gamma", "-all", "-per-page", "1", "-json"]),
      cli(["sink", "deliveries", "gamma", "-all", "-per-page", "2"]),
      cli(["sink", "deliveries", "beta"]),
      cli(["sink", "deliveries", "no-such-sink"]),
    ]);
    const page = expectSuccess(pageRun);
    const listed = table(page);
    expect(listed.header).toEqual(["Delivery ID", "Attempt", "Outcome", "Status", "Latency", "Events", "Indexes", "At", "Next Attempt", "Error"]);
    expect(listed.rows.map((r) => r["Delivery ID"])).toEqual(all.map((a) => a.DeliveryID));
    for (const [i, row] of listed.rows.entries()) {
      expect(row).toMatchObject({ Attempt: "1", Outcome: "delivered", Status: "204", Events: "1", At: all[i]!.At, "Next Attempt": "<none>", Error: "<none>" });
      expect(row.Latency).toMatch(/^\d+ms$/);
      expect(row.Indexes).toBe(String(all[i]!.FirstIndex));
    }

    // One per page: the hint names the next token; following it gives the next attempt.
    const first = expectSuccess(firstRun);
    const [tablePart, hint] = first.split("\n\nResults have been paginated. To get the next page run:\n\n");
    expect(table(tablePart!).rows.map((r) => r["Delivery ID"])).toEqual([all[0]!.DeliveryID]);
    const next = hint!.match(/^nomad-event-sinks sink deliveries -per-page 1 -next-token (\S+) gamma\n$/);
    expect(next, hint).not.toBeNull();
    const second = expectSuccess(await cli(["sink", "deliveries", "gamma", "-per-page=1", `-next-token=${next![1]}`]));
    expect(table(second.split("\n\n")[0]!).rows.map((r) => r["Delivery ID"])).toEqual([all[1]!.DeliveryID]);

    // -json keeps stdout one JSON document; the hint goes to stderr.
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(all.slice(0, 2));
    expect(json.stderr).toMatch(/^Results have been paginated\. To get the next page run:\n\nnomad-event-sinks sink deliveries -per-page 2 -json -next-token \S+ gamma\n$/);

    // -all follows every page.
    expect(JSON.parse(expectSuccess(allJson))).toEqual(all);
    expect(table(expectSuccess(allTable)).rows.length).toBe(3);

    expect(expectSuccess(empty)).toBe('No deliveries found for event sink "beta"\n');
    expectFailure(missing, /^Error: 404 event sink not found\n$/);
  }, 60_000);

  it("shows a disabled sink, refuses to redrive it (409), and redrives its dead letters once it is registered again", async () => {
    const file = sinkFile("gone", { ID: "gone", Type: "webhook", Address: `${gone.url}/gone`, Topics: { Job: ["*"] }, Namespaces: ["web"] });
    expectSuccess(await cli(["sink", "register", file]));
    publishJob("gone-1", "web");
    // The webhook answers 410: the sink is disabled and the delivery dead-lettered (its attempt is logged after).
    await until(
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        return ((await apiGet("/v1/event/sink/gone/deliveries")) as Array<{ Outcome: string }>).some((a) => a.Outcome === "disabled");
      },
      30_000,
      "the 410 to disable gone",
    );

    const [showRun, listRun, redriveRun] = await Promise.all([cli(["sink", "show", "gone"]), cli(["sink", "list"]), cli(["sink", "redrive", "gone"])]);
    const shown = kv(expectSuccess(showRun));
    expect(shown.Enabled).toBe("false");
    expect(shown["Disabled Reason"]).toMatch(/^the webhook answered 410 Gone on .*; re-register the sink to enable it again$/);
    expect(shown["Disabled At"]).toMatch(/^\d{4}-\d\d-\d\dT/);
    const row = table(expectSuccess(listRun)).rows.find((r) => r.ID === "gone");
    expect(row?.Enabled).toBe("false");

    expectFailure(redriveRun, /^Error: 409 event sink "gone" is disabled \(the webhook answered 410 Gone .*\); re-register it to enable it, then redrive\n$/);

    gone.setReply(() => ({ status: 204 }));
    expectSuccess(await cli(["sink", "register", file]));
    expect(kv(expectSuccess(await cli(["sink", "show", "gone"]))).Enabled).toBe("true");
    expect(expectSuccess(await cli(["sink", "redrive", "gone"]))).toBe('Sent 1 dead-lettered delivery of event sink "gone" back to the delivery queue\n');
    await until(() => gone.accepted.length >= 1, 30_000, "the redriven delivery");
    expect(JSON.parse(gone.accepted[0]!.body).Events.map((e: { Key: string }) => e.Key)).toEqual(["gone-1"]);
    const [again, missing] = await Promise.all([cli(["sink", "redrive", "gone", "-json"]), cli(["sink", "redrive", "no-such-sink"])]);
    expect(JSON.parse(expectSuccess(again))).toEqual({ Redriven: 0 });
    expectFailure(missing, /^Error: 404 event sink not found\n$/);
  }, 60_000);
  it("creates, lists, shows, updates and deletes tokens; a team token sees only its team's sinks and tokens", async () => {
    const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const [redRun, blueRun, opsRun] = await Promise.all([
      cli(["token", "create", "-name", "red team", "-team", "red", "-namespace", "web", "-namespace", "batch", "-ttl", "72h"]),
      cli(["token", "create", "-type=team", "-name=blue", "-team=blue", "-namespace=default,batch", "-cluster-topics", `-expiration-time=${expires}`, "-json"]),
      cli(["token", "create", "-type", "management", "-name", "ops"]),
    ]);
    const created = kv(expectSuccess(redRun));
    expect(Object.keys(created)).toEqual(["Accessor ID", "Secret ID", "Name", "Type", "Team", "Namespaces", "Cluster Topics", "Create Time", "Expiry Time", "Create Index", "Modify Index"]);
    expect(created).toMatchObject({ Name: "red team", Type: "team", Team: "red", Namespaces: "web,batch", "Cluster Topics": "false" });
    expect(Date.parse(created["Expiry Time"]!) - Date.parse(created["Create Time"]!)).toBe(72 * 3_600_000);
    const red = { accessor: created["Accessor ID"]!, secret: created["Secret ID"]! };
    expect(red.secret).toMatch(/^[0-9a-f-]{36}$/);

    const blue = JSON.parse(expectSuccess(blueRun)) as Record<string, unknown>;
    expect(blue).toMatchObject({ Name: "blue", Type: "team", Team: "blue", Namespaces: ["default", "batch"], ClusterTopics: true, ExpirationTime: expires });
    expect(blue.SecretID).toEqual(expect.any(String));
    const ops = kv(expectSuccess(opsRun));
    expect(ops).toMatchObject({ Type: "management", Team: "<none>", Namespaces: "*", "Cluster Topics": "true", "Expiry Time": "<none>" });

    const [listRun, listJson, showRun, showJson, selfRun, redSelfRun, redSelfJson] = await Promise.all([
      cli(["token", "list"]),
      cli(["token", "list", "-json"]),
      cli(["token", "show", red.accessor]),
      cli(["token", "show", red.accessor, "-json"]),
      cli(["token", "self"]),
      cli(["token", "self"], { token: red.secret }),
      cli(["token", "self", "-json", "-token", red.secret], { token: null }),
    ]);
    const tokens = table(expectSuccess(listRun));
    expect(tokens.header).toEqual(["Name", "Type", "Team", "Namespaces", "Cluster Topics", "Accessor ID", "Expiry Time"]);
    expect(tokens.rows).toEqual(
      expect.arrayContaining([
        { Name: "red team", Type: "team", Team: "red", Namespaces: "web,batch", "Cluster Topics": "false", "Accessor ID": red.accessor, "Expiry Time": created["Expiry Time"] },
        { Name: "blue", Type: "team", Team: "blue", Namespaces: "default,batch", "Cluster Topics": "true", "Accessor ID": blue.AccessorID, "Expiry Time": expires },
        { Name: "ops", Type: "management", Team: "<none>", Namespaces: "*", "Cluster Topics": "true", "Accessor ID": ops["Accessor ID"], "Expiry Time": "<none>" },
      ]),
    );
    expect(tokens.rows.length).toBe(3);
    expect(JSON.parse(expectSuccess(listJson))).toEqual(await apiGet("/v1/acl/tokens"));

    const shown = kv(expectSuccess(showRun));
    expect(shown).toEqual(Object.fromEntries(Object.entries(created).filter(([key]) => key !== "Secret ID")));
    expect(JSON.parse(expectSuccess(showJson))).toEqual(await apiGet(`/v1/acl/token/${red.accessor}`));

    // token self: the bootstrap token, then the red token (from the variable and from -token).
    expect(kv(expectSuccess(selfRun))).toMatchObject({ "Accessor ID": "bootstrap", Type: "management", Namespaces: "*" });
    expect(kv(expectSuccess(redSelfRun))["Accessor ID"]).toBe(red.accessor);
    expect(JSON.parse(expectSuccess(redSelfJson))).toEqual(await apiGet("/v1/acl/token/self", red.secret));

    // The red token sees only its team's sinks (beta), registers its own, and cannot see another's.
    expect(table(expectSuccess(await cli(["sink", "list"], { token: red.secret }))).rows.map((r) => r.ID)).toEqual(["beta"]);
    const redHook = JSON.stringify({ ID: "red-hook", Type: "webhook", Address: `${ok.url}/red`, Topics: { Deployment: ["*"] }, Namespaces: ["web"] });
    expectSuccess(await cli(["sink", "register", "-"], { token: red.secret, stdin: redHook }));
    const redList = table(expectSuccess(await cli(["sink", "list"], { token: red.secret })));
    expect(redList.rows.map((r) => [r.ID, r.Team])).toEqual([
      ["beta", "red"],
      ["red-hook", "red"],
    ]);
    expect(table(expectSuccess(await cli(["sink", "list"]))).rows.map((r) => r.ID)).toEqual(["alpha", "beta", "gamma", "gone", "red-hook"]);
    const [showOther, deleteOther, redTokens, showOtherToken, createManagement] = await Promise.all([
      cli(["sink", "show", "alpha"], { token: red.secret }),
      cli(["sink", "deregister", "alpha"], { token: red.secret }),
      cli(["token", "list"], { token: red.secret }),
      cli(["token", "show", String(blue.AccessorID)], { token: red.secret }),
      cli(["token", "create", "-type", "management"], { token: red.secret }),
    ]);
    expectFailure(showOther, /^Error: 404 event sink not found\n$/);
    expectFailure(deleteOther, /^Error: 404 event sink not found\n$/);
    expect(table(expectSuccess(redTokens)).rows.map((r) => r["Accessor ID"])).toEqual([red.accessor]);
    expectFailure(showOtherToken, /^Error: 404 ACL token not found\n$/);
    expectFailure(createManagement, /^Error: 403 Permission denied: a team token cannot create a management token\n$/);

    // Red narrows its own token; management changes blue's cluster topics and expiry.
    const narrowed = kv(expectSuccess(await cli(["token", "update", red.accessor, "-namespace", "web", "-name", "red narrowed"], { token: red.secret })));
    expect(narrowed).toMatchObject({ "Accessor ID": red.accessor, Name: "red narrowed", Namespaces: "web", "Expiry Time": created["Expiry Time"] });
    expect(Number(narrowed["Modify Index"])).toBeGreaterThan(Number(created["Modify Index"]));
    const changed = JSON.parse(expectSuccess(await cli(["token", "update", String(blue.AccessorID), "-cluster-topics=false", "-no-expiration", "-json"]))) as Record<string, unknown>;
    expect(changed).toMatchObject({ AccessorID: blue.AccessorID, Name: "blue", ClusterTopics: false, ExpirationTime: null, Namespaces: ["default", "batch"] });
    expectFailure(await cli(["token", "update", red.accessor, "-namespace", "default"], { token: red.secret }), /^Error: 403 Permission denied: namespaces "default" are outside this token's namespaces/);

    // Deleting: gone at once, and a second delete is a 404.
    expect(expectSuccess(await cli(["token", "delete", String(blue.AccessorID)]))).toBe(`Token ${String(blue.AccessorID)} successfully deleted\n`);
    expectFailure(await cli(["token", "show", String(blue.AccessorID)]), /^Error: 404 ACL token not found\n$/);
    expectFailure(await cli(["token", "delete", String(blue.AccessorID)]), /^Error: 404 ACL token not found\n$/);
    expect((JSON.parse(expectSuccess(await cli(["token", "list", "-json"]))) as Array<{ AccessorID: string }>).map((t) => t.AccessorID).sort()).toEqual([red.accessor, ops["Accessor ID"]].sort());
    expect(expectSuccess(await cli(["token", "delete", ops["Accessor ID"]!]))).toBe(`Token ${ops["Accessor ID"]} successfully deleted\n`);
    expectFailure(await cli(["token", "self"], { token: ops["Secret ID"]! }), /^Error: 403 Permission denied\n$/);
  }, 60_000);

  it("deregisters sinks", async () => {
    expect(expectSuccess(await cli(["sink", "deregister", "beta"]))).toBe('Successfully deregistered event sink "beta"\n');
    expectFailure(await cli(["sink", "show", "beta"]), /^Error: 404 event sink not found\n$/);
    expect(table(expectSuccess(await cli(["sink", "list"]))).rows.map((r) => r.ID)).toEqual(["alpha", "gamma", "gone", "red-hook"]);
    expect(((await apiGet("/v1/event/sinks")) as Array<{ ID: string }>).map((s) => s.ID)).toEqual(["alpha", "gamma", "gone", "red-hook"]);
  });

  it("starts a replay of archived events to a sink, follows it to the end, and lists replays", async () => {
    // gamma received its three Job events (above); the archive holds them, within this window.
    const to = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const started = kv(expectSuccess(await cli(["replay", "start", "-from", startedAt, "-to", to, "-sink", "gamma"])));
    expect(Object.keys(started)).toEqual(expect.arrayContaining(["ID", "Sink ID", "From", "To", "State", "Events Replayed", "Started At", "Ended At", "Error"]));
    expect(started["Sink ID"]).toBe("gamma");
    expect(Date.parse(started.From!)).toBe(Date.parse(startedAt));
    expect(Date.parse(started.To!)).toBe(Date.parse(to));
    expect(started.State).toMatch(/^(running|completed)$/);
    const id = started.ID!;
    expect(id).toMatch(/^\S+$/);

    let status: Record<string, unknown> = {};
    await until(
      async () => {
        status = JSON.parse(expectSuccess(await cli(["replay", "status", id, "-json"]))) as Record<string, unknown>;
        return status.State !== "running";
      },
      30_000,
      `replay ${id} to end`,
    );
    expect(status).toMatchObject({ ID: id, SinkID: "gamma", State: "completed", Error: "" });
    expect(status.EventsReplayed).toBeGreaterThanOrEqual(3);
    expect(status).toEqual(await apiGet(`/v1/event/replay/${encodeURIComponent(id)}`));
    const [shownRun, listRun, listJson] = await Promise.all([cli(["replay", "status", id]), cli(["replay", "list"]), cli(["replay", "list", "-json"])]);
    expect(kv(expectSuccess(shownRun))).toMatchObject({ ID: id, "Sink ID": "gamma", State: "completed", "Events Replayed": String(status.EventsReplayed), "Ended At": String(status.EndedAt), Error: "<none>" });
    const listed = table(expectSuccess(listRun));
    expect(listed.header).toEqual(["ID", "Sink ID", "From", "To", "State", "Events Replayed", "Started At", "Ended At"]);
    expect(listed.rows).toEqual([{ ID: id, "Sink ID": "gamma", From: status.From, To: status.To, State: "completed", "Events Replayed": String(status.EventsReplayed), "Started At": status.StartedAt, "Ended At": status.EndedAt }]);
    expect(JSON.parse(expectSuccess(listJson))).toEqual(await apiGet("/v1/event/replays"));

    const [unknown, malformed, noSink, backwards] = await Promise.all([
      cli(["replay", "status", "replay-00000000-0000-4000-8000-000000000000"]),
      cli(["replay", "status", "not-a-replay"]),
      cli(["replay", "start", "-from", startedAt, "-to", to, "-sink", "no-such-sink"]),
      cli(["replay", "start", "-from", to, "-to", startedAt]),
    ]);
    expectFailure(unknown, /^Error: 404 \S/);
    expectFailure(malformed, /^Error: 4\d\d \S/);
    expectFailure(noSink, /^Error: 404 event sink not found\n$/);
    expectFailure(backwards, /^Error: 400 .*From/);
  }, 60_000);
});
