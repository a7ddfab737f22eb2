/** The base URL of an HTTP server listening on `host` and `port` (an IPv6 address in brackets). */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
