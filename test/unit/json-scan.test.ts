import { describe, expect, it } from "vitest";
import { skipSpace, spanAt, spansInElements, valueEnd, type JsonSpan } from "../../shared/json/json-scan";
import { Rng } from "../support/rng";

const SEED = Number(process.env.JSON_SCAN_SEED ?? 20261121);

function text(json: string, span: JsonSpan | undefined): string | undefined {
  return span === undefined ? undefined : json.slice(span.start, span.end);
}

/** The text of the value at `path`, as the scanner finds it. */
function at(json: string, path: readonly string[]): string | undefined {
  return text(json, spanAt(json, path));
}

describe("valueEnd", () => {
  it.each([
    ["a string", '"abc"'],
    ["a string with an escaped quote", '"a\\"b"'],
    ["a string ending in an escaped backslash", '"a\\\\"'],
    ["a string of backslashes and quotes", '"\\\\\\"\\\\"'],
    ["a string with structural characters", '"{[,]}:"'],
    ["a string with unicode escapes", '"\\u0022\\ud83d\\ude00"'],
    ["an integer beyond 2^53", "18446744073709551615"],
    ["a negative integer", "-9223372036854775808"],
    ["an exponent", "-1.5E+300"],
    ["a small fraction", "0.1000000000000000055511151231257827"],
    ["true", "true"],
    ["false", "false"],
    ["null", "null"],
    ["an empty object", "{}"],
    ["an empty array", "[]"],
    ["nested arrays and objects", '[{"a":[1,{"b":"]}"}],"c":{}},[[]],"x"]'],
    ["an object with whitespace", '{ "a" : [ 1 , 2 ] ,\n\t"b" : { } }'],
  ])("finds the end of %s", (_name, value) => {
    for (const after of ["", ",", "}", "]", " ", "\n"]) expect(valueEnd(`${value}${after}`, 0)).toBe(value.length);
    expect(valueEnd(`[${value}]`, 1)).toBe(value.length + 1);
  });

  it("ends on text that is not JSON instead of running on", () => {
    expect(valueEnd('"never closed', 0)).toBe(13);
    expect(valueEnd("{[{", 0)).toBe(3);
    expect(skipSpace(" \t\r\n", 0)).toBe(4);
  });
});

describe("spanAt", () => {
  it("finds a member at any depth, and the whole text for an empty path", () => {
    const json = '{"detail":{"id":"x","event":{"Topic":"Job","Payload":{"Job":{"ModifyTime":1763712000123456789}}}}}';
    expect(at(json, ["detail", "event", "Payload"])).toBe('{"Job":{"ModifyTime":1763712000123456789}}');
    expect(at(json, ["detail", "event", "Topic"])).toBe('"Job"');
    expect(at(json, ["detail", "id"])).toBe('"x"');
    expect(at(json, [])).toBe(json);
    expect(at(`  ${json}\n`, [])).toBe(json);
  });

  it("returns undefined for a missing member or a value on the way that is not an object", () => {
    const json = '{"a":{"b":1},"c":[{"d":2}],"e":"{\\"f\\":3}"}';
    expect(at(json, ["x"])).toBeUndefined();
    expect(at(json, ["a", "x"])).toBeUndefined();
    expect(at(json, ["a", "b", "x"])).toBeUndefined();
    expect(at(json, ["c", "d"])).toBeUndefined();
    expect(at(json, ["e", "f"])).toBeUndefined();
    expect(at("[1,2]", ["a"])).toBeUndefined();
    expect(at("{}", ["a"])).toBeUndefined();
  });

  it("is not fooled by keys and braces inside strings, or by the key at another depth", () => {
    const json = '{"s":"\\"Payload\\":1,}","t":"\\\\","x":{"Payload":"deeper"},"Payload":{"k":"}\\"]"}}';
    expect(at(json, ["Payload"])).toBe('{"k":"}\\"]"}');
    expect(at(json, ["x", "Payload"])).toBe('"deeper"');
    expect(at(json, ["t"])).toBe('"\\\\"');
  });

  it("reads a key written with escapes as JSON.parse does", () => {
    const json = '{"Payl\\u006fad":{"n":1},"Pay\\"load":2}';
    expect(at(json, ["Payload"])).toBe('{"n":1}');
    expect(at(json, ['Pay"load'])).toBe("2");
  });

  it("takes the last of a key given twice, as JSON.parse does", () => {
    expect(at('{"Payload":1,"Payload":2}', ["Payload"])).toBe("2");
    expect(JSON.parse('{"Payload":1,"Payload":2}').Payload).toBe(2);
    // A later parent replaces everything the earlier one held.
    const replaced = '{"detail":{"event":{"Payload":1}},"detail":{"other":true}}';
    expect(JSON.parse(replaced).detail.event).toBeUndefined();
    expect(at(replaced, ["detail", "event", "Payload"])).toBeUndefined();
    expect(at('{"detail":{"event":{"Payload":1}},"detail":{"event":{"Payload":[2]}}}', ["detail", "event", "Payload"])).toBe("[2]");
  });

  it("handles whitespace wherever JSON allows it", () => {
    const value = { detail: { event: { Topic: "Job", Payload: { a: [1, { b: null }], c: "x y" } } } };
    const pretty = JSON.stringify(value, null, "\t").replace(/\n/g, "\r\n");
    expect(JSON.parse(at(pretty, ["detail", "event", "Payload"])!)).toEqual(value.detail.event.Payload);
    expect(at('{ "a" :\n  -0.5e-3 \n}', ["a"])).toBe("-0.5e-3");
  });

  it("keeps negative, exponent and oversized numbers, and unicode, exactly as written", () => {
    const payload = '{"n":-9223372036854775807,"u":18446744073709551615,"e":1E400,"f":-0.000000000000000000001,"s":"é☃😀","x":"\\u00e9\\ud83d\\ude00"}';
    const json = `{"Index":3,"Events":[{"Topic":"Job","Payload":${payload}}]}`;
    const [span] = spansInElements(json, ["Events"], ["Payload"])!;
    expect(text(json, span)).toBe(payload);
    expect(Buffer.from(text(json, span)!, "utf8").equals(Buffer.from(payload, "utf8"))).toBe(true);
  });
});

