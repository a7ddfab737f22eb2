import { readFileSync } from "node:fs";
import { boolEnv, ConfigError, optionalEnv, type Env } from "../config/env";

/** How to reach Nomad, read from the same variables the Nomad CLI reads. */
export interface NomadConfig {
  /** Base URL, e.g. `http://127.0.0.1:4646`. */
  readonly address: string;
  readonly token?: string;
  readonly region?: string;
  /** Namespace to subscribe to; `*` is every namespace. */
  readonly namespace: string;
  readonly tls: NomadTlsConfig;
}

export interface NomadTlsConfig {
  /** PEM of the CA(s) to trust, read from NOMAD_CACERT. */
  readonly ca?: string;
  /** PEM client certificate and key, read from NOMAD_CLIENT_CERT / NOMAD_CLIENT_KEY. */
  readonly cert?: string;
  readonly key?: string;
  readonly skipVerify: boolean;
  readonly serverName?: string;
}

function readPem(env: Env, name: string): string | undefined {
  const path = optionalEnv(env, name);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`Environment variable ${name} names ${JSON.stringify(path)}, which cannot be read: ${(error as Error).message}`, undefined, { cause: error });
  }
}

/**
 * NOMAD_ADDR (default `http://127.0.0.1:4646`, as the CLI), NOMAD_TOKEN, NOMAD_REGION,
 * NOMAD_NAMESPACE (default `*` here: the streamer wants every namespace), NOMAD_CACERT,
 * NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_SKIP_VERIFY, NOMAD_TLS_SERVER_NAME.
 */
export function readNomadConfig(env: Env, defaults: { namespace?: string } = {}): NomadConfig {
  const raw = optionalEnv(env, "NOMAD_ADDR") ?? "http://127.0.0.1:4646";
  // The CLI accepts a bare host:port; so do we.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`Environment variable NOMAD_ADDR must be a URL such as http://127.0.0.1:4646, but ${JSON.stringify(raw)} was given`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`Environment variable NOMAD_ADDR must use http:// or https://, but ${JSON.stringify(raw)} was given`);
  }
  const cert = readPem(env, "NOMAD_CLIENT_CERT");
  const key = readPem(env, "NOMAD_CLIENT_KEY");
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError("Environment variables NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY must be set together");
  }
  const ca = readPem(env, "NOMAD_CACERT");
  const token = optionalEnv(env, "NOMAD_TOKEN");
  const region = optionalEnv(env, "NOMAD_REGION");
  const serverName = optionalEnv(env, "NOMAD_TLS_SERVER_NAME");
  return {
    address: url.origin + url.pathname.replace(/\/+$/, ""),
    ...(token !== undefined ? { token } : {}),
    ...(region !== undefined ? { region } : {}),
    namespace: optionalEnv(env, "NOMAD_NAMESPACE") ?? defaults.namespace ?? "*",
    tls: {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      skipVerify: boolEnv(env, "NOMAD_SKIP_VERIFY"),
      ...(serverName !== undefined ? { serverName } : {}),
    },
  };
}
