import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEventFactory, DEFAULT_FIXTURES_DIR } from "../../infra/local/nomad/fixture-frames";
import { jsonSourceOf } from "../../shared/json/json-source";
import { decodeNomadFrame, rememberFramePayloads, type NomadFrame } from "../../shared/nomad/event";
import { parsedFrame, scanFrame, type ScannedFrame } from "../../shared/nomad/frame-scan";
import { parseStreamLine, StreamDecodeError, StreamErrorTail } from "../../shared/nomad/stream-client";
import { busEntry, busEntryOfScanned } from "../../shared/streamer/event-contract";

/**
 * The scan must read every line it accepts exactly as the general way does (JSON.parse,
 * decodeNomadFrame, payload text from the line), and accept no line that way rejects.
 */
function reference(line: string): { frame: NomadFrame } | { rejected: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { rejected: `not JSON: ${(error as Error).message}` };
  }
  const decoded = decodeNomadFrame(value);
  if ("issue" in decoded) return { rejected: `not a frame: ${decoded.issue.path} ${decoded.issue.message}` };
  rememberFramePayloads(line, decoded.frame);
  return { frame: decoded.frame };
}

/** The reference frame in the scan's shape: each payload's text as cut from the line. */
function expected(frame: NomadFrame): ScannedFrame {
  return {
    Index: frame.Index,
    Events:
      frame.Events?.map((e) => ({ Topic: e.Topic, Type: e.Type, Key: e.Key, Namespace: e.Namespace, FilterKeys: e.FilterKeys, Index: e.Index, payloadJson: e.Payload === null ? null : (jsonSourceOf(e.Payload) ?? "(no text)") })) ??
      null,
  };
}

function scan(line: string): ScannedFrame | undefined {
  return scanFrame(Buffer.from(line, "utf8"));
}

const fixtureLines = (() => {
  const dir = join(DEFAULT_FIXTURES_DIR, "derived");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".ndjson"))
    .flatMap((name) =>
      readFileSync(join(dir, name), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => [name, line] as const),
    );
})();

const factory = createEventFactory({ fixturesDir: null });
const event = { Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: ["web"], Index: 7, Payload: { Job: { ID: "web", Count: 3, Meta: null, Up: true, Down: false, Ratio: -1.5e-3 } } };

