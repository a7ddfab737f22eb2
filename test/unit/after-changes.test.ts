import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { afterChanges } from "../../infra/local/http-api-server";
import { httpApiEvent } from "../support/http-api-event";

/** The local runtime's hook from its sinks API to the functions in its process (runtime.ts). */
describe("afterChanges", () => {
  const steps: string[] = [];
  const handler = afterChanges(
    async (event) => {
      steps.push(`handled ${event.requestContext.http.method}`);
      if (event.rawPath === "/fails") throw new Error("store unavailable");
      return { statusCode: event.rawPath === "/refused" ? 400 : 200, body: "{}" } satisfies APIGatewayProxyStructuredResultV2;
    },
    () => steps.push("changed"),
  );

  it("tells of a possible change after every request that is not a read, answered or failed, before the answer", async () => {
    steps.length = 0;
    for (const method of ["PUT", "POST", "DELETE"]) {
      const answer = await handler(httpApiEvent(method, "/v1/event/sink/a"));
      steps.push(`answered ${answer.statusCode}`);
    }
    await handler(httpApiEvent("POST", "/refused"));
    await expect(handler(httpApiEvent("DELETE", "/fails"))).rejects.toThrow("store unavailable");
    expect(steps).toEqual(["handled PUT", "changed", "answered 200", "handled POST", "changed", "answered 200", "handled DELETE", "changed", "answered 200", "handled POST", "changed", "handled DELETE", "changed"]);
  });

  it("says nothing of reads", async () => {
    steps.length = 0;
    for (const method of ["GET", "HEAD", "OPTIONS"]) await handler(httpApiEvent(method, "/v1/event/sinks"));
    expect(steps).toEqual(["handled GET", "handled HEAD", "handled OPTIONS"]);
  });
});
