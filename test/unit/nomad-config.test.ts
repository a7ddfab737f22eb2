import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { streamQuery } from "../../shared/nomad/stream-client";

describe("readNomadConfig (the Nomad CLI's variables)", () => {
  it("defaults like the CLI, with every namespace", () => {
    expect(readNomadConfig({})).toEqual({ address: "http://127.0.0.1:4646", namespace: "*", tls: { skipVerify: false } });
  });

  it("reads address, token, region, namespace and TLS files", () => {
    const dir = mkdtempSync(join(tmpdir(), "nes-tls-"));
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, f), `PEM ${f}`);
    const config = readNomadConfig({
      NOMAD_ADDR: "https://nomad.example.com:4646/",
      NOMAD_TOKEN: "tok",
      NOMAD_REGION: "eu",
      NOMAD_NAMESPACE: "prod",
      NOMAD_CACERT: join(dir, "ca.pem"),
      NOMAD_CLIENT_CERT: join(dir, "cert.pem"),
      NOMAD_CLIENT_KEY: join(dir, "key.pem"),
      NOMAD_SKIP_VERIFY: "true",
      NOMAD_TLS_SERVER_NAME: "server.global.nomad",
    });
    expect(config).toEqual({
      address: "https://nomad.example.com:4646",
      token: "tok",
      region: "eu",
      namespace: "prod",
      tls: { ca: "PEM ca.pem", cert: "PEM cert.pem", key: "PEM key.pem", skipVerify: true, serverName: "server.global.nomad" },
    });
  });

  it("accepts a bare host:port, as the CLI does", () => {
    expect(readNomadConfig({ NOMAD_ADDR: "10.0.0.5:4646" }).address).toBe("http://10.0.0.5:4646");
  });

  it.each([
    [{ NOMAD_ADDR: "ftp://x" }, "NOMAD_ADDR must use http:// or https://"],
    [{ NOMAD_ADDR: "http://" }, "NOMAD_ADDR must be a URL"],
    [{ NOMAD_SKIP_VERIFY: "yes" }, 'NOMAD_SKIP_VERIFY must be true or false (1, t, TRUE and 0, f, FALSE are read too, as Go reads them), but "yes" was given'],
    [{ NOMAD_CACERT: "/nonexistent/ca.pem" }, 'NOMAD_CACERT names "/nonexistent/ca.pem", which cannot be read'],
    [{ NOMAD_CLIENT_CERT: "/etc/hostname" }, "NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY must be set together"],
  ])("rejects %j naming the variable", (env, message) => {
    expect(() => readNomadConfig(env)).toThrow(message);
  });
});

describe("streamQuery", () => {
  it("builds the Go client's query: sorted keys, escaped values, one topic per key", () => {
    const config = readNomadConfig({ NOMAD_REGION: "global", NOMAD_NAMESPACE: "default" });
    expect(streamQuery(config, { index: 7, topics: { Job: ["web"], Node: ["*"] } })).toBe("index=7&namespace=default&region=global&topic=Job%3Aweb&topic=Node%3A*");
    expect(streamQuery(readNomadConfig({}), { index: 0 })).toBe("index=0&namespace=*&topic=*%3A*");
  });
});
