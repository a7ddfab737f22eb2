import { describe, expect, it } from "vitest";
import { GAP_TOPIC } from "../../shared/streamer/event-contract";
import { scopeAdmits, teamScopes, type ScopeGrant } from "../../shared/tokens/scope";
import { parseGoDuration } from "../../shared/go-duration";

const NOW = Date.parse("2026-11-21T10:00:00Z");
const grant = (Team: string | undefined, Namespaces: string[], extra: Partial<ScopeGrant> = {}): ScopeGrant => ({ ...(Team !== undefined ? { Team } : {}), Namespaces, ClusterTopics: false, ...extra });

describe("teamScopes: a team's scope is the union of its live tokens' grants", () => {
  it("unions namespaces and ClusterTopics across a team's tokens, ignoring expired and management tokens", () => {
    const scopes = teamScopes(
      [
        grant("a", ["web"]),
        grant("a", ["api"], { ClusterTopics: true }),
        grant("a", ["batch"], { ExpiresAt: NOW }), // expired at this very moment
        grant("b", ["batch"], { ExpiresAt: NOW + 1 }),
        grant(undefined, ["*"], { ClusterTopics: true }),
      ],
      NOW,
    );
    expect([...scopes.keys()].sort()).toEqual(["a", "b"]);
    expect([...scopes.get("a")!.namespaces].sort()).toEqual(["api", "web"]);
    expect(scopes.get("a")!.clusterTopics).toBe(true);
    expect(scopes.get("b")).toEqual({ namespaces: new Set(["batch"]), clusterTopics: false });
  });

  it("has no scope for a team whose tokens all expired", () => {
    expect(teamScopes([grant("a", ["web"], { ExpiresAt: NOW - 1 })], NOW).has("a")).toBe(false);
  });
});

describe("scopeAdmits", () => {
  const web = { namespaces: new Set(["web", "api"]), clusterTopics: false };
  const ev = (Topic: string, Namespace: string) => ({ Topic, Namespace });
  const cases: Array<[string, Parameters<typeof scopeAdmits>[0], Parameters<typeof scopeAdmits>[1], ReturnType<typeof ev>, boolean]> = [
    ["team sink, namespace of its team", { Team: "a" }, web, ev("Job", "web"), true],
    ["team sink, namespace outside its team", { Team: "a" }, web, ev("Job", "batch"), false],
    ["team sink filter ∩ team: in both", { Team: "a", Namespaces: ["api", "batch"] }, web, ev("Job", "api"), true],
    ["team sink filter ∩ team: in the filter only", { Team: "a", Namespaces: ["api", "batch"] }, web, ev("Job", "batch"), false],
    ["team sink filter ∩ team: in the team only", { Team: "a", Namespaces: ["api"] }, web, ev("Job", "web"), false],
    ["team sink with * filter", { Team: "a", Namespaces: ["*"] }, web, ev("Job", "web"), true],
    ["team without a live token", { Team: "a" }, undefined, ev("Job", "web"), false],
    ["team sink, Node without ClusterTopics", { Team: "a" }, web, ev("Node", ""), false],
    ["team sink, Node with ClusterTopics", { Team: "a" }, { ...web, clusterTopics: true }, ev("Node", ""), true],
    ["team sink, NodePool with ClusterTopics", { Team: "a" }, { ...web, clusterTopics: true }, ev("NodePool", ""), true],
    ["team sink, CSIPlugin even with ClusterTopics", { Team: "a" }, { ...web, clusterTopics: true }, ev("CSIPlugin", ""), false],
    ["team sink, ACLToken even with * namespaces", { Team: "a" }, { namespaces: new Set(["*"]), clusterTopics: true }, ev("ACLToken", ""), false],
    ["team sink, ACLPolicy in a namespace it has", { Team: "a" }, web, ev("ACLPolicy", "web"), false],
    ["team sink, a gap marker", { Team: "a" }, web, ev(GAP_TOPIC, ""), true],
    ["team sink without a live token, a gap marker", { Team: "a" }, undefined, ev(GAP_TOPIC, ""), false],
    ["management sink, any namespace", {}, undefined, ev("Job", "batch"), true],
    ["management sink with a filter, outside it", { Namespaces: ["web"] }, undefined, ev("Job", "batch"), false],
    ["management sink with a filter, cluster-wide event", { Namespaces: ["web"] }, undefined, ev("Node", ""), true],
    ["management sink, ACL topic", {}, undefined, ev("ACLToken", ""), true],
  ];
  it.each(cases)("%s → %s", (_name, sink, scope, event, expected) => {
    expect(scopeAdmits(sink, scope, event)).toBe(expected);
  });
});

describe("parseGoDuration", () => {
  it.each([
    ["1h", 3_600_000],
    ["90m", 5_400_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["72h", 259_200_000],
    ["10s", 10_000],
    ["250ms", 250],
  ])("%s is %i ms", (text, ms) => expect(parseGoDuration(text)).toBe(ms));
  it.each(["", "h", "1", "1d", "-1h", "1 h", "soon"])("%j is not a duration", (text) => expect(parseGoDuration(text)).toBeUndefined());
});
