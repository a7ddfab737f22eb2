import { describe, expect, it } from "vitest";
import { parseTopics, readStreamerConfig } from "../../functions/streamer/config";

const base = { EVENT_BUS_NAME: "nomad", STREAMER_TABLE: "t" };

describe("readStreamerConfig", () => {
  it("defaults everything but the bus and the table", () => {
    expect(readStreamerConfig(base)).toMatchObject({
      cluster: "default",
      busName: "nomad",
      tableName: "t",
      namespacePollMs: 60_000,
      maxEntryBytes: 262_144,
      maxInFlight: 4,
      leaseDurationMs: 15_000,
      livenessMs: 45_000,
      maxLineBytes: 64 * 1024 * 1024,
      healthPort: 8081,
      healthHost: "0.0.0.0",
      shutdownMs: 25_000,
      nomad: { address: "http://127.0.0.1:4646", namespace: "*" },
    });
    expect(readStreamerConfig(base).topics).toBeUndefined();
    expect(readStreamerConfig({ ...base, STREAM_MAX_LINE_BYTES: "134217728" }).maxLineBytes).toBe(128 * 1024 * 1024);
    expect(readStreamerConfig({ ...base, HEALTH_HOST: "127.0.0.1" }).healthHost).toBe("127.0.0.1");
  });

  it.each([
    [{ STREAMER_TABLE: "t" }, "Environment variable EVENT_BUS_NAME is required"],
    [{ EVENT_BUS_NAME: "b" }, "Environment variable STREAMER_TABLE is required"],
    [{ ...base, STREAMER_CLUSTER: "a b" }, 'STREAMER_CLUSTER must be 1-64 letters, digits'],
    [{ ...base, EVENTBRIDGE_MAX_ENTRY_BYTES: "2000000" }, 'EVENTBRIDGE_MAX_ENTRY_BYTES must be an integer from 4096 to 1048576, but "2000000" was given'],
    [{ ...base, STREAM_MAX_LINE_BYTES: "1000" }, 'STREAM_MAX_LINE_BYTES must be an integer from 1048576 to 1073741824, but "1000" was given'],
    [{ ...base, STREAMER_TOPICS: "Jobs" }, 'STREAMER_TOPICS names unknown topic "Jobs"'],
    [{ ...base, STREAMER_TOPICS: "Job:a:b" }, "each item must be Topic or Topic:Key"],
    [{ ...base, NOMAD_ADDR: "ftp://x" }, "NOMAD_ADDR must use http:// or https://"],
  ])("rejects %j naming the variable", (env, message) => {
    expect(() => readStreamerConfig(env)).toThrow(message);
  });
});

describe("parseTopics", () => {
  it("reads Nomad's Topic[:Key] form, with aliases and the empty key", () => {
    expect(parseTopics("Job:web, Node ,Eval:,Job:api,Job:web")).toEqual({ Job: ["web", "api"], Node: ["*"], Evaluation: [""] });
  });
});
