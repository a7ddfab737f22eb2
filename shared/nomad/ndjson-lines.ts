/**
 * Splits a byte stream into lines at `\n`, with no limit on line length (a PlanResult
 * frame can be 10 MB on one line). Pieces of a long line are kept as a list and joined
 * once, so a line arriving in thousands of chunks costs linear, not quadratic, time.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Returns every line completed by `chunk`, without the `\n` (and a trailing `\r`). */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let at = chunk.indexOf(0x0a, start); at !== -1; at = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, at);
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece], this.pendingBytes + piece.length);
      this.pending = [];
      this.pendingBytes = 0;
      lines.push(line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line);
      start = at + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
    return lines;
  }

  /** What is left after the last `\n` (a tail without newline), emptied. */
  rest(): Buffer {
    const rest = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return rest;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }
}
