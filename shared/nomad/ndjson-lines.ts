/** A line grew past the splitter's limit before its `\n` came. */
export class LineTooLongError extends Error {
  override readonly name = "LineTooLongError";
  constructor(
    readonly bytes: number,
    readonly maxLineBytes: number,
  ) {
    super(`a line of ${bytes} bytes or more, over the limit of ${maxLineBytes} bytes per line`);
  }
}

/**
 * Splits a byte stream into lines at `\n`. Lines may be long (a PlanResult frame can be
 * 10 MB on one line) but not endless: past `maxLineBytes` (counting a trailing `\r`)
 * without a newline, `push` throws LineTooLongError instead of holding ever more. Pieces of
 * a long line are kept as a list and joined once, so a line arriving in thousands of chunks
 * costs linear, not quadratic, time.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes = Number.POSITIVE_INFINITY) {}

  /** Returns every line completed by `chunk`, without the `\n` (and a trailing `\r`). */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let at = chunk.indexOf(0x0a, start); at !== -1; at = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, at);
      const bytes = this.pendingBytes + piece.length;
      if (bytes > this.maxLineBytes) throw new LineTooLongError(bytes, this.maxLineBytes);
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece], bytes);
      this.pending = [];
      this.pendingBytes = 0;
      lines.push(line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line);
      start = at + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) throw new LineTooLongError(this.pendingBytes, this.maxLineBytes);
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
