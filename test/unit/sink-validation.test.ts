import { describe, expect, it } from "vitest";
import { ValidationError } from "../../shared/errors";
import { parseSinkId, parseSinkRegistration } from "../../shared/sinks/sink";
import { decodeSecret, generateSecret } from "../../shared/sinks/secret";

const valid = { ID: "web-hook_1.a~b", Type: "webhook", Address: "https://hooks.example.com/nomad?x=1", Topics: { Job: ["*"] } };

function problemsOf(body: unknown): readonly string[] {
  try {
    parseSinkRegistration(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).problems;
  }
  throw new Error("expected a ValidationError");
}

describe("parseSinkRegistration accepts", () => {
  it("a minimal webhook sink, keeping its fields", () => {
    expect(parseSinkRegistration(valid)).toEqual(valid);
  });

  it("Nomad's register body from the 1.0-beta docs", () => {
    const body = { ID: "webhook", Address: "http://127.0.0.1:8080", Type: "webhook", Topics: { "*": ["*"] } };
    expect(parseSinkRegistration(body)).toEqual(body);
  });

  it("server-managed fields the Go client sends, ignoring them", () => {
    const parsed = parseSinkRegistration({ ...valid, LatestIndex: 99, CreateIndex: 5, ModifyIndex: 7 });
    expect(parsed).toEqual(valid);
  });

  it("the beta aliases Eval and Alloc, stored under the current names and merged without duplicates", () => {
    const parsed = parseSinkRegistration({ ...valid, Topics: { Eval: ["a", "b"], Evaluation: ["b", "c"], Alloc: ["*"] } });
    expect(parsed.Topics).toEqual({ Evaluation: ["a", "b", "c"], Allocation: ["*"] });
  });

  it("the empty key (it matches an empty FilterKey)", () => {
    expect(parseSinkRegistration({ ...valid, Topics: { Evaluation: [""] } }).Topics).toEqual({ Evaluation: [""] });
  });

  it("a whsec_ secret", () => {
    const secret = generateSecret();
    expect(parseSinkRegistration({ ...valid, Secret: secret }).Secret).toBe(secret);
  });

  it("every current Nomad topic", () => {
    const topics = ["*", "ACLToken", "ACLPolicy", "ACLRole", "ACLAuthMethod", "ACLBindingRule", "Allocation", "CSIPlugin", "CSIVolume", "Deployment", "Evaluation", "HostVolume", "Job", "Node", "NodePool", "Operator", "Service", "Variable"];
    const parsed = parseSinkRegistration({ ...valid, Topics: Object.fromEntries(topics.map((t) => [t, ["*"]])) });
    expect(Object.keys(parsed.Topics).sort()).toEqual([...topics].sort());
  });
});