describe("scanFrame", () => {
  it("reads the Nomad fixture frames as the general way does", () => {
    expect(fixtureLines.length).toBeGreaterThan(10);
    for (const [name, line] of fixtureLines) {
      const ref = reference(line);
      if (!("frame" in ref)) throw new Error(`${name}: fixture rejected (${ref.rejected})`);
      expect(scan(line), name).toEqual(expected(ref.frame));
    }
  });

  it.each([
    ["a heartbeat", "{}"],
    ["a heartbeat with spaces", " { } "],
    ["null Events", '{"Index":3,"Events":null}'],
    ["empty Events", '{"Index":3,"Events":[]}'],
    ["defaults: Namespace, FilterKeys and Payload missing", '{"Index":7,"Events":[{"Topic":"Node","Type":"NodeRegistration","Key":"n1","Index":7}]}'],
    ["null FilterKeys and Payload", '{"Index":7,"Events":[{"Topic":"Node","Type":"NodeDrain","Key":"n1","Namespace":"","FilterKeys":null,"Index":7,"Payload":null}]}'],
    ["empty FilterKeys and payload", '{"Index":7,"Events":[{"Topic":"Job","Type":"JobRegistered","Key":"j","FilterKeys":[],"Index":7,"Payload":{}}]}'],
    ["members in another order", '{"Events":[{"Payload":{"a":1},"Index":7,"Key":"k","Type":"T","Topic":"Job","Namespace":"ns"}],"Index":7}'],
    ["whitespace between every token", ' {\n\t"Index" : 7 ,\r\n "Events" : [ { "Topic" : "Job" , "Type" : "T" , "Key" : "k" , "FilterKeys" : [ "a" , "b" ] , "Index" : 7 , "Payload" : { "a" : [ 1 , { } , [ ] ] } } ] } \n'],
    ["unknown members of every kind", '{"Extra":{"x":[1,"s",true,false,null]},"Index":7,"More":[],"Events":[{"New":-0.5e+10,"Topic":"Job","Type":"T","Key":"k","Index":7,"Later":"x"}]}'],
    ["escapes in the fields", '{"Index":7,"Events":[{"Topic":"Job","Type":"T","Key":"a\\"b\\\\c\\/d\\u00e9\\n\\ud83d\\ude00","Namespace":"n\\ts","FilterKeys":["\\u0041"],"Index":7}]}'],
    ["UTF-8 in fields and payload", '{"Index":7,"Events":[{"Topic":"Job","Type":"T","Key":"café-🚀","Index":7,"Payload":{"Name":"日本語","Emoji":"🚀"}}]}'],
    ["int64 values in the payload", '{"Index":7,"Events":[{"Topic":"Job","Type":"T","Key":"k","Index":7,"Payload":{"SubmitTime":1763712000123456789,"Hash":18446744073709551615}}]}'],
    ["an Index written with an exponent", '{"Index":7e0,"Events":[{"Topic":"Job","Type":"T","Key":"k","Index":1.5e1}]}'],
    ["a negative zero Index", '{"Index":-0,"Events":null}'],
    ["a frame of several events", JSON.stringify({ Index: 9, Events: [event, { ...event, Key: "api" }, { ...event, Type: "JobDeregistered", Payload: null }] })],
    ["a frame from the event factory", (() => {
      const events = factory.allocationUpdated({ allocId: "a1", jobId: "j1", namespace: "default" })[0]!;
      return JSON.stringify({ Index: 11, Events: events.map((e) => ({ ...e, Index: 11 })) });
    })()],
  ])("reads %s as the general way does", (_name, line) => {
    const ref = reference(line);
    if (!("frame" in ref)) throw new Error(`rejected: ${ref.rejected}`);
    expect(scan(line)).toEqual(expected(ref.frame));
  });

  it.each([
    ["a key written with escapes", '{"Index":7,"Ev\\u0065nts":null}'],
    ["a member given twice", '{"Index":7,"Index":8}'],
    ["an event member given twice", '{"Index":7,"Events":[{"Topic":"Job","Topic":"Node","Type":"T","Key":"k","Index":7}]}'],
  ])("leaves %s to the general way, which reads it", (_name, line) => {
    expect(scan(line)).toBeUndefined();
    const ref = reference(line);
    if (!("frame" in ref)) throw new Error(`rejected: ${ref.rejected}`);
    expect(parseStreamLine(Buffer.from(line))).toEqual(expected(ref.frame));
  });

  it.each([
    ["a blank line", "   ", undefined],
    ["Nomad's mid-stream error text", "rpc error: Permission denied", StreamErrorTail],
    ["a cut-off frame", '{"Index":7,"Events":[{"Topic":"Job"', StreamErrorTail],
    ["a frame of the wrong shape", '{"Index":7,"Events":[{"Topic":5,"Type":"T","Key":"k","Index":7}]}', StreamDecodeError],
    ["a negative Index", '{"Index":-1}', StreamDecodeError],
    ["an Index beyond 2^53", '{"Index":9007199254740993}', StreamDecodeError],
    ["a payload that is an array", '{"Index":7,"Events":[{"Topic":"Job","Type":"T","Key":"k","Index":7,"Payload":[]}]}', StreamDecodeError],
  ])("rejects %s as the general way does", (_name, line, error) => {
    expect(scan(line)).toBeUndefined();
    if (error === undefined) expect(parseStreamLine(Buffer.from(line))).toBeUndefined();
    else expect(() => parseStreamLine(Buffer.from(line))).toThrow(error);
  });

  /**
   * Every cut and every single-byte change (to each JSON delimiter and a few other bytes)
   * of real frames: whatever the scan accepts, the general way accepts too, with the same
   * reading. Both kinds of outcome must occur, or the fuzz proves nothing.
   */
  it("never accepts what the general way rejects, nor reads anything differently (cuts and byte changes of real frames)", () => {
    const bases = [
      '{"Index":7,"Events":[{"Topic":"Job","Type":"T","Key":"a\\"b","Namespace":"ns","FilterKeys":["x","y"],"Index":7,"Payload":{"a":[1,-2.5e3,true,false,null,{"b":"c\\u00e9"}],"d":{}}}]}',
      fixtureLines.find(([name]) => name.includes("evaluation"))![1],
    ];
    const replacements = [..."{}[]\":,\\ 0123456789-+.eEtrufalsn\t\nx", "\u0001", "é"];
    let accepted = 0;
    let rejected = 0;
    const check = (line: string) => {
      const scanned = scan(line);
      const ref = reference(line);
      if ("frame" in ref) {
        accepted++;
        if (scanned !== undefined) expect(scanned, line).toEqual(expected(ref.frame));
      } else {
        rejected++;
        expect(scanned, `${line} (${ref.rejected})`).toBeUndefined();
      }
    };
    for (const base of bases) {
      for (let cut = 0; cut < base.length; cut++) check(base.slice(0, cut));
      // Changes across the whole of the short frame; every 7th position of the long one.
      const step = base.length > 500 ? 7 : 1;
      for (let at = 0; at < base.length; at += step) {
        for (const r of replacements) if (r !== base[at]) check(base.slice(0, at) + r + base.slice(at + 1));
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(1_000);
  });
});

describe("busEntryOfScanned", () => {
  it("writes the same bytes as busEntry does for the event parsed", () => {
    for (const [name, line] of fixtureLines) {
      const scanned = scan(line)!;
      const parsed = parsedFrame(scanned);
      scanned.Events?.forEach((event, i) => {
        const fromScan = busEntryOfScanned("bus", `id-${i}`, "prod", scanned.Index, event);
        const fromParsed = busEntry("bus", { id: `id-${i}`, cluster: "prod", frameIndex: scanned.Index, event: parsed.Events![i]! });
        expect(fromScan, name).toEqual(fromParsed);
        // Every digit as Nomad sent it: the payload's text is the line's own.
        if (event.payloadJson !== null) expect(fromScan.Detail).toContain(event.payloadJson);
      });
    }
  });

  it("with a claim check's reference, writes the same bytes as busEntry does for the offloaded detail", () => {
    const [name, line] = fixtureLines[0]!;
    const scanned = scan(line)!;
    const event = scanned.Events![0]!;
    const payloadRef = { bucket: "payloads", key: `payloads/prod/id-0.json`, sha256: "ab".repeat(32), bytes: event.payloadJson?.length ?? 4 };
    const fromScan = busEntryOfScanned("bus", "id-0", "prod", scanned.Index, event, payloadRef);
    const offloaded = busEntry("bus", { id: "id-0", cluster: "prod", frameIndex: scanned.Index, event: { ...parsedFrame(scanned).Events![0]!, Payload: null }, payloadRef });
    expect(fromScan, name).toEqual(offloaded);
    expect(JSON.parse(fromScan.Detail)).toMatchObject({ event: { Payload: null }, payloadRef });
  });
});
