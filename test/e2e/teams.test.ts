import { apiCall } from "../support/api-call";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startSimulatedCluster } from "../../infra/local/nomad/simulated-cluster";
import type { NomadEvent } from "../../shared/nomad/event";
import { generateSecret } from "../../shared/sinks/secret";
import { startRuntimeProcess } from "../support/local-runtime-process";
import { until } from "../support/until";
import { startWebhookReceiver, verifiedBodies } from "../support/webhook-receiver";
import { eventIdentity as identity } from "../support/event-identity";

/**
 * Two teams on one deployment, end to end through `npm start`'s entry: a Nomad (the
 * protocol server, run by this test so it knows every event it emitted) with three
 * namespaces; each team registers a catch-all sink with its own team token; each team's
 * webhook must receive exactly the events of its team's namespaces, also after one team
 * narrows its token mid-run.
 */
const TOKEN = "e2e-teams-management-token";
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


describe("teams end to end: each team's webhook receives exactly its namespaces' events", () => {
  it("with three namespaces and two teams, including after a token's namespaces are narrowed mid-run", async () => {
    const cluster = await startSimulatedCluster({ eventsPerSecond: 0, heartbeatMs: 1_000, bufferSize: 100_000, emittedHistory: 1_000_000, seed: 23, namespaces: ["web", "batch", "default"] });
    cleanups.push(() => cluster.stop());
    const dataDir = mkdtempSync(join(tmpdir(), "nes-e2e-teams-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const runtime = startRuntimeProcess({ NOMAD_ADDR: cluster.url, PORT: String(port), LOCAL_DATA_DIR: dataDir, SINKS_MANAGEMENT_TOKEN: TOKEN, COUNTERS_INTERVAL_SECONDS: "0" });
    cleanups.push(() => runtime.stop("SIGTERM"));
    await runtime.waitFor(/nomad-event-sinks is running locally/, 90_000);

    const api = `http://127.0.0.1:${port}`;
    const call = async (token: string, method: "GET" | "PUT" | "POST", path: string, body?: unknown) => (await apiCall(api, token, method, path, body)) as Record<string, unknown>;

    // The platform owner makes a token per team; red sees web, blue sees batch and default and the node topics.
    const red = await call(TOKEN, "POST", "/v1/acl/token", { Name: "red", Type: "team", Team: "red", Namespaces: ["web"] });
    const blue = await call(TOKEN, "POST", "/v1/acl/token", { Name: "blue", Type: "team", Team: "blue", Namespaces: ["batch", "default"], ClusterTopics: true });

    // Each team registers a sink for everything, with its own token, at its own webhook.
    const teams = await Promise.all(
      [
        { name: "red", token: String(red.SecretID) },
        { name: "blue", token: String(blue.SecretID) },
      ].map(async (team) => {
        const receiver = await startWebhookReceiver(() => ({ status: 204 }));
        cleanups.push(() => receiver.close());
        const secret = generateSecret();
        await call(team.token, "PUT", `/v1/event/sink/${team.name}-all`, { ID: `${team.name}-all`, Type: "webhook", Address: receiver.url, Topics: { "*": ["*"] }, Secret: secret });
        const bodies = verifiedBodies<{ Events: NomadEvent[] }>(receiver, secret);
        const received = () => bodies().flatMap((d) => d.body.Events);
        return { ...team, receiver, received };
      }),
    );
    const [redTeam, blueTeam] = teams as [(typeof teams)[number], (typeof teams)[number]];
    // Neither team sees the other's sink.
    expect(((await call(redTeam.token, "GET", "/v1/event/sinks")) as unknown as Array<{ ID: string }>).map((s) => s.ID)).toEqual(["red-all"]);

    const factory = createEventFactory();
    /** Runs the simulation for a moment, plus a node event and a job in each namespace; returns the indexes it covered. */
    const burst = async () => {
      const from = cluster.server.lastIndex;
      cluster.server.publish(factory.nodeRegistration({ nodeId: `node-${from}` }));
      for (const namespace of ["web", "batch", "default"]) cluster.server.publish(factory.jobRegistered({ jobId: `job-${from}`, namespace }));
      cluster.setRate(150);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      cluster.setRate(0);
      return { from, to: cluster.server.lastIndex };
    };
    const emitted = (from: number, to: number, admit: (e: NomadEvent) => boolean) =>
      cluster.server
        .emitted()
        .filter((frame) => frame.Index > from && frame.Index <= to)
        .flatMap((frame) => frame.Events.filter((e) => admit(e as NomadEvent)).map(identity))
        .sort();
    const receivedBetween = (team: (typeof teams)[number], from: number, to: number) =>
      team
        .received()
        .filter((e) => e.Index > from && e.Index <= to)
        .map(identity)
        .sort();
    const waitExactly = async (team: (typeof teams)[number], from: number, to: number, expected: string[]) => {
      await until(() => receivedBetween(team, from, to).length >= expected.length, 60_000, `${team.name}: ${expected.length} events of ${from + 1}..${to}`);
      expect(receivedBetween(team, from, to), team.name).toEqual(expected);
    };
    const isNodeTopic = (e: NomadEvent) => e.Namespace === "" && (e.Topic === "Node" || e.Topic === "NodePool");

    // Phase 1: red gets web; blue gets batch, default, and the node events.
    const one = await burst();
    const redOne = emitted(one.from, one.to, (e) => e.Namespace === "web");
    const blueOne = emitted(one.from, one.to, (e) => e.Namespace === "batch" || e.Namespace === "default" || isNodeTopic(e));
    expect(redOne.length).toBeGreaterThan(5);
    expect(blueOne.filter((id) => id.includes("/Node/")).length).toBeGreaterThan(0);
    expect(blueOne.filter((id) => id.includes("/default/")).length).toBeGreaterThan(0);
    await waitExactly(redTeam, one.from, one.to, redOne);
    await waitExactly(blueTeam, one.from, one.to, blueOne);

    // Blue narrows its own token to batch while events keep flowing (so the functions' copies of
    // the sinks are fresh, not idle past their check interval): no default event Nomad writes
    // after the answer reaches blue. (Without the runtime telling the fan-out of the change, this
    // fails unless the fan-out's once-a-second check happens to fall before the first default
    // event after the answer reaches it: most runs.)
    cluster.setRate(150);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const narrowed = await call(blueTeam.token, "POST", `/v1/acl/token/${String(blue.AccessorID)}`, { Namespaces: ["batch"] });
    const cut = cluster.server.lastIndex;
    expect(narrowed.Namespaces).toEqual(["batch"]);
    const two = await burst();
    const redTwo = emitted(one.to, two.to, (e) => e.Namespace === "web");
    const blueAfter = emitted(cut, two.to, (e) => e.Namespace === "batch" || isNodeTopic(e));
    expect(emitted(cut, two.to, (e) => e.Namespace === "default").length).toBeGreaterThan(0);
    await waitExactly(redTeam, one.to, two.to, redTwo);
    await waitExactly(blueTeam, cut, two.to, blueAfter);
    // Written before the answer: what both scopes admit arrives; a default event may or may not (it
    // depends on whether the fan-out met it before or after the change), and nothing else does.
    const bothScopes = emitted(one.to, cut, (e) => e.Namespace === "batch" || isNodeTopic(e));
    await until(() => ((got) => bothScopes.every((id) => got.has(id)))(new Set(receivedBetween(blueTeam, one.to, cut))), 60_000, `blue: the ${bothScopes.length} events both scopes admit before the change`);
    const blueBefore = receivedBetween(blueTeam, one.to, cut);
    expect(blueBefore).toEqual(expect.arrayContaining(bothScopes));
    const oldScope = new Set(emitted(one.to, cut, (e) => e.Namespace === "batch" || e.Namespace === "default" || isNodeTopic(e)));
    expect(blueBefore.filter((id) => !oldScope.has(id))).toEqual([]);
    // Nothing else arrives late, and neither team ever got another namespace's event.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receivedBetween(redTeam, 0, Number.MAX_SAFE_INTEGER)).toEqual([...redOne, ...redTwo].sort());
    expect(receivedBetween(blueTeam, 0, Number.MAX_SAFE_INTEGER)).toEqual([...blueOne, ...blueBefore, ...blueAfter].sort());
    expect(await runtime.stop("SIGINT")).toBe(0);
  }, 240_000);
});
