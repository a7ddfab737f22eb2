import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Where the generated management token is kept, in the runtime's data directory. */
export function managementTokenFile(dataDir: string): string {
  return join(dataDir, "management-token");
}

/**
 * The local management token: `SINKS_MANAGEMENT_TOKEN` if set; otherwise the one saved
 * in `file`, generated on first use (so it survives restarts). `savedRefused`: the variable
 * is set and a different token is saved, which is then not accepted.
 */
export function localManagementToken(fromEnv: string | undefined, file: string): { token: string; source: "environment" | "generated" | "saved"; savedRefused: boolean } {
  const token = fromEnv?.trim();
  if (token) {
    let other = "";
    try {
      other = savedToken(file);
    } catch {
      // Unreadable: not in use either way.
    }
    return { token, source: "environment", savedRefused: other !== "" && other !== token };
  }
  const saved = savedToken(file);
  if (saved) return { token: saved, source: "saved", savedRefused: false };
  const generated = randomBytes(24).toString("base64url");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${generated}\n`, { mode: 0o600 });
  return { token: generated, source: "generated", savedRefused: false };
}

function savedToken(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8").trim() : "";
}
