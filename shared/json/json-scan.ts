/**
 * Where values are in a JSON text, without parsing them: the start and end of the value at
 * a path (`detail.event.Payload`), or of one value in each element of an array
 * (`Events[*].Payload`), so a caller can copy a value's text as received instead of writing
 * back what JSON.parse made of it (see json-source.ts).
 *
 * The text must be JSON that JSON.parse accepted: the scanner follows only the structure
 * (strings with their escapes, objects, arrays) and does not validate. On such a text its
 * answers match JSON.parse's reading of it: whitespace anywhere between tokens, keys given
 * with escapes (`"Payl\u006fad"` is `Payload`), and a key given twice, where the last one
 * counts. One pass over the text, whatever the path's depth; strings are skipped with
 * indexOf, so long strings cost little. On text that is not JSON the answers are
 * meaningless but the scan still ends.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/** A value's place in a text: `text.slice(start, end)` is the value, without surrounding whitespace. */
export interface JsonSpan {
  readonly start: number;
  readonly end: number;
}

/** JSON whitespace (space, LF, CR, tab), as a UTF-16 code unit or a byte. */
export function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The first position from `at` that is not JSON whitespace (space, tab, CR, LF). */
export function skipSpace(text: string, at: number): number {
  while (isSpace(text.charCodeAt(at))) at++;
  return at;
}

/** The end (one past the closing quote) of the string whose opening quote is at `at`. */
function stringEnd(text: string, at: number): number {
  let from = at + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    // The quote closes the string unless an odd number of backslashes escapes it.
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    if (((quote - 1 - before) & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The end of the JSON value that starts at `at` (no whitespace before it). */
export function valueEnd(text: string, at: number): number {
  const first = text.charCodeAt(at);
  if (first === QUOTE) return stringEnd(text, at);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let i = at; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) i = stringEnd(text, i) - 1;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
    }
    return text.length;
  }
  // A number, true, false or null: up to the delimiter that follows it.
  let i = at + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) break;
    i++;
  }
  return i;
}

/** Whether the key string from `start` (its opening quote) to `end` (past its closing quote) names `key`. */
function keyIs(text: string, start: number, end: number, key: string): boolean {
  if (end - start - 2 === key.length && text.startsWith(key, start + 1)) return true;
  // Written with escapes, it may still name the key; rare, so decoded only then. The search
  // stays within the key: an indexOf could run on to the end of a 10 MB text for every key.
  for (let i = start + 1; i < end - 1; i++) {
    if (text.charCodeAt(i) === BACKSLASH) return JSON.parse(text.slice(start, end)) === key;
  }
  return false;
}

/** Matches every element of an array. */
const EACH: unique symbol = Symbol("each element");
type Step = string | typeof EACH;

/**
 * One walk of a text along a path. `spans[k]` is the span found in element k of the array
 * the EACH step matched (`spans[0]` for a path without EACH). A member given again replaces
 * what the earlier one held, as in JSON.parse.
 */
class PathWalk {
  spans: Array<JsonSpan | undefined> = [];
  /** Whether the EACH step met an array. */
  sawArray = false;
  private element = 0;
  private readonly eachAt: number;

  constructor(
    private readonly text: string,
    private readonly path: readonly Step[],
  ) {
    this.eachAt = path.indexOf(EACH);
  }

  /** Walks the value at `at`, to which `path[depth]` applies, and returns its end. */
  value(at: number, depth: number): number {
    const { text, path } = this;
    if (depth === path.length) {
      const end = valueEnd(text, at);
      this.spans[this.element] = { start: at, end };
      return end;
    }
    const step = path[depth]!;
    const first = text.charCodeAt(at);
    if (step === EACH) {
      if (first !== OPEN_BRACKET) return valueEnd(text, at);
      this.sawArray = true;
      let i = skipSpace(text, at + 1);
      if (text.charCodeAt(i) === CLOSE_BRACKET) return i + 1;
      for (let k = 0; ; k++) {
        this.element = k;
        this.spans[k] = undefined;
        i = skipSpace(text, this.value(i, depth + 1));
        if (text.charCodeAt(i) !== COMMA) return i + 1;
        i = skipSpace(text, i + 1);
      }
    }
    if (first !== OPEN_BRACE) return valueEnd(text, at);
    let i = skipSpace(text, at + 1);
    if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
    for (;;) {
      const keyEnd = stringEnd(text, i);
      const matches = keyIs(text, i, keyEnd, step);
      // Past the colon to the member's value.
      i = skipSpace(text, skipSpace(text, keyEnd) + 1);
      let end: number;
      if (matches) {
        this.forget(depth);
        end = this.value(i, depth + 1);
      } else {
        end = valueEnd(text, i);
      }
      i = skipSpace(text, end);
      if (text.charCodeAt(i) !== COMMA) return i + 1;
      i = skipSpace(text, i + 1);
    }
  }

  /** A member matched at `depth` again: what an earlier one with the same key held no longer counts. */
  private forget(depth: number): void {
    if (this.eachAt !== -1 && depth < this.eachAt) {
      this.spans = [];
      this.sawArray = false;
    } else {
      this.spans[this.element] = undefined;
    }
  }
}

/**
 * The span of the value at `path` (member names, outermost first; `[]` is the whole text),
 * or undefined when there is none: a member missing, or a value on the way not an object.
 */
export function spanAt(text: string, path: readonly string[]): JsonSpan | undefined {
  const walk = new PathWalk(text, path);
  walk.value(skipSpace(text, 0), 0);
  return walk.spans[0];
}

/**
 * For the array at `arrayPath`, the span of the value at `memberPath` in each element, in
 * order (undefined for an element without one, such as an element that is not an object);
 * undefined when there is no array at `arrayPath`. `[]` for an empty array.
 */
export function spansInElements(text: string, arrayPath: readonly string[], memberPath: readonly string[]): Array<JsonSpan | undefined> | undefined {
  const walk = new PathWalk(text, [...arrayPath, EACH, ...memberPath]);
  walk.value(skipSpace(text, 0), 0);
  return walk.sawArray ? walk.spans : undefined;
}
