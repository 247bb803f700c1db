/**
 * The MQTT codec on its own: round trips for every packet type in both versions, a streaming
 * decoder fed arbitrary chunks, the maximum packet size, malformed input with its reason code,
 * and what the encoder refuses. Engine-neutral (no Node APIs), so it can run on XS too; the
 * cross-check against mqtt-packet is in codec.cross-check.test.ts.
 */
import { PacketDecoder, decode, encode, type Packet, type ProtocolVersion } from "../../modules/mqtt/packet/index.js";
import { MqttError } from "../../modules/mqtt/errors.js";
import { corpus } from "./corpus.js";
import { hex } from "./hex.js";
import { joinAll } from "../support/util.js";

/** What a decode of `bytes` throws (fails the test if it does not). */
function decodeError(bytes: number[] | Uint8Array, v: ProtocolVersion = 5): MqttError {
  try {
    decode(Uint8Array.from(bytes), v);
  } catch (e) {
    expect(e).toBeInstanceOf(MqttError);
    return e as MqttError;
  }
  throw new Error("decode did not fail");
}

describe("round trips", () => {
  it.each(corpus)("%s", (_name, v, packet) => {
    const bytes = encode(packet, v);
    expect(hex(decode(bytes, v))).toEqual(hex(packet));
  });
});

describe("streaming decoder", () => {
  const stream = (v: ProtocolVersion) => corpus.filter((c) => c[1] === v && c[2].type !== "connect");
  for (const v of [4, 5] as const) {
    it(`v${v}: every packet back, in order, whatever the chunk sizes`, () => {
      const packets = stream(v).map((c) => c[2]);
      const all = joinAll(packets.map((p) => encode(p, v)));
      for (const sizes of [[1], [2, 3, 5], [7, 1, 1000], [all.length]]) {
        const d = new PacketDecoder({ protocolVersion: v });
        const out: Packet[] = [];
        let off = 0;
        for (let k = 0; off < all.length; k++) {
          const n = sizes[k % sizes.length];
          for (const p of d.feed(all.subarray(off, off + n))) out.push(p);
          off += n;
        }
        expect(hex(out)).toEqual(hex(packets));
        expect(d.buffered).toBe(0);
      }
    });
  }

  it("a payload decoded from the caller's chunk is a copy (the chunk may be reused)", () => {
    const bytes = encode({ type: "publish", topic: "t", payload: Uint8Array.of(1, 2, 3), qos: 0, retain: false, dup: false });
    const [p] = new PacketDecoder({ protocolVersion: 4 }).push(bytes);
    bytes.fill(0);
    expect((p as { payload: Uint8Array }).payload).toEqual(Uint8Array.of(1, 2, 3));
  });

  it("server side: adopts the version of the first CONNECT, and refuses anything else first", () => {
    const d = new PacketDecoder();
    const connect = corpus.find((c) => c[0] === "connect v5 full")![2];
    const sub = corpus.find((c) => c[0] === "subscribe v5")![2];
    expect(hex(d.push(joinAll([encode(connect, 5), encode(sub, 5)])))).toEqual(hex([connect, sub]));
    expect(d.protocolVersion).toBe(5);
    const e = (() => {
      try {
        new PacketDecoder().push(encode({ type: "pingreq" }));
      } catch (err) {
        return err as MqttError;
      }
    })();
    expect(e?.reasonCode).toBe(0x82);
  });
});

