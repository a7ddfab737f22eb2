import { isSpace } from "../json/json-scan";
import { rememberJsonSource, toJson } from "../json/json-source";
import { isIndex, type NomadEvent, type NomadFrame } from "./event";

/**
 * One event of a stream frame as the streamer needs it: the fields it reads, and the
 * payload as the JSON text Nomad sent (never parsed: the streamer only copies it onto the
 * bus, and parsing a payload, then collecting what the parse built, cost it more than
 * everything else it does per event).
 */
export interface ScannedEvent {
  readonly Topic: string;
  readonly Type: string;
  readonly Key: string;
  readonly Namespace: string;
  readonly FilterKeys: string[] | null;
  readonly Index: number;
  /** The payload's JSON text exactly as received (`{...}`), or null. */
  readonly payloadJson: string | null;
}

export interface ScannedFrame {
  readonly Index: number;
  readonly Events: ScannedEvent[] | null;
}

/** The event with its payload parsed (and its text remembered, so it is written back as received). */
function parsedEvent(event: ScannedEvent): NomadEvent {
  const { payloadJson } = event;
  const payload = payloadJson === null ? null : rememberJsonSource(JSON.parse(payloadJson) as Record<string, unknown>, payloadJson);
  return { Topic: event.Topic, Type: event.Type, Key: event.Key, Namespace: event.Namespace, FilterKeys: event.FilterKeys, Index: event.Index, Payload: payload };
}

export function parsedFrame(frame: ScannedFrame): NomadFrame {
  return { Index: frame.Index, Events: frame.Events === null ? null : frame.Events.map(parsedEvent) };
}

/** A parsed frame as the scan gives it: each payload as the text it was parsed from when remembered, else as JSON.stringify writes it. */
export function scannedFrame(frame: NomadFrame): ScannedFrame {
  const events = frame.Events;
  if (events === null) return { Index: frame.Index, Events: null };
  return {
    Index: frame.Index,
    Events: events.map((e) => ({ Topic: e.Topic, Type: e.Type, Key: e.Key, Namespace: e.Namespace, FilterKeys: e.FilterKeys, Index: e.Index, payloadJson: e.Payload === null ? null : toJson(e.Payload) })),
  };
}

const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Not the common case: the caller reads the line the general way instead (JSON.parse and
 * decodeNomadFrame), which accepts or rejects it with the exact reason. Thrown rather than
 * returned so the scan's functions can return plain positions.
 */
class Unscannable {}
const UNSCANNABLE = new Unscannable();

/** The members the scan reads; any other key is Other. */
const enum Member {
  Other,
  Topic,
  Type,
  Key,
  Namespace,
  FilterKeys,
  Index,
  Payload,
  Events,
}

const MEMBERS: ReadonlyArray<readonly [Member, Buffer]> = (
  [
    [Member.Topic, "Topic"],
    [Member.Type, "Type"],
    [Member.Key, "Key"],
    [Member.Namespace, "Namespace"],
    [Member.FilterKeys, "FilterKeys"],
    [Member.Index, "Index"],
    [Member.Payload, "Payload"],
    [Member.Events, "Events"],
  ] as const
).map(([member, name]) => [member, Buffer.from(name, "latin1")] as const);

/**
 * Reads one line of Nomad's event stream, as bytes, without building its payloads: the
 * frame's Index, and for each event its six named fields and the payload's text. The whole
 * line is checked against JSON's grammar as it is scanned (strings, escapes, numbers,
 * literals, nesting, nothing after the value), so a line this accepts is one JSON.parse
 * accepts, and the fields get the values, and the defaults, that decodeNomadFrame gives
 * them. Text is decoded as UTF-8 as Buffer.toString does (every piece cut at an ASCII
 * delimiter, so the pieces read as they would in the decoded line).
 *
 * Returns undefined for anything else: bytes that are not JSON, a frame of the wrong
 * shape, and the rare forms of valid frames it does not handle itself (a key written with
 * escapes, a member given twice). The caller then reads the line the general way, which
 * gives the frame or the exact reason it is not one.
 */
export function scanFrame(line: Buffer): ScannedFrame | undefined {
  try {
    return new FrameScan(line).frame();
  } catch (error) {
    if (error === UNSCANNABLE) return undefined;
    throw error;
  }
}

class FrameScan {
  private at = 0;
  private readonly length: number;

  constructor(private readonly bytes: Buffer) {
    this.length = bytes.length;
  }

  frame(): ScannedFrame {
    this.space();
    this.expect(OPEN_BRACE);
    let index: number | undefined;
    let events: ScannedEvent[] | null | undefined;
    if (!this.closes(CLOSE_BRACE)) {
      let seen = 0;
      for (;;) {
        const member = this.key();
        seen = once(seen, member);
        if (member === Member.Index) index = this.index();
        else if (member === Member.Events) events = this.nullOrArray(() => this.event());
        else this.value();
        if (!this.next(CLOSE_BRACE)) break;
      }
    }
    this.space();
    if (this.at !== this.length) throw UNSCANNABLE;
    return { Index: index ?? 0, Events: events ?? null };
  }

