import { describe, expect, it } from "vitest";
import { readSinksApiConfig } from "../../functions/sinks-api/config";

const DELIVERY = { DELIVERIES_TABLE: "d", DELIVERY_QUEUE_URL: "http://q/delivery.fifo", DELIVERY_DLQ_URL: "http://q/dlq.fifo" };
const expectedDelivery = { deliveriesTable: "d", queueUrl: "http://q/delivery.fifo", deadLetterQueueUrl: "http://q/dlq.fifo", allowedCidrs: [], logTtlDays: 7 };

describe("readSinksApiConfig", () => {
  it.each([
    [{}, "Environment variable SINKS_TABLE is required"],
    [{ SINKS_TABLE: "  " }, "Environment variable SINKS_TABLE is required"],
    [{ SINKS_TABLE: "t" }, "Environment variable DELIVERIES_TABLE is required"],
    [{ SINKS_TABLE: "t", DELIVERIES_TABLE: "d" }, "Environment variable DELIVERY_QUEUE_URL is required"],
    [{ SINKS_TABLE: "t", ...DELIVERY }, "SINKS_MANAGEMENT_TOKEN or SINKS_MANAGEMENT_TOKEN_SECRET_ARN is required"],
    [{ SINKS_TABLE: "t", ...DELIVERY, SINKS_MANAGEMENT_TOKEN: "a", SINKS_MANAGEMENT_TOKEN_SECRET_ARN: "b" }, "Set only one of"],
    [{ SINKS_TABLE: "t", ...DELIVERY, SINKS_MANAGEMENT_TOKEN: "a", WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/33" }, "Environment variable WEBHOOK_ALLOWED_CIDRS: "],
    [{ SINKS_TABLE: "t", ...DELIVERY, SINKS_MANAGEMENT_TOKEN: "a", DELIVERY_LOG_TTL_DAYS: "0" }, 'DELIVERY_LOG_TTL_DAYS must be an integer from 1 to 365, but "0" was given'],
  ])("rejects %j: %s", (env, message) => {
    expect(() => readSinksApiConfig(env)).toThrow(message);
  });

  it("takes the token from the environment or from a secret", () => {
    expect(readSinksApiConfig({ SINKS_TABLE: "t", ...DELIVERY, SINKS_MANAGEMENT_TOKEN: " tok " })).toEqual({ tableName: "t", ...expectedDelivery, token: { value: "tok" } });
    expect(readSinksApiConfig({ SINKS_TABLE: "t", ...DELIVERY, SINKS_MANAGEMENT_TOKEN_SECRET_ARN: "arn:s" })).toEqual({ tableName: "t", ...expectedDelivery, token: { secretId: "arn:s" } });
  });

  it("reads the webhook allowlist", () => {
    const config = readSinksApiConfig({ SINKS_TABLE: "t", ...DELIVERY, SINKS_MANAGEMENT_TOKEN: "a", WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8, ::1/128" });
    expect(config.allowedCidrs).toHaveLength(2);
  });
});