describe("spansInElements", () => {
  it("finds the member in each element, in order, undefined where an element has none", () => {
    const json = '{"Index":9,"Events":[{"Payload":{"a":1}},{"Topic":"Node"},"not an object",{"Payload":null},{"Payload":[{"Payload":0}]}]}';
    expect(spansInElements(json, ["Events"], ["Payload"])!.map((s) => text(json, s))).toEqual(['{"a":1}', undefined, undefined, "null", '[{"Payload":0}]']);
  });

  it("returns [] for an empty array and undefined when there is no array", () => {
    expect(spansInElements('{"Events":[]}', ["Events"], ["Payload"])).toEqual([]);
    expect(spansInElements('{"Events":[ \n ]}', ["Events"], ["Payload"])).toEqual([]);
    expect(spansInElements('{"Events":null}', ["Events"], ["Payload"])).toBeUndefined();
    expect(spansInElements("{}", ["Events"], ["Payload"])).toBeUndefined();
    // The last Events counts.
    expect(spansInElements('{"Events":[{"Payload":1}],"Events":null}', ["Events"], ["Payload"])).toBeUndefined();
    expect(spansInElements('{"Events":null,"Events":[{"Payload":1}]}', ["Events"], ["Payload"])!.map((s) => text('{"Events":null,"Events":[{"Payload":1}]}', s))).toEqual(["1"]);
  });

  it("takes the last member of an element given twice", () => {
    const json = '{"Events":[{"Payload":1,"Payload":2},{"Payload":3}]}';
    expect(spansInElements(json, ["Events"], ["Payload"])!.map((s) => text(json, s))).toEqual(["2", "3"]);
  });

  it.each([
    ["strings full of escapes", 'é\\"{[\\\\'],
    // No backslash anywhere: nothing may search on to the end of the text per key (that was quadratic).
    ["no backslash at all", "é{[:,]}"],
  ])("reads a 10 MB line of thousands of events in one pass (%s)", (_name, piece) => {
    const payloads = Array.from({ length: 6_000 }, (_, i) => {
      const blob = piece.repeat(1_000 / piece.length) + "x".repeat(i % 997);
      return `{"Allocation":{"ID":"a${i}","CreateTime":${1763712000123456789n + BigInt(i)},"Blob":"${blob}","Deep":[[[${i}]]],"Neg":-${i}e-5,"K1":1,"K2":2,"K3":3}}`;
    });
    const json = `{"Index":77,"Events":[${payloads.map((p, i) => `{"Topic":"Allocation","Type":"AllocationUpdated","Key":"a${i}","Namespace":"default","FilterKeys":["j",""],"Index":77,"Payload":${p}}`).join(",")}]}`;
    expect(json.length).toBeGreaterThan(10_000_000);
    let started = performance.now();
    JSON.parse(json);
    const parseMs = performance.now() - started;
    started = performance.now();
    const spans = spansInElements(json, ["Events"], ["Payload"])!;
    const scanMs = performance.now() - started;
    expect(spans.map((s) => text(json, s))).toEqual(payloads);
    // Linear, and about as fast as JSON.parse (typically faster); a quadratic scan took 40 times as long.
    expect(scanMs).toBeLessThan(Math.max(100, 5 * parseMs));
  });
});

