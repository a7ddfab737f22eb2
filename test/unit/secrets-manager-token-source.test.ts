import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SecretsManagerTokenSource } from "../../shared/api/secrets-manager-token-source";

/**
 * Secrets Manager cannot run here (no emulator on npm, no AWS): this loopback server
 * speaks its JSON 1.1 wire protocol for GetSecretValue so the real SDK client is used.
 */
async function fakeSecretsManager(answer: () => { status: number; body: object }) {
  const calls: Array<{ target: string | undefined; body: unknown }> = [];
  const server: Server = createServer((request, response) => {
    let raw = "";
    request.on("data", (c: Buffer) => (raw += c.toString()));
    request.on("end", () => {
      calls.push({ target: request.headers["x-amz-target"] as string | undefined, body: JSON.parse(raw) });
      const { status, body } = answer();
      response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { endpoint, calls, close: () => new Promise<void>((done) => server.close(() => done())) };
}

const clientConfig = (endpoint: string) => ({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1 });

describe("SecretsManagerTokenSource", () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  it("reads the token with GetSecretValue, trims it, and caches it", async () => {
    let value = " token-1\n";
    const sm = await fakeSecretsManager(() => ({ status: 200, body: { ARN: "arn:x", Name: "n", SecretString: value } }));
    closers.push(sm.close);
    const source = new SecretsManagerTokenSource({ secretId: "arn:aws:secretsmanager:us-east-1:1:secret:mgmt", clientConfig: clientConfig(sm.endpoint), cacheMs: 60_000 });
    expect(await source.managementToken()).toBe("token-1");
    value = "token-2";
    expect(await source.managementToken()).toBe("token-1");
    expect(sm.calls).toEqual([{ target: "secretsmanager.GetSecretValue", body: { SecretId: "arn:aws:secretsmanager:us-east-1:1:secret:mgmt" } }]);
  });

  it("reads again once the cache expires (picks up a rotated token)", async () => {
    let value = "token-1";
    const sm = await fakeSecretsManager(() => ({ status: 200, body: { SecretString: value } }));
    closers.push(sm.close);
    const source = new SecretsManagerTokenSource({ secretId: "s", clientConfig: clientConfig(sm.endpoint), cacheMs: 0 });
    expect(await source.managementToken()).toBe("token-1");
    value = "token-2";
    expect(await source.managementToken()).toBe("token-2");
  });

  it("does not cache a failure, and says which secret is unusable", async () => {
    let body: object = { SecretString: "" };
    const sm = await fakeSecretsManager(() => ({ status: 200, body }));
    closers.push(sm.close);
    const source = new SecretsManagerTokenSource({ secretId: "mgmt", clientConfig: clientConfig(sm.endpoint) });
    await expect(source.managementToken()).rejects.toThrow("secret mgmt has no string value to use as the management token");
    body = { SecretString: "ok" };
    expect(await source.managementToken()).toBe("ok");
  });
});