describe("long strings", () => {
  // A string's UTF-16 code units were made with one String.fromCharCode(...units) call per 1024
  // units: a call's arguments are on the stack, and on a device (384 slots, the strict XS run) a
  // topic of 200 characters overflowed it.
  // (not 65535 bytes: XS's charCodeAt is slow on long strings, and encoding reads them with it)
  const long = (unit: string) => unit.repeat(3000);
  const packet: Packet = {
    type: "publish",
    topic: long("t"),
    payload: Uint8Array.of(1),
    qos: 0,
    retain: false,
    dup: false,
    properties: { contentType: long("é"), responseTopic: long("€"), userProperties: [[long("😀"), "v"]] },
  };

  it("strings of thousands of characters, in 1- to 4-byte UTF-8 sequences, decode whole and streamed", () => {
    const bytes = encode(packet, 5);
    const check = (p: Packet) => {
      const q = p as typeof packet;
      expect(q.topic.length).toBe(3000);
      expect(q.topic === packet.topic).toBe(true);
      expect(q.properties!.contentType === packet.properties!.contentType).toBe(true);
      expect(q.properties!.responseTopic === packet.properties!.responseTopic).toBe(true);
      expect(q.properties!.userProperties![0][0] === packet.properties!.userProperties![0][0]).toBe(true);
    };
    check(decode(bytes, 5));
    const d = new PacketDecoder({ protocolVersion: 5 });
    const out: Packet[] = [];
    for (let off = 0; off < bytes.length; off += 4096) for (const p of d.feed(bytes.subarray(off, off + 4096))) out.push(p);
    expect(out.length).toBe(1);
    check(out[0]);
  });
});

describe("maximum packet size", () => {
  it("refuses an oversize packet from its header, before its body arrives (0x95)", () => {
    const big = encode({ type: "publish", topic: "t", payload: new Uint8Array(5000), qos: 0, retain: false, dup: false }, 5);
    const d = new PacketDecoder({ protocolVersion: 5, maxPacketSize: 4096 });
    let err: MqttError | undefined;
    try {
      d.push(big.subarray(0, 3)); // type byte and 2-byte remaining length only
    } catch (e) {
      err = e as MqttError;
    }
    expect(err).toBeInstanceOf(MqttError);
    expect(err!.code).toBe("packettoolarge");
    expect(err!.reasonCode).toBe(0x95);
    expect(() => d.push(new Uint8Array([0xc0, 0]))).toThrow(err!); // stays failed
  });

  it("accepts a packet of exactly the maximum size", () => {
    const p: Packet = { type: "publish", topic: "t", payload: new Uint8Array(100), qos: 0, retain: false, dup: false };
    const bytes = encode(p, 4);
    expect(new PacketDecoder({ protocolVersion: 4, maxPacketSize: bytes.length }).push(bytes)).toEqual([p]);
    expect(() => new PacketDecoder({ protocolVersion: 4, maxPacketSize: bytes.length - 1 }).push(bytes)).toThrow(/maximum packet size/);
  });
});

