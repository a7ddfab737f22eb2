import { request } from "undici";

type ApiMethod = "GET" | "PUT" | "POST" | "DELETE";

/**
 * One call to the sinks API as a test makes it (not through the CLI's client, which some tests
 * compare against): the token in `X-Nomad-Token`, the body as JSON; anything but 200 throws
 * with the status and what the server said; the answer parsed (an empty one as `{}`).
 */
export async function apiCall(api: string, token: string, method: ApiMethod, path: string, body?: unknown): Promise<unknown> {
  const response = await request(`${api}${path}`, { method, headers: { "x-nomad-token": token }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${method} ${path} answered ${response.statusCode}: ${text}`);
  return text === "" ? {} : (JSON.parse(text) as unknown);
}
