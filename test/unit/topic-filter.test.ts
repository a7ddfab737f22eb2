import { describe, expect, it } from "vitest";
import { matchesTopics, type TopicFilter } from "../../shared/nomad/topic-filter";
import type { NomadEvent } from "../../shared/nomad/event";

type Ev = Pick<NomadEvent, "Topic" | "Key" | "FilterKeys">;
const job = (key: string): Ev => ({ Topic: "Job", Key: key, FilterKeys: null });
const alloc = (id: string, jobId: string, deploymentId = ""): Ev => ({ Topic: "Allocation", Key: id, FilterKeys: [jobId, deploymentId] });
const evaluation = (id: string, jobId: string, deploymentId = ""): Ev => ({ Topic: "Evaluation", Key: id, FilterKeys: [jobId, deploymentId] });
const node = (id: string): Ev => ({ Topic: "Node", Key: id, FilterKeys: null });

// Each row is a rule of EVENT-STREAM-SPEC 1.5.
const cases: Array<[string, TopicFilter, Ev, boolean]> = [
  ["*:* matches any topic", { "*": ["*"] }, node("n1"), true],
  ["*:* matches an unknown topic", { "*": ["*"] }, { Topic: "FutureTopic", Key: "x", FilterKeys: null }, true],
  ["Topic:* matches every event of that topic", { Job: ["*"] }, job("web"), true],
  ["Topic:* does not match another topic", { Job: ["*"] }, node("n1"), false],
  ["key matches Key exactly", { Job: ["web"] }, job("web"), true],
  ["key match is case-sensitive", { Job: ["Web"] }, job("web"), false],
  ["key is not a prefix match", { Job: ["we"] }, job("web"), false],
  ["key matches a FilterKeys entry", { Allocation: ["api"] }, alloc("a1", "api"), true],
  ["key matches the second FilterKeys entry (deployment)", { Allocation: ["d1"] }, alloc("a1", "api", "d1"), true],
  ["no key match, no FilterKeys match", { Allocation: ["web"] }, alloc("a1", "api", "d1"), false],
  ["empty key matches an empty FilterKey (DeploymentID == \"\")", { Evaluation: [""] }, evaluation("e1", "api"), true],
  ["empty key does not match when no empty FilterKey", { Evaluation: [""] }, evaluation("e1", "api", "d1"), false],
  ["empty key matches an empty Key", { Job: [""] }, job(""), true],
  ["empty key does not match a non-empty Key with null FilterKeys", { Job: [""] }, job("web"), false],
  ["* is a wildcard only as the sole key", { Job: ["*", "web"] }, job("api"), false],
  ["* among other keys still lets the other keys match", { Job: ["*", "web"] }, job("web"), true],
  ["* among other keys matches a literal * key", { Job: ["*", "web"] }, job("*"), true],
  ["keys of * combine with the topic's: *:web + Job:* is not a wildcard", { "*": ["web"], Job: ["*"] }, job("api"), false],
  ["keys of * combine with the topic's: *:web + Job:* matches web", { "*": ["web"], Job: ["*"] }, job("web"), true],
  ["keys under * apply to every topic", { "*": ["n1"] }, node("n1"), true],
  ["keys under * do not match other keys", { "*": ["n1"] }, node("n2"), false],
  ["*:* alongside other topics still matches everything", { "*": ["*"], Job: ["web"] }, node("n9"), true],
  ["a topic absent from the filter does not match", { Deployment: ["*"] }, alloc("a1", "api"), false],
  ["an empty filter matches nothing", {}, job("web"), false],
  ["several topics: the event's own topic decides", { Job: ["web"], Node: ["*"] }, node("n1"), true],
  ["null FilterKeys with a non-matching key", { Node: ["x"] }, node("n1"), false],
  ["a filter key named like a prototype property does not match by accident", { Job: ["toString"] }, job("web"), false],
  ["a topic named like a prototype property is not matched through the prototype", { Job: ["web"] }, { Topic: "constructor", Key: "web", FilterKeys: null }, false],
];

describe("matchesTopics", () => {
  it.each(cases)("%s", (_name, topics, event, expected) => {
    expect(matchesTopics(topics, event)).toBe(expected);
  });

  it("matches once, however many keys match (Nomad appended the event once per key)", () => {
    // A boolean cannot say "twice"; the delivery side builds one entry per matching sink.
    const topics = { Allocation: ["api", "d1"], "*": ["a1"] };
    expect(matchesTopics(topics, alloc("a1", "api", "d1"))).toBe(true);
  });
});