describe("malformed packets and protocol errors", () => {
  const MALFORMED = 0x81;
  const PROTOCOL = 0x82;
  const cases: [string, number[], number, ProtocolVersion?][] = [
    ["remaining length over 4 bytes", [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], MALFORMED],
    ["reserved packet type 0", [0x00, 0x00], MALFORMED],
    ["PUBREL with flags 0", [0x60, 0x02, 0x00, 0x01], MALFORMED],
    ["PUBACK with flags 2", [0x42, 0x02, 0x00, 0x01], MALFORMED],
    ["SUBSCRIBE with flags 0", [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00], MALFORMED, 4],
    ["PINGREQ with flags 1", [0xc1, 0x00], MALFORMED],
    ["PINGREQ with a body", [0xc0, 0x01, 0x00], MALFORMED],
    ["PUBLISH with QoS 3", [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], MALFORMED, 4],
    ["PUBLISH QoS 0 with DUP", [0x38, 0x03, 0x00, 0x01, 0x61], PROTOCOL, 4],
    ["topic with an overlong UTF-8 form", [0x30, 0x04, 0x00, 0x02, 0xc0, 0xaf], MALFORMED, 4],
    ["topic with an encoded surrogate", [0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80], MALFORMED, 4],
    ["topic with U+0000", [0x30, 0x04, 0x00, 0x02, 0x61, 0x00], MALFORMED, 4],
    ["topic with a truncated sequence", [0x30, 0x04, 0x00, 0x02, 0x61, 0xe2], MALFORMED, 4],
    ["topic with a byte 0xff", [0x30, 0x03, 0x00, 0x01, 0xff], MALFORMED, 4],
    ["string longer than the packet", [0x30, 0x03, 0x00, 0x05, 0x61], MALFORMED, 4],
    ["topic with a wildcard", [0x30, 0x03, 0x00, 0x01, 0x23], 0x90, 4],
    ["v4 PUBLISH with an empty topic", [0x30, 0x02, 0x00, 0x00], MALFORMED, 4],
    ["packet identifier 0", [0x40, 0x02, 0x00, 0x00], PROTOCOL],
    ["unknown property 0x05", [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x05, 0x00], MALFORMED],
    ["property id 0x7f", [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x7f, 0x00], MALFORMED],
    ["property not allowed in PUBLISH (session expiry)", [0x30, 0x09, 0x00, 0x01, 0x61, 0x05, 0x11, 0, 0, 0, 1], MALFORMED],
    ["duplicate message expiry interval", [0x30, 0x0e, 0x00, 0x01, 0x61, 0x0a, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2], PROTOCOL],
    ["duplicate reason string", [0x40, 0x0a, 0x00, 0x01, 0x00, 0x06, 0x1f, 0x00, 0x00, 0x1f, 0x00, 0x00], PROTOCOL],
    ["payload format indicator 2", [0x30, 0x06, 0x00, 0x01, 0x61, 0x02, 0x01, 0x02], PROTOCOL],
    ["topic alias 0", [0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x23, 0x00, 0x00], PROTOCOL],
    ["property length past the end", [0x30, 0x05, 0x00, 0x01, 0x61, 0x09, 0x01], MALFORMED],
    ["a property value cut short", [0x30, 0x07, 0x00, 0x01, 0x61, 0x03, 0x02, 0x00, 0x00], MALFORMED],
    ["subscription id 0 in SUBSCRIBE", [0x82, 0x08, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 0x61], PROTOCOL],
    ["SUBSCRIBE with QoS 3", [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x03], MALFORMED],
    ["SUBSCRIBE with reserved option bits", [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x40], MALFORMED],
    ["v4 SUBSCRIBE with v5 option bits", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x04], MALFORMED, 4],
    ["SUBSCRIBE with retain handling 3", [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x30], PROTOCOL],
    ["SUBSCRIBE without filters", [0x82, 0x03, 0x00, 0x01, 0x00], PROTOCOL],
    ["UNSUBSCRIBE without filters", [0xa2, 0x02, 0x00, 0x01], PROTOCOL, 4],
    ["SUBACK without codes", [0x90, 0x03, 0x00, 0x01, 0x00], PROTOCOL],
    ["v4 SUBACK with code 3", [0x90, 0x03, 0x00, 0x01, 0x03], MALFORMED, 4],
    ["PUBACK with an invalid reason code", [0x40, 0x03, 0x00, 0x01, 0x05], MALFORMED],
    ["v4 PUBACK with a reason code", [0x40, 0x03, 0x00, 0x01, 0x00], MALFORMED, 4],
    ["v4 CONNACK with reserved flags", [0x20, 0x02, 0x02, 0x00], MALFORMED, 4],
    ["v4 CONNACK with return code 6", [0x20, 0x02, 0x00, 0x06], MALFORMED, 4],
    ["refusing CONNACK with session present", [0x20, 0x03, 0x01, 0x87, 0x00], MALFORMED],
    ["v4 AUTH", [0xf0, 0x00], MALFORMED, 4],
    ["DISCONNECT with trailing bytes", [0xe0, 0x03, 0x00, 0x00, 0x00], MALFORMED],
    ["CONNECT with the reserved flag", [0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x03, 0, 10, 0, 0], MALFORMED, 4],
    ["CONNECT with will QoS 3", [0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x1e, 0, 10, 0, 0], MALFORMED, 4],
    ["CONNECT with will QoS but no will", [0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x0a, 0, 10, 0, 0], MALFORMED, 4],
    ["CONNECT of protocol level 3", [0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 3, 0x02, 0, 10, 0, 0], 0x84, 4],
    // what decode() (one whole packet) refuses that the streaming decoder would wait for or read on
    ["no bytes", [], MALFORMED],
    ["remaining length cut short", [0x30, 0x80], MALFORMED, 4],
    ["body cut short", [0x30, 0x05, 0x00, 0x01, 0x61], MALFORMED, 4],
    ["bytes after the packet", [0xc0, 0x00, 0x00], MALFORMED],
    ["a second packet after the packet", [0xc0, 0x00, 0xc0, 0x00], MALFORMED],
  ];
  it.each(cases)("%s", (_name, bytes, reasonCode, v = 5) => {
    const e = decodeError(bytes, v);
    expect(e.reasonCode).toBe(reasonCode);
    expect(e.code).toBe(reasonCode === MALFORMED ? "malformed" : "protocolerror");
    expect(e.message).toMatch(/0x[0-9a-f]{2} /);
  });

  it("packets before a bad one in the same chunk are delivered, then the error; the decoder stays failed", () => {
    const d = new PacketDecoder({ protocolVersion: 4 });
    const good = encode({ type: "puback", packetId: 5, reasonCode: 0 }, 4);
    const seen: Packet[] = [];
    expect(() => {
      for (const p of d.feed(joinAll([good, Uint8Array.of(0x36, 0x00)]))) seen.push(p);
    }).toThrow(/QoS 3/);
    expect(seen).toEqual([{ type: "puback", packetId: 5, reasonCode: 0 }]);
    expect(() => d.push(good)).toThrow(/QoS 3/);
  });

  it("a truncated packet is not an error until it completes (it is just buffered)", () => {
    const d = new PacketDecoder({ protocolVersion: 4 });
    expect(d.push(Uint8Array.of(0x30, 0x80))).toEqual([]);
    expect(d.buffered).toBe(2);
  });
});

