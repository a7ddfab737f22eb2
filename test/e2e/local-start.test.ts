import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { dataDirLockFile } from "../../infra/local/exclusive";
import { freePort } from "../../infra/local/free-port";
import { until } from "../support/until";
import { startRuntimeProcess } from "../support/local-runtime-process";

describe("npm start (local runtime)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "nes-start-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("documents every variable with --help", async () => {
    const runtime = startRuntimeProcess({}, ["--help"]);
    expect(await runtime.exited()).toBe(0);
    for (const name of ["PORT", "HOST", "SINKS_MANAGEMENT_TOKEN", "SINKS_TABLE", "LOCAL_DATA_DIR"]) expect(runtime.output()).toContain(name);
  });

  it("serves the API over HTTP, and keeps sinks and the generated token across a restart", async () => {
    const port = await freePort();
    const env = { PORT: String(port), LOCAL_DATA_DIR: dataDir };
    const first = startRuntimeProcess(env);
    const [, token] = await first.waitFor(/Management token\s+(\S+)\s+\(generated/);
    const base = `http://127.0.0.1:${port}`;
    const put = await request(`${base}/v1/event/sink/kept`, {
      method: "PUT",
      headers: { "x-nomad-token": token! },
      body: JSON.stringify({ ID: "kept", Type: "webhook", Address: "https://example.com/hook", Topics: { Job: ["web"] } }),
    });
    expect(put.statusCode).toBe(200);
    expect(put.headers["x-nomad-index"]).toBe("1");
    await put.body.dump();

    // While it runs, another start on its directory or on its port is refused before starting anything, saying what to change.
    const sameDir = startRuntimeProcess({ PORT: String(await freePort()), LOCAL_DATA_DIR: dataDir });
    expect(await sameDir.exited()).toBe(1);
    expect(sameDir.output()).toContain(`another npm start (process ${first.child.pid}) is using the data directory ${dataDir}: stop it first, or give this one a directory of its own with LOCAL_DATA_DIR`);
    expect(sameDir.output()).not.toMatch(/DynamoDB Local|is running locally/);
    const otherDir = mkdtempSync(join(tmpdir(), "nes-start-port-"));
    const samePort = startRuntimeProcess({ PORT: String(port), LOCAL_DATA_DIR: otherDir });
    expect(await samePort.exited()).toBe(1);
    expect(samePort.output()).toContain(`port ${port} on 127.0.0.1 is taken: stop what listens there, or choose another port for the sinks API with PORT`);
    // Refused before it touched its directory: no lock, no token, no DynamoDB files.
    expect(readdirSync(otherDir)).toEqual([]);
    rmSync(otherDir, { recursive: true, force: true });

    expect(await first.stop("SIGINT")).toBe(0);
    // A clean stop gives the directory up.
    expect(existsSync(dataDirLockFile(dataDir))).toBe(false);

    const second = startRuntimeProcess(env);
    const [, again] = await second.waitFor(/Management token\s+(\S+)\s+\(saved/);
    expect(again).toBe(token);
    try {
      const get = await request(`${base}/v1/event/sink/kept`, { headers: { authorization: `Bearer ${token}` } });
      expect(get.statusCode).toBe(200);
      expect(await get.body.json()).toMatchObject({ ID: "kept", Topics: { Job: ["web"] }, CreateIndex: 1 });
      const denied = await request(`${base}/v1/event/sinks`);
      expect(denied.statusCode).toBe(403);
      expect(await denied.body.text()).toBe("Permission denied");
    } finally {
      expect(await second.stop("SIGTERM")).toBe(0);
    }
  }, 120_000);

  it("stopped with Ctrl-C while starting, finishes starting, stops in order and leaves no DynamoDB Local behind", async () => {
    const ownDir = mkdtempSync(join(tmpdir(), "nes-start-early-"));
    try {
      const runtime = startRuntimeProcess({ PORT: String(await freePort()), LOCAL_DATA_DIR: ownDir });
      // The lock is taken at the very start, before DynamoDB Local: the signal lands mid-start.
      await until(() => existsSync(dataDirLockFile(ownDir)), 60_000, "the data directory's lock");
      expect(await runtime.stop("SIGINT")).toBe(0);
      expect(runtime.output()).toMatch(/SIGINT: stopping…\nstopped: streamed \d+/);
      expect(existsSync(dataDirLockFile(ownDir))).toBe(false);
      // No process (Java's DynamoDB Local among them) still has this directory on its command line.
      const holders = readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(ownDir);
          } catch {
            return false;
          }
        });
      expect(holders).toEqual([]);
    } finally {
      rmSync(ownDir, { recursive: true, force: true });
    }
  }, 120_000);

  it("uses SINKS_MANAGEMENT_TOKEN when set, and exits non-zero naming a bad PORT", async () => {
    const bad = startRuntimeProcess({ PORT: "http", LOCAL_DATA_DIR: dataDir });
    expect(await bad.exited()).toBe(1);
    expect(bad.output()).toContain('Environment variable PORT must be an integer from 0 to 65535, but "http" was given');

    const port = await freePort();
    const ownDir = mkdtempSync(join(tmpdir(), "nes-start-env-"));
    // A simulated-cluster state file it cannot use: it starts afresh and says why.
    writeFileSync(join(ownDir, "simulated-nomad.json"), "{not json");
    // A lock left by a process that is gone (killed, or a reboot) does not stop it.
    writeFileSync(dataDirLockFile(ownDir), `${spawnSync(process.execPath, ["-e", ""]).pid}\n`);
    const runtime = startRuntimeProcess({ PORT: String(port), LOCAL_DATA_DIR: ownDir, SINKS_MANAGEMENT_TOKEN: "from-env" });
    try {
      await runtime.waitFor(/Management token\s+from-env\s+\(from SINKS_MANAGEMENT_TOKEN\)/);
      // The stale lock is now this process's.
      expect(readFileSync(dataDirLockFile(ownDir), "utf8")).toMatch(new RegExp(`^${runtime.child.pid} \\d+\n$`));
      expect(runtime.output()).toMatch(/Note\s+the simulated cluster's state file .*simulated-nomad\.json (cannot be read|is not usable)/);
      const list = await request(`http://127.0.0.1:${port}/v1/event/sinks`, { headers: { "x-nomad-token": "from-env" } });
      expect(list.statusCode).toBe(200);
      expect(await list.body.json()).toEqual([]);
    } finally {
      await runtime.stop();
      rmSync(ownDir, { recursive: true, force: true });
    }
  }, 120_000);
});
