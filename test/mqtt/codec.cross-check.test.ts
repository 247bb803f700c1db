/**
 * The codec cross-checked against mqtt-packet (the codec of mqtt.js), in both directions: our
 * bytes parse with mqtt-packet's parser to the same content, and mqtt-packet's bytes decode with
 * ours. Any difference is either a bug or listed below with the reason.
 */
import * as mqttPacket from "mqtt-packet";
import { decode, encode, type Packet, type ProtocolVersion } from "../../modules/mqtt/packet/index.js";
import { corpus } from "./corpus.js";
import { hex } from "./hex.js";
import { fromMP, toMP } from "./mqtt-packet-shapes.js";
import { randomBytes } from "../support/util.js";

function mpParse(bytes: Uint8Array, v: ProtocolVersion): unknown[] {
  const parser = mqttPacket.parser({ protocolVersion: v });
  const out: unknown[] = [];
  const errors: Error[] = [];
  parser.on("packet", (p) => out.push(p));
  parser.on("error", (e) => errors.push(e));
  parser.parse(Buffer.from(bytes));
  if (errors.length) throw errors[0];
  return out;
}

describe("cross-check with mqtt-packet", () => {
  // where mqtt-packet is stricter than MQTT 5 allows: it cannot parse an AUTH of remaining
  // length 0 (MQTT 5 3.15.2.1 allows it) and will not generate a password without a user name
  // (allowed in MQTT 5 3.1.2.9)
  const theyCannotParse = new Set(["auth v5 success"]);
  const theyCannotGenerate = new Set(["connect v5 password without user"]);
  const parsable = corpus.filter((c) => !theyCannotParse.has(c[0]));
  const generable = corpus.filter((c) => !theyCannotGenerate.has(c[0]));

  it.each(parsable)("our %s parses with mqtt-packet to the same content", (_name, v, packet) => {
    const parsed = mpParse(encode(packet, v), v);
    expect(parsed).toHaveLength(1);
    expect(hex(fromMP(parsed[0] as Record<string, unknown>, v))).toEqual(hex(packet));
  });

  it.each(generable)("mqtt-packet's %s decodes with ours", (_name, v, packet) => {
    const bytes = mqttPacket.generate(toMP(packet, v) as mqttPacket.Packet, { protocolVersion: v });
    expect(hex(decode(new Uint8Array(bytes), v))).toEqual(hex(packet));
  });

  it("random PUBLISH packets agree both ways", () => {
    for (let i = 0; i < 200; i++) {
      const v: ProtocolVersion = i % 2 ? 5 : 4;
      const r = randomBytes(8, i + 1);
      const qos = (r[0] % 3) as 0 | 1 | 2;
      const topic = ["a", "b/c", "ü/ö", "x".repeat(r[1] * 2 + 1), "dev/𝄞/t"][r[2] % 5] + "/" + i;
      const payload = randomBytes((r[3] << 4) | r[4], i);
      const packet: Packet = { type: "publish", topic, payload, qos, retain: !!(r[5] & 1), dup: qos > 0 && !!(r[5] & 2) };
      if (qos > 0) packet.packetId = (r[6] << 8) | r[7] || 1;
      if (v === 5 && r[5] & 4) packet.properties = { userProperties: [["i", String(i)]], messageExpiryInterval: i };
      const ours = encode(packet, v);
      expect(hex(fromMP(mpParse(ours, v)[0] as Record<string, unknown>, v))).toEqual(hex(packet));
      const theirs = new Uint8Array(mqttPacket.generate(toMP(packet, v) as mqttPacket.Packet, { protocolVersion: v }));
      expect(hex(decode(theirs, v))).toEqual(hex(packet));
      if (!packet.properties) expect(theirs).toEqual(ours); // property order is free; without properties the bytes are equal
    }
  });
});
