import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { webhookBody } from "../../shared/delivery/deliverer";
import { decodeDeliveryMessage, deliveryMessage, deliveryMessageBody, deliveryMessageJson } from "../../shared/delivery/delivery-message";
import { parseIngestEnvelope } from "../../shared/delivery/fanout";
import { jsonSourceOf, rememberJsonSource, toJson } from "../../shared/json/json-source";
import { decodeNomadFrame, nomadEventJson, rememberEventPayload, rememberFramePayloads, type NomadEvent, type NomadFrame } from "../../shared/nomad/event";
import { busDetailJson, gapMarker, type NomadBusDetail } from "../../shared/streamer/event-contract";

/**
 * Every place that writes an event back as JSON (the bus detail, the delivery message, the
 * webhook body) writes its payload as the text it was read from, so Nomad's int64 values
 * beyond 2^53 keep their digits; and for values built in JS, the same bytes as JSON.stringify.
 */

const FIXTURES = new URL("../fixtures/nomad/derived/", import.meta.url);
const fixtureLines = readdirSync(FIXTURES)
  .filter((name) => name.startsWith("frame_") || name === "stream_body.ndjson")
  .flatMap((name) =>
    readFileSync(new URL(name, FIXTURES), "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "" && line !== "{}")
      .map((line, i) => [`${name}:${i + 1}`, line] as const),
  );

/**
 * The fixtures' nanosecond times end in `00` (1517434161192946200): they went through a JS
 * number once, so they survive another round trip. Nomad's own have every digit; these
 * lines put them back (…946207), which a round trip through JSON.parse changes.
 */
const fullPrecisionLines = fixtureLines
  .map(([name, line]) => [`${name} (full-precision times)`, line.replace(/([:,[])(\d{17}00)(?=[,}\]])/g, (_m, before: string, digits: string) => `${before}${digits.slice(0, -2)}07`)] as const)
  .filter(([, line]) => JSON.stringify(JSON.parse(line)) !== line);

const PAYLOAD = '{"Job":{"ID":"web","ModifyTime":1763712000123456789,"JobModifyIndex":18446744073709551615,"Note":"\\u00e9 \\"1763712000123456789\\"","Ratio":1.5e300,"List":[-9223372036854775807,1.0]}}';

function decodeLine(line: string): NomadFrame {
  const decoded = decodeNomadFrame(JSON.parse(line));
  if ("issue" in decoded) throw new Error(decoded.issue.message);
  rememberFramePayloads(line, decoded.frame);
  return decoded.frame;
}

function event(payload: Record<string, unknown> | null): NomadEvent {
  return { Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: ["web", ""], Index: 42, Payload: payload };
}

describe("toJson", () => {
  it("writes a remembered object as its text, anything else as JSON.stringify does", () => {
    const parsed = JSON.parse(PAYLOAD) as Record<string, unknown>;
    expect(JSON.stringify(parsed)).not.toBe(PAYLOAD);
    expect(toJson(rememberJsonSource(parsed, PAYLOAD))).toBe(PAYLOAD);
    expect(jsonSourceOf(parsed)).toBe(PAYLOAD);
    expect(toJson({ a: [1, "x"] })).toBe('{"a":[1,"x"]}');
    expect(toJson(null)).toBe("null");
  });

  it("ties the text to the object, unseen: a copy, or a field given another value, does not carry it", () => {
    const parsed = rememberJsonSource(JSON.parse(PAYLOAD) as Record<string, unknown>, PAYLOAD);
    const withPayload = event(parsed);
    // Invisible to what looks at the value.
    expect(parsed).toEqual(JSON.parse(PAYLOAD));
    expect(Object.keys(parsed)).toEqual(["Job"]);
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(JSON.parse(PAYLOAD)));
    expect(toJson({ ...parsed })).toBe(JSON.stringify(parsed));
    expect(toJson(structuredClone(parsed))).toBe(JSON.stringify(parsed));
    expect(nomadEventJson({ ...withPayload, Payload: null })).toContain('"Payload":null}');
    expect(nomadEventJson({ ...withPayload })).toContain(`"Payload":${PAYLOAD}}`);
  });
});