  /** null, or an array each of whose elements `element` reads (Events, FilterKeys). */
  private nullOrArray<T>(element: () => T): T[] | null {
    if (this.bytes[this.at] !== OPEN_BRACKET) {
      this.literal(NULL);
      return null;
    }
    this.at++;
    this.space();
    const elements: T[] = [];
    if (this.closes(CLOSE_BRACKET)) return elements;
    for (;;) {
      elements.push(element());
      if (!this.next(CLOSE_BRACKET)) return elements;
    }
  }

  private event(): ScannedEvent {
    this.expect(OPEN_BRACE);
    let topic: string | undefined;
    let type: string | undefined;
    let key: string | undefined;
    let namespace: string | undefined;
    let filterKeys: string[] | null | undefined;
    let index: number | undefined;
    let payload: string | null | undefined;
    if (!this.closes(CLOSE_BRACE)) {
      let seen = 0;
      for (;;) {
        const member = this.key();
        seen = once(seen, member);
        switch (member) {
          case Member.Topic:
            topic = this.string();
            break;
          case Member.Type:
            type = this.string();
            break;
          case Member.Key:
            key = this.string();
            break;
          case Member.Namespace:
            namespace = this.string();
            break;
          case Member.FilterKeys:
            filterKeys = this.nullOrArray(() => this.string());
            break;
          case Member.Index:
            index = this.index();
            break;
          case Member.Payload:
            payload = this.payload();
            break;
          default:
            this.value();
        }
        if (!this.next(CLOSE_BRACE)) break;
      }
    }
    if (topic === undefined || type === undefined || key === undefined || index === undefined) throw UNSCANNABLE;
    return { Topic: topic, Type: type, Key: key, Namespace: namespace ?? "", FilterKeys: filterKeys ?? null, Index: index, payloadJson: payload ?? null };
  }

  /** A member's key, named, and the colon after it; the scan is then at the member's value. */
  private key(): Member {
    const { bytes } = this;
    const start = this.at;
    if (bytes[start] !== QUOTE) throw UNSCANNABLE;
    const end = stringEnd(bytes, start);
    if (lastStringEscaped) throw UNSCANNABLE;
    this.at = end;
    this.space();
    this.expect(COLON);
    const length = end - start - 2;
    for (const [member, name] of MEMBERS) {
      if (name.length === length && sameBytes(bytes, start + 1, name)) return member;
    }
    return Member.Other;
  }

  /** A string value (an escaped one decoded by JSON.parse, once the scan has checked it). */
  private string(): string {
    const start = this.at;
    if (this.bytes[start] !== QUOTE) throw UNSCANNABLE;
    const end = stringEnd(this.bytes, start);
    this.at = end;
    return lastStringEscaped ? (JSON.parse(this.bytes.toString("utf8", start, end)) as string) : this.bytes.toString("utf8", start + 1, end - 1);
  }

  /** A non-negative safe integer, as JSON.parse reads the number. */
  private index(): number {
    const start = this.at;
    const end = numberEnd(this.bytes, start);
    const { bytes } = this;
    let value = 0;
    if (end - start <= 15) {
      // Plain digits (the only form Nomad writes) are summed; anything else is read by Number.
      for (let i = start; i < end; i++) {
        const c = bytes[i]!;
        if (c < ZERO || c > NINE) {
          value = Number(bytes.toString("latin1", start, end));
          break;
        }
        value = value * 10 + (c - ZERO);
      }
    } else {
      value = Number(bytes.toString("latin1", start, end));
    }
    if (!isIndex(value)) throw UNSCANNABLE;
    this.at = end;
    return value;
  }

  /** null or an object, whose text is kept as it is. */
  private payload(): string | null {
    const start = this.at;
    if (this.bytes[start] !== OPEN_BRACE) {
      this.literal(NULL);
      return null;
    }
    this.value();
    return this.bytes.toString("utf8", start, this.at);
  }

  /** Any JSON value, checked and skipped. */
  private value(): void {
    this.at = valueEnd(this.bytes, this.at);
  }

  private literal(word: Buffer): void {
    this.at = literalEnd(this.bytes, this.at, word);
  }

  private space(): void {
    const { bytes } = this;
    let i = this.at;
    while (isSpace(bytes[i])) i++;
    this.at = i;
  }

  private expect(c: number): void {
    if (this.bytes[this.at] !== c) throw UNSCANNABLE;
    this.at++;
    this.space();
  }

  /** At an empty container's closing character: consumes it. */
  private closes(close: number): boolean {
    if (this.bytes[this.at] !== close) return false;
    this.at++;
    return true;
  }

  /** After a member or element: true at a comma (consumed, with the space after it), false at `close` (consumed). */
  private next(close: number): boolean {
    this.space();
    const c = this.bytes[this.at];
    this.at++;
    if (c === COMMA) {
      this.space();
      return true;
    }
    if (c === close) return false;
    throw UNSCANNABLE;
  }
}