describe("encoder refuses what cannot be sent", () => {
  const pub = (over: Partial<Packet & { type: "publish" }>): Packet =>
    ({ type: "publish", topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false, ...over }) as Packet;
  it.each([
    ["a wildcard in a topic name", pub({ topic: "a/+" }), 4],
    ["an empty topic in v4", pub({ topic: "" }), 4],
    ["an empty topic without alias in v5", pub({ topic: "" }), 5],
    ["QoS 3", pub({ qos: 3 as 0 }), 4],
    ["QoS 1 without a packet id", pub({ qos: 1 }), 4],
    ["packet id 65536", pub({ qos: 1, packetId: 65536 }), 4],
    ["DUP at QoS 0", pub({ dup: true }), 4],
    ["properties in v4", pub({ properties: { contentType: "x" } }), 4],
    ["a property not allowed in PUBLISH", pub({ properties: { sessionExpiryInterval: 1 } }), 5],
    ["a byte flag out of range", pub({ properties: { payloadFormatIndicator: 2 as 1 } }), 5],
    ["U+0000 in a topic", pub({ topic: "a\u0000b" }), 4],
    ["an unpaired surrogate", pub({ topic: "a\ud800" }), 4],
    ["a topic over 65535 bytes", pub({ topic: "€".repeat(21846) }), 4],
    ["a filter with # in the middle", { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a/#/b", qos: 0 }] } as Packet, 4],
    ["a filter with a partial +", { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a/b+", qos: 0 }] } as Packet, 4],
    [
      "v5 subscription options in v4",
      { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0, noLocal: true }] } as Packet,
      4,
    ],
    ["AUTH in v4", { type: "auth", reasonCode: 0 } as Packet, 4],
  ] as [string, Packet, ProtocolVersion][])("%s", (_n, packet, v) => {
    expect(() => encode(packet, v)).toThrow(expect.objectContaining({ code: "incorrectuse" }));
  });
});
