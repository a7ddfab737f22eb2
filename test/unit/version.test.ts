import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { USER_AGENT, VERSION } from "../../shared/version";

describe("version", () => {
  it("is package.json's, and names the project in the User-Agent", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
    expect(USER_AGENT).toBe(`nomad-event-sinks/${pkg.version}`);
  });
});
