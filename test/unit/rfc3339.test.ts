import { describe, expect, it } from "vitest";
import { parseRfc3339 } from "../../shared/rfc3339";

describe("parseRfc3339: Go's time.RFC3339, impossible dates refused", () => {
  it.each([
    ["2026-11-21T10:00:00Z", Date.UTC(2026, 10, 21, 10)],
    ["2026-11-21T10:00:00.250Z", Date.UTC(2026, 10, 21, 10, 0, 0, 250)],
    ["2026-11-21T12:00:00+02:00", Date.UTC(2026, 10, 21, 10)],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ])("%s", (text, ms) => expect(parseRfc3339(text)).toBe(ms));

  it.each(["2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T10:60:00Z", "2026-11-21T10:00:60Z", "2026-13-01T00:00:00Z", "2026-11-21T10:00:00+25:00", "2026-11-21 10:00:00Z", "2026-11-21T10:00:00", "yesterday"])(
    "%s is refused",
    (text) => expect(parseRfc3339(text)).toBeUndefined(),
  );
});
