import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Where the generated management token is kept, in the runtime's data directory. */
export function managementTokenFile(dataDir: string): string {
  return join(dataDir, "management-token");
}

/**
 * The local management token: `SINKS_MANAGEMENT_TOKEN` if set; otherwise the one saved
 * in `file`, generated on first use (so it survives restarts).
 */
export function localManagementToken(fromEnv: string | undefined, file: string): { token: string; source: "environment" | "generated" | "saved" } {
  if (fromEnv?.trim()) return { token: fromEnv.trim(), source: "environment" };
  if (existsSync(file)) {
    const saved = readFileSync(file, "utf8").trim();
    if (saved) return { token: saved, source: "saved" };
  }
  const token = randomBytes(24).toString("base64url");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, source: "generated" };
}
