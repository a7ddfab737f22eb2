import { describe, expect, it } from "vitest";
import { readSinksApiConfig } from "../../functions/sinks-api/config";

describe("readSinksApiConfig", () => {
  it.each([
    [{}, "Environment variable SINKS_TABLE is required"],
    [{ SINKS_TABLE: "  " }, "Environment variable SINKS_TABLE is required"],
    [{ SINKS_TABLE: "t" }, "SINKS_MANAGEMENT_TOKEN or SINKS_MANAGEMENT_TOKEN_SECRET_ARN is required"],
    [{ SINKS_TABLE: "t", SINKS_MANAGEMENT_TOKEN: "a", SINKS_MANAGEMENT_TOKEN_SECRET_ARN: "b" }, "Set only one of"],
  ])("rejects %j: %s", (env, message) => {
    expect(() => readSinksApiConfig(env)).toThrow(message);
  });

  it("takes the token from the environment or from a secret", () => {
    expect(readSinksApiConfig({ SINKS_TABLE: "t", SINKS_MANAGEMENT_TOKEN: " tok " })).toEqual({ tableName: "t", token: { value: "tok" } });
    expect(readSinksApiConfig({ SINKS_TABLE: "t", SINKS_MANAGEMENT_TOKEN_SECRET_ARN: "arn:s" })).toEqual({ tableName: "t", token: { secretId: "arn:s" } });
  });
});