// [case, body, the field the message must name, a fragment of what it must say]
const rejected: Array<[string, unknown, string, string]> = [
  ["a body that is not an object", [1, 2], "body", "received an array"],
  ["a null body", null, "body", "received null"],
  ["a missing ID", { ...valid, ID: undefined }, "ID", "received nothing"],
  ["a numeric ID", { ...valid, ID: 42 }, "ID", "received number 42"],
  ["an empty ID", { ...valid, ID: "" }, "ID", "must not be empty"],
  ["an ID with a space", { ...valid, ID: "my sink" }, "ID", 'received "my sink"'],
  ["an ID with a slash", { ...valid, ID: "a/b" }, "ID", "only letters, digits"],
  ["an ID of ..", { ...valid, ID: ".." }, "ID", "must start with a letter or digit"],
  ["an ID with NUL", { ...valid, ID: "a\u0000b" }, "ID", "only letters"],
  ["an over-long ID", { ...valid, ID: "a".repeat(129) }, "ID", "at most 128"],
  ["a missing Type", { ...valid, Type: undefined }, "Type", 'must be "webhook"'],
  ["another Type", { ...valid, Type: "kafka" }, "Type", 'received "kafka"'],
  ["missing Topics", { ...valid, Topics: undefined }, "Topics", "received nothing"],
  ["Topics as a list", { ...valid, Topics: ["Job"] }, "Topics", "must be an object of topic to keys"],
  ["empty Topics", { ...valid, Topics: {} }, "Topics", "at least one topic"],
  ["an unknown topic", { ...valid, Topics: { Jobs: ["*"] } }, "Topics.Jobs", "valid topics are *, ACLToken"],
  ["a lower-case topic", { ...valid, Topics: { job: ["*"] } }, "Topics.job", "unknown topic"],
  ["an empty key list", { ...valid, Topics: { Job: [] } }, "Topics.Job", 'use ["*"]'],
  ["keys as a string", { ...valid, Topics: { Job: "*" } }, "Topics.Job", "must be a list of keys"],
  ["a numeric key", { ...valid, Topics: { Job: [1] } }, "Topics.Job[0]", "received number 1"],
  ["a key with a control character", { ...valid, Topics: { Job: ["a\nb"] } }, "Topics.Job[0]", "control characters"],
  ["a missing Address", { ...valid, Address: undefined }, "Address", "received nothing"],
  ["a relative Address", { ...valid, Address: "/hook" }, "Address", "absolute http:// or https:// URL"],
  ["an ftp Address", { ...valid, Address: "ftp://example.com/x" }, "Address", "not ftp://"],
  ["a javascript: Address", { ...valid, Address: "javascript:alert(1)" }, "Address", "not javascript:"],
  ["an Address with credentials", { ...valid, Address: "https://user:pw@example.com/" }, "Address", "credentials"],
  ["an Address with a fragment", { ...valid, Address: "https://example.com/#x" }, "Address", "fragment"],
  ["an over-long Address", { ...valid, Address: `https://example.com/${"a".repeat(2100)}` }, "Address", "at most 2048"],
  ["a Secret without the prefix", { ...valid, Secret: "c2VjcmV0" }, "Secret", 'start with "whsec_"'],
  ["a Secret with bad base64", { ...valid, Secret: "whsec_***" }, "Secret", "standard base64"],
  ["a too-short Secret", { ...valid, Secret: "whsec_c2VjcmV0" }, "Secret", "24 to 64 bytes"],
  ["an unknown field", { ...valid, Topic: { Job: ["*"] } }, "body", 'unknown field "Topic"'],
  ["a __proto__ topic (zod's record would drop it silently)", { ...valid, Topics: JSON.parse('{"Job":["web"],"__proto__":["*"]}') }, "Topics.__proto__", "unknown topic"],
  ["a C1 control character in a key", { ...valid, Topics: { Job: ["a\u0085b"] } }, "Topics.Job[0]", "control characters"],
  ["an unpaired surrogate in a key", { ...valid, Topics: { Job: ["a\ud800"] } }, "Topics.Job[0]", "unpaired surrogate"],
  ["an Address with surrounding spaces", { ...valid, Address: " https://example.com/ " }, "Address", "spaces or control characters"],
  ["an Address with a newline", { ...valid, Address: "https://example.com/a\nb" }, "Address", "spaces or control characters"],
  ["an Address with an empty fragment", { ...valid, Address: "https://example.com/hook#" }, "Address", "fragment"],
  ["a deeply nested array as ID", { ...valid, ID: JSON.parse("[".repeat(6000) + "]".repeat(6000)) }, "ID", "received a deeply nested array"],
];

describe("parseSinkRegistration rejects, naming the field and what was received:", () => {
  it.each(rejected)("%s", (_name, body, field, fragment) => {
    const problems = problemsOf(body);
    const line = problems.find((p) => p.startsWith(`${field}:`));
    expect(line, `no problem names ${field}: ${JSON.stringify(problems)}`).toBeDefined();
    expect(line).toContain(fragment);
  });

  it("reports every bad field at once", () => {
    const problems = problemsOf({ ID: "", Type: "x", Topics: {}, Address: "nope" });
    expect(problems.map((p) => p.split(":")[0])).toEqual(["ID", "Type", "Topics", "Address"]);
  });

  it("never echoes a rejected secret", () => {
    const problems = problemsOf({ ...valid, Secret: "whsec_tooshort-but-secret" });
    expect(problems.join("\n")).not.toContain("tooshort-but-secret");
  });

  it("lists at most 20 problems, counting the rest", () => {
    const topics = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`Bad${i}`, ["*"]]));
    const problems = problemsOf({ ...valid, Topics: topics });
    expect(problems).toHaveLength(21);
    expect(problems[20]).toBe("and 10 more problems");
  });

  it("shortens a huge received value in the message", () => {
    const [problem] = problemsOf({ ...valid, ID: "x ".repeat(50_000) });
    expect(problem!.length).toBeLessThan(400);
    expect(problem).toContain("(100000 characters)");
  });
});

describe("parseSinkId", () => {
  it("accepts a valid ID and rejects a path trick with the reason", () => {
    expect(parseSinkId("ok-1")).toBe("ok-1");
    expect(() => parseSinkId("..")).toThrow(/^invalid event sink ID: ID in the path: must start with a letter or digit.*received "\.\."/);
  });
});

describe("secrets", () => {
  it("generates whsec_ secrets of 32 random bytes that decode", () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).not.toBe(b);
    const decoded = decodeSecret(a);
    expect("key" in decoded && decoded.key.length).toBe(32);
  });
});
