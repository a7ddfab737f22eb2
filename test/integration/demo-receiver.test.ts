import { spawn } from "node:child_process";
import { connect } from "node:net";
import { resolve } from "node:path";
import { Webhook } from "standardwebhooks";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port";
import { parseReceiverCommand, startDemoReceiver, type DemoReceiver } from "../../infra/local/receiver";
import { signatureHeaders } from "../../shared/delivery/signature";
import { generateSecret } from "../../shared/sinks/secret";
import { until } from "../support/until";

const ROOT = resolve(import.meta.dirname, "../..");
const nowSeconds = () => Math.floor(Date.now() / 1000);
const event = (Topic: string, Type: string, Key: string, Index: number, Namespace = "default") => ({ Topic, Type, Key, Namespace, FilterKeys: null, Index, Payload: { Job: { ID: Key } } });
const deliveryBody = (index: number, events = [event("Job", "JobRegistered", "web-1", index), event("Allocation", "PlanResult", "a1", index)]) => JSON.stringify({ Index: index, Events: events });

/** What the receiver printed, as lines. */
function output() {
  let text = "";
  return {
    out: { write: (chunk: string) => (text += chunk) },
    text: () => text,
    /** The lines printed after the start-up lines (one per request). */
    lines: () => text.split("\n").filter((line) => /^\d\d:\d\d:\d\d\.\d\d\d {2}/.test(line)),
  };
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

describe("startDemoReceiver", () => {
  let receiver: DemoReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  async function start(secrets: string[]) {
    const printed = output();
    receiver = await startDemoReceiver({ port: await freePort(), secrets, out: printed.out });
    expect(receiver.url).toBe(`http://127.0.0.1:${receiver.port}/`);
    return { receiver, printed, hook: `${receiver.url}hook` };
  }

  it("answers a signed delivery 204 and prints one plain line with its webhook-id, index, events and ✓ signed", async () => {
    const secret = generateSecret();
    const { receiver, printed, hook } = await start([secret]);
    expect(printed.text()).toContain(`demo webhook receiver listening on ${receiver.url} (POST to any path); verifying signatures with 1 secret`);
    expect(printed.text()).not.toContain("warning");
    const body = deliveryBody(1234);
    const id = "msg_2b0123456789abcdef0123456789abcd";
    const res = await post(hook, body, signatureHeaders([secret], id, nowSeconds(), body));
    expect(res).toMatchObject({ status: 204, text: "" });
    expect(receiver.received()).toEqual([{ id, index: 1234, events: JSON.parse(body).Events, verified: true }]);
    const lines = printed.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} {2}${id} {2}index 1234 {2}2 events {2}Job/JobRegistered default/web-1, Allocation/PlanResult default/a1 {2}✓ signed$`));
    // Not a TTY: no colour codes.
    expect(printed.text()).not.toContain("\u001b");
  });

  it("accepts a request signed by the official library, and either secret during a rotation", async () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const { receiver, hook } = await start([previous, current]);
    const body = deliveryBody(7);
    const official = { "webhook-id": "msg_a", "webhook-timestamp": String(nowSeconds()), "webhook-signature": new Webhook(current).sign("msg_a", new Date(), body) };
    expect((await post(hook, body, official)).status).toBe(204);
    expect((await post(hook, body, signatureHeaders([previous], "msg_b", nowSeconds(), body))).status).toBe(204);
    expect((await post(hook, body, signatureHeaders([current, previous], "msg_c", nowSeconds(), body))).status).toBe(204);
    expect(receiver.received().map((d) => d.id)).toEqual(["msg_a", "msg_b", "msg_c"]);
  });

  it("answers a bad, stale or missing signature 401 with the reason as plain text, and prints ✗ with it", async () => {
    const secret = generateSecret();
    const { receiver, printed, hook } = await start([secret]);
    const body = deliveryBody(5);
    const bad = await post(hook, body, signatureHeaders([generateSecret()], "msg_bad", nowSeconds(), body));
    expect(bad.status).toBe(401);
    expect(bad.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(bad.text).toMatch(/^no signature matches: none of the 1 v1 signature in webhook-signature was made with the 1 secret given/);
    const tampered = await post(hook, body.replace("web-1", "web-2"), signatureHeaders([secret], "msg_tampered", nowSeconds(), body));
    expect(tampered.status).toBe(401);
    const stale = await post(hook, body, signatureHeaders([secret], "msg_stale", nowSeconds() - 600, body));
    expect(stale).toMatchObject({ status: 401, text: expect.stringMatching(/^timestamp too old: webhook-timestamp \d+ is 60\d s before now, 30\d s beyond the 300 s tolerance/) });
    const unsigned = await post(hook, body);
    expect(unsigned).toEqual({ status: 401, headers: expect.anything(), text: "missing headers webhook-id, webhook-timestamp, webhook-signature\n" });
    expect(receiver.received()).toEqual([]);
    const lines = printed.lines();
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/ {2}msg_bad {2}✗ 401 no signature matches: /);
    expect(lines[1]).toMatch(/ {2}msg_tampered {2}✗ 401 no signature matches: /);
    expect(lines[2]).toMatch(/ {2}msg_stale {2}✗ 401 timestamp too old: /);
    expect(lines[3]).toMatch(/ {2}- {2}✗ 401 missing headers webhook-id, webhook-timestamp, webhook-signature$/);
  });

  it("answers a signed body that is not the expected JSON 400, saying what is wrong", async () => {
    const secret = generateSecret();
    const { receiver, printed, hook } = await start([secret]);
    const cases: Array<[string, RegExp]> = [
      ["not json at all", /^the body is not JSON \(.+\); received 15 bytes starting "not json at all"\n$/],
      ["[1,2]", /^the body is not a JSON object: expected \{"Index": N, "Events": \[\.\.\.\]\}, received an array\n$/],
      ['{"Events":[]}', /^the body has no Index/],
      ['{"Index":3}', /^the body's Events is not an array: .*received no Events\n$/],
      ['{"Index":3,"Events":"x"}', /^the body's Events is not an array: .*received "x"\n$/],
      ['{"Index":-1,"Events":[]}', /^the body's Index is not as Nomad sends it: expected a non-negative integer, received -1\n$/],
      ['{"Index":3,"Events":[{"Topic":"Job","Type":"JobRegistered","Index":3}]}', /^the body's Events\.0\.Key is not as Nomad sends it: expected a string, received undefined\n$/],
    ];
    for (const [body, reason] of cases) {
      const res = await post(hook, body, signatureHeaders([secret], "msg_shape", nowSeconds(), body));
      expect(res.status, body).toBe(400);
      expect(res.text, body).toMatch(reason);
    }
    expect(receiver.received()).toEqual([]);
    expect(printed.lines()).toHaveLength(cases.length);
    for (const line of printed.lines()) expect(line).toMatch(/ {2}msg_shape {2}✗ 400 the body/);
  });

  it("answers anything but POST 405 with Allow: POST", async () => {
    const { printed, receiver } = await start([generateSecret()]);
    for (const method of ["GET", "PUT", "DELETE"] as const) {
      const res = await request(`${receiver.url}hook`, { method });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe("POST");
      expect(await res.body.text()).toBe(`${method} /hook: only POST is accepted\n`);
    }
    expect(printed.lines()).toHaveLength(3);
    expect(printed.lines()[0]).toMatch(/ {2}- {2}✗ 405 GET \/hook: only POST is accepted$/);
  });

  it("without a secret warns once how to pass it, then accepts and prints every delivery as unverified", async () => {
    const { receiver, printed, hook } = await start([]);
    const warning = printed.text().split("\n").filter((line) => line.startsWith("warning:"));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toContain("--secret whsec_");
    expect(warning[0]).toContain("RECEIVER_SECRET=");
    expect(warning[0]).toContain("GET /v1/event/sink/<id>/secret");
    const body = deliveryBody(9);
    expect((await post(hook, body)).status).toBe(204);
    expect((await post(hook, body, signatureHeaders([generateSecret()], "msg_any", nowSeconds(), body))).status).toBe(204);
    expect((await post(hook, "nope")).status).toBe(400);
    expect(receiver.received()).toEqual([
      { id: "", index: 9, events: JSON.parse(body).Events, verified: false },
      { id: "msg_any", index: 9, events: JSON.parse(body).Events, verified: false },
    ]);
    const lines = printed.lines();
    expect(lines[0]).toMatch(/ {2}- {2}index 9 {2}2 events {2}.* {2}unverified$/);
    expect(lines[1]).toMatch(/ {2}msg_any {2}index 9 {2}2 events {2}.* {2}unverified$/);
    expect(printed.text().match(/warning:/g)).toHaveLength(1);
  });

  it("names the first three events, counts the rest, marks a repeated webhook-id, and keeps hostile text on one line", async () => {
    const secret = generateSecret();
    const { printed, hook } = await start([secret]);
    const events = [event("Job", "JobRegistered", "web", 20), event("Node", "NodeRegistration", "n1", 20, ""), event("Evaluation", "EvaluationUpdated", "e1", 20), event("Job", "JobDeregistered", "x", 20), event("Job", "JobDeregistered", "y", 20)];
    const many = deliveryBody(20, events);
    const headers = signatureHeaders([secret], "msg_many", nowSeconds(), many);
    expect((await post(hook, many, headers)).status).toBe(204);
    expect((await post(hook, many, headers)).status).toBe(204); // a retry: same webhook-id
    const hostile = deliveryBody(21, [event("Job\u001b[31m", "Job\nRegistered", "k".repeat(500), 21), event("Job", "JobRegistered", "", 21, "")]);
    expect((await post(hook, hostile, signatureHeaders([secret], "msg_hostile", nowSeconds(), hostile))).status).toBe(204);
    expect((await post(hook, '{"Index":0,"Events":[]}', signatureHeaders([secret], "msg_empty", nowSeconds(), '{"Index":0,"Events":[]}'))).status).toBe(204);
    const lines = printed.lines();
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/ {2}msg_many {2}index 20 {2}5 events {2}Job\/JobRegistered default\/web, Node\/NodeRegistration n1, Evaluation\/EvaluationUpdated default\/e1, \+2 more {2}✓ signed$/);
    expect(lines[1]).toMatch(/ {2}msg_many {2}index 20 .* {2}✓ signed {2}repeat$/);
    expect(lines[2]).toMatch(/ {2}msg_hostile {2}index 21 {2}2 events {2}Job\?\[31m\/Job\?Registered default\/k+…, Job\/JobRegistered {2}✓ signed$/);
    expect(lines[2]!.length).toBeLessThan(250);
    expect(lines[3]).toMatch(/ {2}msg_empty {2}index 0 {2}0 events {2}✓ signed$/);
    expect(printed.text()).not.toContain("\u001b");
  });

  it("survives broken HTTP and an aborted upload, and keeps answering", async () => {
    const secret = generateSecret();
    const { receiver, hook } = await start([secret]);
    const garbage = await new Promise<string>((done, fail) => {
      const socket = connect(receiver.port, "127.0.0.1", () => socket.write("THIS IS NOT HTTP\r\n\r\n"));
      let reply = "";
      socket.on("data", (chunk) => (reply += chunk.toString()));
      socket.on("end", () => done(reply));
      socket.on("error", fail);
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    await new Promise<void>((done, fail) => {
      const socket = connect(receiver.port, "127.0.0.1", () => {
        socket.write("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"Index\":");
        setTimeout(() => {
          socket.destroy();
          done();
        }, 50);
      });
      socket.on("error", fail);
    });
    const body = deliveryBody(1);
    expect((await post(hook, body, signatureHeaders([secret], "msg_after", nowSeconds(), body))).status).toBe(204);
  });

  it("refuses to start with a malformed secret, saying which and what was received", async () => {
    await expect(startDemoReceiver({ port: 0, secrets: [generateSecret(), "whsec_short"], out: output().out })).rejects.toThrow(
      'cannot verify deliveries: malformed secret #2 of 2: it must be "whsec_" followed by standard base64 (received "whsec…", 11 characters)',
    );
  });
});

describe("parseReceiverCommand (npm run receiver's flags and environment)", () => {
  const secret = generateSecret();
  const other = generateSecret();

  it("takes defaults, then the environment, then flags", () => {
    expect(parseReceiverCommand([], {})).toEqual({ help: false, port: 9000, host: "127.0.0.1", secrets: [] });
    expect(parseReceiverCommand([], { RECEIVER_PORT: "9100", RECEIVER_HOST: "::1", RECEIVER_SECRET: ` ${secret}, ${other} ` })).toEqual({ help: false, port: 9100, host: "::1", secrets: [secret, other] });
    expect(parseReceiverCommand(["--port", "0", "--host=0.0.0.0", "--secret", other, `--secret=${secret}`], { RECEIVER_PORT: "9100", RECEIVER_SECRET: generateSecret() })).toEqual({
      help: false,
      port: 0,
      host: "0.0.0.0",
      secrets: [other, secret],
    });
    expect(parseReceiverCommand(["--port", "abc", "-h"], {}).help).toBe(true);
  });

  it.each([
    [["--port", "abc"], '--port must be an integer from 0 to 65535, but "abc" was received'],
    [["--port=70000"], '--port must be an integer from 0 to 65535, but "70000" was received'],
    [["--port", "-1"], '--port must be an integer from 0 to 65535, but "-1" was received'],
    [["--port"], "--port needs a value, but nothing followed it"],
    [["--secret", "--port", "1"], '--secret needs a value, but "--port" followed it'],
    [["--host="], '--host needs an address, but "" was received'],
    [["--secret", "hunter2-password"], '--secret (#1) is not a sink secret: it must start with "whsec_" (received "hunter2-…", 16 characters)'],
    [["--verbose"], 'unknown flag "--verbose"; the flags are --port, --host, --secret and --help'],
    [["9000"], 'unexpected argument "9000"; values follow their flag, e.g. --port 9000'],
  ])("refuses %j: %s", (args, message) => {
    expect(() => parseReceiverCommand(args, {})).toThrow(message);
  });

  it("names a bad environment variable", () => {
    expect(() => parseReceiverCommand([], { RECEIVER_PORT: "http" })).toThrow('Environment variable RECEIVER_PORT must be an integer from 0 to 65535, but "http" was given');
    expect(() => parseReceiverCommand([], { RECEIVER_SECRET: `${secret},oops` })).toThrow('RECEIVER_SECRET holds a malformed secret #2 of 2: it must start with "whsec_"');
  });
});

describe("npm run receiver (the CLI, as its own process)", () => {
  /** Runs a command in the repo; collects stdout and stderr together. */
  function run(command: string, args: string[]) {
    const env = { ...process.env, RECEIVER_PORT: "", RECEIVER_HOST: "", RECEIVER_SECRET: "", NO_COLOR: "1" };
    const child = spawn(command, args, { cwd: ROOT, env, stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    return { child, output: () => out, exited };
  }

  it("prints a listening line, one line per delivery, and exits 0 on SIGINT", async () => {
    const port = await freePort();
    const secret = generateSecret();
    // What `npx tsx infra/local/receiver.ts` runs, without npm's `sh -c` wrapper: npm forwards
    // SIGINT only to that shell, which dies of it (orphaning tsx) and npm then ends by SIGINT
    // too, so through npx no exit code could be checked. tsx relays SIGINT to the receiver.
    const cli = run(process.execPath, [resolve(ROOT, "node_modules/tsx/dist/cli.mjs"), "infra/local/receiver.ts", "--port", String(port), "--secret", secret]);
    try {
      await until(() => cli.output().includes("listening on") || cli.child.exitCode !== null, 30_000, "the receiver's listening line");
      expect(cli.output()).toContain(`demo webhook receiver listening on http://127.0.0.1:${port}/ (POST to any path); verifying signatures with 1 secret`);
      const body = deliveryBody(4321);
      const id = "msg_cli0123456789abcdef0123456789ab";
      expect((await post(`http://127.0.0.1:${port}/hook`, body, signatureHeaders([secret], id, nowSeconds(), body))).status).toBe(204);
      await until(() => cli.output().includes(id), 10_000, "the delivery's line");
      expect(cli.output()).toMatch(new RegExp(`\\n\\d\\d:\\d\\d:\\d\\d\\.\\d{3} {2}${id} {2}index 4321 {2}2 events {2}Job/JobRegistered default/web-1, Allocation/PlanResult default/a1 {2}✓ signed\\n`));
      cli.child.kill("SIGINT");
      expect(await cli.exited).toBe(0);
      expect(cli.output()).toContain("SIGINT: stopping after 1 delivery");
    } finally {
      if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
    }
  });

  it("exits 2 on a bad --port, naming the flag and what was received", async () => {
    const cli = run("npx", ["tsx", "infra/local/receiver.ts", "--port", "abc"]);
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toContain('npm run receiver: --port must be an integer from 0 to 65535, but "abc" was received; see --help');
    expect(cli.output()).not.toContain("listening");
  });
});
