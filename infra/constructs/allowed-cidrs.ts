import { parseCidrList } from "../../shared/delivery/ssrf-guard";

/**
 * Checks an `allowedCidrs` prop with the parser the functions use on WEBHOOK_ALLOWED_CIDRS, so
 * a bad entry fails the synthesis instead of the function's start.
 */
export function checkAllowedCidrs(owner: string, cidrs: readonly string[] | undefined): void {
  if (cidrs === undefined) return;
  const bad = cidrs.filter((cidr) => cidr.trim() === "" || /[\s,]/.test(cidr.trim()));
  if (bad.length > 0) throw new Error(`${owner}: allowedCidrs must hold one CIDR per entry, but ${JSON.stringify(bad[0])} was provided`);
  try {
    parseCidrList(cidrs.join(","));
  } catch (error) {
    throw new Error(`${owner}: allowedCidrs must be IPv4 or IPv6 CIDRs or addresses, but ${(error as Error).message}`, { cause: error });
  }
}
