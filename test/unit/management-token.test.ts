import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { localManagementToken } from "../../infra/local/management-token";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tokenFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "nes-token-"));
  dirs.push(dir);
  return join(dir, "management-token");
};

describe("npm start's management token", () => {
  it("is generated and saved once, then read back", () => {
    const file = tokenFile();
    const first = localManagementToken(undefined, file);
    expect(first).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), source: "generated", savedRefused: false });
    expect(readFileSync(file, "utf8")).toBe(`${first.token}\n`);
    expect(localManagementToken("  ", file)).toEqual({ token: first.token, source: "saved", savedRefused: false });
  });

  it("comes from SINKS_MANAGEMENT_TOKEN when set, saying when a different saved one is refused", () => {
    const file = tokenFile();
    expect(localManagementToken(" env-token ", file)).toEqual({ token: "env-token", source: "environment", savedRefused: false });
    writeFileSync(file, "env-token\n");
    expect(localManagementToken("env-token", file).savedRefused).toBe(false);
    writeFileSync(file, "other\n");
    expect(localManagementToken("env-token", file)).toEqual({ token: "env-token", source: "environment", savedRefused: true });
    // The saved file is left as it is.
    expect(readFileSync(file, "utf8")).toBe("other\n");
  });
});