describe("events written back as received", () => {
  it.each([...fixtureLines, ...fullPrecisionLines])("%s: a decoded frame's events are written byte for byte as Nomad sent them", (_name, line) => {
    const frame = decodeLine(line);
    expect(`{"Index":${frame.Index},"Events":[${frame.Events!.map(nomadEventJson).join(",")}]}`).toBe(line);
    expect(webhookBody(frame.Index, frame.Events!)).toBe(line);
  });

  it("several fixture frames carry full-precision times", () => {
    expect(fullPrecisionLines.length).toBeGreaterThanOrEqual(5);
  });

  it("a frame's payloads are found wherever the line puts them: whitespace, key order, a key given twice", () => {
    const line = `{ "Events" : [ {"Payload": ${PAYLOAD} , "Topic":"Job","Type":"T","Key":"k","Index":3}, {"Topic":"Node","Type":"T","Key":"n","Index":3,"Payload":{"a":1},"Payload":{"b":18446744073709551615}} ], "Index":3 }`;
    const frame = decodeLine(line);
    expect(frame.Events!.map((e) => nomadEventJson(e))).toEqual([
      `{"Topic":"Job","Type":"T","Key":"k","Namespace":"","FilterKeys":null,"Index":3,"Payload":${PAYLOAD}}`,
      '{"Topic":"Node","Type":"T","Key":"n","Namespace":"","FilterKeys":null,"Index":3,"Payload":{"b":18446744073709551615}}',
    ]);
  });

  it("the fan-out's ingest record: the detail is written with the payload as the record carried it", () => {
    const detail = `{"id":"42-x","cluster":"prod","frameIndex":42,"event":{"Topic":"Job","Type":"JobRegistered","Key":"web","Namespace":"default","FilterKeys":["web",""],"Index":42,"Payload":${PAYLOAD}}}`;
    const compact = `{"version":"0","id":"e1","detail-type":"Job","source":"nomad","account":"1","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":${detail}}`;
    expect(busDetailJson(parseIngestEnvelope(compact).detail)).toBe(detail);
    // Whitespace around the payload (a pretty-printing relay) does not reach the detail.
    const spaced = compact.replace(`"Payload":${PAYLOAD}`, `"Payload" :\n  ${PAYLOAD}\n`).replace('"detail":{', '"detail" : {');
    expect(busDetailJson(parseIngestEnvelope(spaced).detail)).toBe(detail);
  });

  it("the deliver path: a delivery message's payload reaches the webhook body and a redriven message as sent", () => {
    const eventJson = `{"Topic":"Job","Type":"JobRegistered","Key":"web","Namespace":"default","FilterKeys":null,"Index":42,"Payload":${PAYLOAD}}`;
    const body = deliveryMessageJson("sink", "42-x", `{"id":"42-x","cluster":"prod","frameIndex":42,"event":${eventJson},"payloadRef":{"bucket":"b","key":"k","sha256":"s","bytes":3}}`);
    const decoded = decodeDeliveryMessage(JSON.parse(body));
    if (!("message" in decoded)) throw new Error(decoded.problem);
    rememberEventPayload(body, ["detail", "event"], decoded.message.detail.event);
    expect(webhookBody(42, [decoded.message.detail.event])).toBe(`{"Index":42,"Events":[${eventJson}]}`);
    expect(deliveryMessageBody(decoded.message)).toBe(body);
    expect(deliveryMessageBody({ ...decoded.message, redriven: true })).toBe(`${body.slice(0, -1)},"redriven":true}`);
  });
});

describe("values built in JS are written as JSON.stringify writes them", () => {
  const detail: NomadBusDetail = { id: "7-abc", cluster: "prod eu", frameIndex: 7, event: event({ Job: { ID: "web", Meta: { "ü\"\n": [1, 2.5, null, true] } } }) };
  it.each([
    ["an event", () => [nomadEventJson(detail.event), JSON.stringify(detail.event)]],
    ["an event without payload or filter keys", () => [nomadEventJson({ ...detail.event, FilterKeys: null, Payload: null }), JSON.stringify({ ...detail.event, FilterKeys: null, Payload: null })]],
    ["a bus detail", () => [busDetailJson(detail), JSON.stringify(detail)]],
    ["a gap marker", () => [busDetailJson(gapMarker("c", 3, 9, "why")), JSON.stringify(gapMarker("c", 3, 9, "why"))]],
    ["a claim-checked detail", () => [busDetailJson({ ...detail, payloadRef: { bucket: "b", key: "k", sha256: "s", bytes: 3 } }), JSON.stringify({ ...detail, payloadRef: { bucket: "b", key: "k", sha256: "s", bytes: 3 } })]],
    ["a delivery message", () => [deliveryMessageBody(deliveryMessage("team-a", detail)), JSON.stringify(deliveryMessage("team-a", detail))]],
    ["a redriven delivery message", () => [deliveryMessageBody({ ...deliveryMessage("team-a", detail), redriven: true }), JSON.stringify({ ...deliveryMessage("team-a", detail), redriven: true })]],
    ["a webhook body", () => [webhookBody(9, [detail.event, gapMarker("c", 3, 9, "why").event]), JSON.stringify({ Index: 9, Events: [detail.event, gapMarker("c", 3, 9, "why").event] })]],
  ])("%s", (_name, pair) => {
    const [ours, stringified] = pair();
    expect(ours).toBe(stringified);
  });
});
