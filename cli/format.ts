/** Output as Nomad's CLI prints it: aligned columns under a header row, `Key = value` blocks, or indented JSON. */

/** Columns separated by two spaces, each as wide as its widest cell (trailing spaces trimmed). */
export function formatList(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  return all.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

/** `Key = value` lines, the `=` signs aligned. */
export function formatKV(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${key.padEnd(width)} = ${value}`.trimEnd()).join("\n");
}

/** Nomad's `-json` output: indented by four spaces. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 4);
}

/** Nomad's 1.0-beta event sink list: `Evaluation[web],Job[*]`, topics sorted. */
export function formatTopics(topics: Readonly<Record<string, readonly string[]>>): string {
  return Object.keys(topics)
    .sort()
    .map((topic) => `${topic}[${(topics[topic] ?? []).join(" ")}]`)
    .join(",");
}

/** An empty value in a table or block. */
export const NONE = "<none>";

export function orNone(value: string | null | undefined): string {
  return value === undefined || value === null || value === "" ? NONE : value;
}

/** A shell word: as is when safe, single-quoted otherwise. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9._~:=+/@%,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