/** Random JSON text: every kind of value, unsafe integers, strings full of escapes and structure, keys given twice (`Pay\u006coad` is `Payload`), random whitespace. */
function randomJson(rng: Rng, depth: number): string {
  const ws = () => (rng.chance(0.2) ? rng.pick([" ", "\n", "\t", "\r\n", "  "]) : "");
  const roll = depth >= 4 ? rng.int(0, 3) : rng.int(0, 5);
  if (roll === 0) return rng.pick(["true", "false", "null", "0", "-0", "1e3", "-1.5E-7", "18446744073709551615", "-9223372036854775808", "1763712000123456789", "0.30000000000000004"]);
  if (roll === 1 || roll === 2) return JSON.stringify(rng.chars(rng.int(0, 12), 'ab9"\\{}[],:é☃\u0001 ')).replace(/é/g, () => (rng.chance(0.5) ? "\\u00e9" : "é"));
  if (roll === 3) return String(rng.int(-50, 50) * 10 ** rng.int(0, 3));
  if (roll === 4) return `[${ws()}${Array.from({ length: rng.int(0, 4) }, () => `${ws()}${randomJson(rng, depth + 1)}${ws()}`).join(",")}${ws()}]`;
  const keys = rng.some(["Payload", "event", "detail", "a", 'q\\"k', "Pay\\u006coad", "Events"], 0, 5);
  return `{${ws()}${keys.map((key) => `"${key}"${ws()}:${ws()}${randomJson(rng, depth + 1)}`).join(`${ws()},${ws()}`)}${ws()}}`;
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

describe(`agrees with JSON.parse on random JSON (seed ${SEED})`, () => {
  it("every path's span parses to the value JSON.parse finds there, and nothing is found where JSON.parse finds nothing", () => {
    const rng = new Rng(SEED);
    // Paths through `Payload` meet keys given twice (`Pay\u006coad`), where the later value replaces the earlier one's contents.
    const paths: string[][] = [["Payload"], ["event", "Payload"], ["detail", "event", "Payload"], ["a"], ['q"k'], ["Events"], ["a", "a", "a"], ["Payload", "a"], ["Payload", "Payload", "event"], ["event", "Payload", "a"]];
    let found = 0;
    for (let round = 0; round < 2_000; round++) {
      const json = randomJson(rng, 0);
      const parsed: unknown = JSON.parse(json);
      for (const path of paths) {
        const expected = valueAt(parsed, path);
        const span = at(json, path);
        if (expected === undefined) {
          expect(span, `${json} at ${path.join(".")}`).toBeUndefined();
        } else {
          found++;
          expect(span, `${json} at ${path.join(".")}`).toBeDefined();
          expect(JSON.parse(span!), `${json} at ${path.join(".")}`).toEqual(expected);
          expect(span, "no surrounding whitespace").toBe(span!.trim());
        }
      }
      for (const [arrayPath, memberPath] of [[["Events"], ["a"]], [["Payload"], ["Payload"]], [["a", "Events"], ["event", "a"]]] as const) {
        const elements = valueAt(parsed, arrayPath);
        const spans = spansInElements(json, arrayPath, memberPath);
        if (!Array.isArray(elements)) expect(spans, `${json} at ${arrayPath.join(".")}`).toBeUndefined();
        else expect(spans!.map((s) => (s === undefined ? undefined : JSON.parse(text(json, s)!))), `${json} at ${arrayPath.join(".")}[*].${memberPath.join(".")}`).toEqual(elements.map((e) => valueAt(e, memberPath)));
      }
    }
    expect(found).toBeGreaterThan(500);
  });
});