const TRUE = Buffer.from("true", "latin1");
const FALSE = Buffer.from("false", "latin1");
const NULL = Buffer.from("null", "latin1");

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** Whether the last string stringEnd scanned had an escape in it. */
let lastStringEscaped = false;

/**
 * The end (past the closing quote) of the string whose opening quote is at `start`,
 * checking what JSON allows in one: no control characters, only JSON's escapes.
 */
function stringEnd(bytes: Buffer, start: number): number {
  const length = bytes.length;
  let escaped = false;
  let i = start + 1;
  for (;;) {
    if (i >= length) throw UNSCANNABLE;
    const c = bytes[i]!;
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      const e = bytes[i + 1];
      if (e === 0x75 /* u */) {
        if (!isHex(bytes[i + 2]) || !isHex(bytes[i + 3]) || !isHex(bytes[i + 4]) || !isHex(bytes[i + 5])) throw UNSCANNABLE;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === SLASH || e === 0x62 /* b */ || e === 0x66 /* f */ || e === 0x6e /* n */ || e === 0x72 /* r */ || e === 0x74 /* t */) {
        i += 2;
      } else {
        throw UNSCANNABLE;
      }
      continue;
    }
    if (c < SPACE) throw UNSCANNABLE;
    i++;
  }
  lastStringEscaped = escaped;
  return i + 1;
}

/** The end of the number at `start`, by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function numberEnd(bytes: Buffer, start: number): number {
  let i = start;
  if (bytes[i] === MINUS) i++;
  if (bytes[i] === ZERO) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[++i]));
  else throw UNSCANNABLE;
  if (bytes[i] === DOT) {
    if (!isDigit(bytes[++i])) throw UNSCANNABLE;
    while (isDigit(bytes[++i]));
  }
  const e = bytes[i];
  if (e === 0x65 /* e */ || e === 0x45 /* E */) {
    const sign = bytes[++i];
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(bytes[i])) throw UNSCANNABLE;
    while (isDigit(bytes[++i]));
  }
  return i;
}

/**
 * `seen` with `member` added (a bit per member); a member already seen is left to the
 * general way, where the last one counts, as in JSON.parse.
 */
function once(seen: number, member: Member): number {
  if (member === Member.Other) return seen;
  const bit = 1 << member;
  if ((seen & bit) !== 0) throw UNSCANNABLE;
  return seen | bit;
}

/** Whether `bytes` holds `word` at `at`. */
function sameBytes(bytes: Buffer, at: number, word: Buffer): boolean {
  for (let i = 0; i < word.length; i++) if (bytes[at + i] !== word[i]) return false;
  return true;
}

function literalEnd(bytes: Buffer, at: number, word: Buffer): number {
  if (!sameBytes(bytes, at, word)) throw UNSCANNABLE;
  return at + word.length;
}

/** What the value walk expects next. */
const VALUE = 0;
const KEY = 1;
const AFTER_KEY = 2;
const AFTER_VALUE = 3;

/**
 * The end of the JSON value at `start`, checked against JSON's grammar: one loop over its
 * bytes with a stack of open containers (a payload is hundreds of tokens; a call per token
 * cost twice the time).
 */
function valueEnd(bytes: Buffer, start: number): number {
  const length = bytes.length;
  // true: an object is open; false: an array.
  const open: boolean[] = [];
  let expect = VALUE;
  let i = start;
  for (;;) {
    if (expect === AFTER_VALUE && open.length === 0) return i;
    if (i >= length) throw UNSCANNABLE;
    const c = bytes[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (expect === AFTER_VALUE) {
      const inObject = open[open.length - 1]!;
      if (c === COMMA) {
        expect = inObject ? KEY : VALUE;
        i++;
      } else if (c === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
        open.pop();
        i++;
      } else {
        throw UNSCANNABLE;
      }
    } else if (expect === KEY) {
      if (c !== QUOTE) throw UNSCANNABLE;
      i = stringEnd(bytes, i);
      expect = AFTER_KEY;
    } else if (expect === AFTER_KEY) {
      if (c !== COLON) throw UNSCANNABLE;
      i++;
      expect = VALUE;
    } else if (c === QUOTE) {
      i = stringEnd(bytes, i);
      expect = AFTER_VALUE;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const object = c === OPEN_BRACE;
      i++;
      while (isSpace(bytes[i])) i++;
      if (bytes[i] === (object ? CLOSE_BRACE : CLOSE_BRACKET)) {
        i++;
        expect = AFTER_VALUE;
      } else {
        open.push(object);
        expect = object ? KEY : VALUE;
      }
    } else if (c === 0x74 /* t */) {
      i = literalEnd(bytes, i, TRUE);
      expect = AFTER_VALUE;
    } else if (c === 0x66 /* f */) {
      i = literalEnd(bytes, i, FALSE);
      expect = AFTER_VALUE;
    } else if (c === 0x6e /* n */) {
      i = literalEnd(bytes, i, NULL);
      expect = AFTER_VALUE;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      i = numberEnd(bytes, i);
      expect = AFTER_VALUE;
    } else {
      throw UNSCANNABLE;
    }
  }
}
