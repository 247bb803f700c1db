/**
 * Packet → bytes. Each packet is measured first and then written into one buffer of exactly its
 * size (strings are written straight into it). Anything that cannot be sent as asked — a QoS
 * outside 0..2, a missing packet identifier, a wildcard in a topic name, a property the packet
 * does not allow, a string over 65535 bytes — throws an `MqttError` with code `incorrectuse`.
 */
import { MqttError } from "../errors.js";
import { propertiesLength, stringSize, writeProperties, writeString, type PropertyContext } from "./properties.js";
import {
  MAX_REMAINING_LENGTH,
  PACKET_CODES,
  type AckPacket,
  type ConnackPacket,
  type ConnectPacket,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type SubackPacket,
  type SubscribePacket,
  type UnsubackPacket,
  type UnsubscribePacket,
} from "./types.js";
import { varintLength, writeVarint } from "./varint.js";

const bad = (detail: string) => new MqttError("incorrectuse", detail);

/** Encodes `packet` for protocol version `version` (4: MQTT 3.1.1, 5: MQTT 5). */
export function encode(packet: Packet, version: ProtocolVersion = 4): Uint8Array {
  if (version !== 4 && version !== 5) throw bad(`unsupported protocol version ${version}`);
  switch (packet.type) {
    case "connect":
      return encodeConnect(packet);
    case "connack":
      return encodeConnack(packet, version);
    case "publish":
      return encodePublish(packet, version);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return encodeAck(packet, version);
    case "subscribe":
      return encodeSubscribe(packet, version);
    case "suback":
      return encodeSuback(packet, version);
    case "unsubscribe":
      return encodeUnsubscribe(packet, version);
    case "unsuback":
      return encodeUnsuback(packet, version);
    case "pingreq":
    case "pingresp":
      return new Uint8Array([PACKET_CODES[packet.type] << 4, 0]);
    case "disconnect":
    case "auth":
      if (packet.type === "auth" && version !== 5) throw bad("AUTH exists in MQTT 5 only");
      return encodeReasonOnly(packet.type, packet.reasonCode, packet.properties, version);
    default:
      throw bad(`unknown packet type ${(packet as { type: unknown }).type}`);
  }
}

// ------------------------------------------------------------------ helpers

/** Allocates the packet with its fixed header; returns the buffer and the offset of the body. */
function start(type: number, flags: number, remaining: number): [Uint8Array, number] {
  // the Remaining Length is a Variable Byte Integer: at most 268435455 (MQTT 5 §1.5.5, 3.1.1 §2.2.3)
  if (remaining > MAX_REMAINING_LENGTH) throw bad(`packet of ${remaining} bytes is larger than MQTT allows`);
  const buf = new Uint8Array(1 + varintLength(remaining) + remaining);
  buf[0] = (type << 4) | flags;
  return [buf, writeVarint(remaining, buf, 1)];
}

function u16(n: number, buf: Uint8Array, off: number): number {
  buf[off] = n >> 8;
  buf[off + 1] = n & 0xff;
  return off + 2;
}

function binary(b: Uint8Array, buf: Uint8Array, off: number): number {
  off = u16(b.length, buf, off);
  buf.set(b, off);
  return off + b.length;
}

function binarySize(b: Uint8Array, what: string): number {
  if (!(b instanceof Uint8Array)) throw bad(`${what} must be a Uint8Array`);
  if (b.length > 0xffff) throw bad(`${what} is longer than 65535 bytes`);
  return 2 + b.length;
}

function checkQoS(qos: number, what: string): void {
  // QoS 3 is reserved [MQTT-3.3.1-4] (in a will: MQTT 5 [MQTT-3.1.2-12], 3.1.1 [MQTT-3.1.2-14])
  if (qos !== 0 && qos !== 1 && qos !== 2) throw bad(`${what} QoS must be 0, 1 or 2 (got ${qos})`);
}

function checkPacketId(id: number | undefined, what: string): number {
  // non-zero: MQTT 5 [MQTT-2.2.1-3], [MQTT-2.2.1-4]; 3.1.1 [MQTT-2.3.1-1]
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff)
    throw bad(`${what} needs a packet identifier 1..65535 (got ${id})`);
  return id;
}

/** Size of a property block with its length prefix (0 in 3.1.1, where none may be given). */
function propsBlock(props: Properties | undefined, context: PropertyContext, version: ProtocolVersion): number {
  if (version !== 5) {
    if (props && Object.values(props).some((v) => v !== undefined)) throw bad(`properties need MQTT 5 (${context})`);
    return 0;
  }
  const n = propertiesLength(props, context);
  return varintLength(n) + n;
}

/** A topic filter: "#" only as the last level, "+" only as a whole level. */
export function checkTopicFilter(filter: string): void {
  // at least one character [MQTT-4.7.3-1]
  if (typeof filter !== "string" || filter.length === 0) throw bad("a topic filter must be a non-empty string");
  const levels = filter.split("/");
  levels.forEach((level, i) => {
    // MQTT 5 §4.7.1.2, §4.7.1.3; 3.1.1: "#" alone and last [MQTT-4.7.1-2], "+" a whole level [MQTT-4.7.1-3]
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1))
      throw bad(`"#" must be the last level of a topic filter on its own: "${filter}"`);
    if (level.includes("+") && level !== "+") throw bad(`"+" must be a whole level of a topic filter: "${filter}"`);
  });
}

function checkTopicName(topic: string, allowEmpty: boolean): void {
  if (typeof topic !== "string") throw bad("a topic name must be a string");
  // at least one character [MQTT-4.7.3-1], unless MQTT 5 sends a Topic Alias instead (§3.3.2.1)
  if (topic.length === 0 && !allowEmpty) throw bad("a topic name must not be empty");
  // no wildcards in a topic name [MQTT-3.3.2-2] (3.1.1 also [MQTT-4.7.1-1])
  if (topic.includes("+") || topic.includes("#")) throw bad(`a topic name must not contain wildcards: "${topic}"`);
}

// ------------------------------------------------------------------ packets

function encodeConnect(p: ConnectPacket): Uint8Array {
  const v = p.protocolVersion;
  if (v !== 4 && v !== 5) throw bad(`unsupported protocol version ${v}`);
  if (!Number.isInteger(p.keepalive) || p.keepalive < 0 || p.keepalive > 0xffff) throw bad("keepalive must be 0..65535 seconds");
  // 3.1.1 [MQTT-3.1.2-22]: a password only with a user name
  if (v === 4 && p.password !== undefined && p.username === undefined) throw bad("MQTT 3.1.1 needs a user name to send a password");
  let n = 6 + 1 + 1 + 2; // "MQTT", level, flags, keepalive
  let propsLen = 0;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, "connect");
    n += varintLength(propsLen) + propsLen;
  } else propsBlock(p.properties, "connect", v);
  n += stringSize(p.clientId ?? "", "the client identifier");
  const w = p.will;
  let willPropsLen = 0;
  if (w) {
    checkQoS(w.qos, "the will");
    checkTopicName(w.topic, false);
    if (v === 5) {
      willPropsLen = propertiesLength(w.properties, "will");
      n += varintLength(willPropsLen) + willPropsLen;
    } else propsBlock(w.properties, "will", v);
    n += stringSize(w.topic, "the will topic") + binarySize(w.payload, "the will payload");
  }
  if (p.username !== undefined) n += stringSize(p.username, "the user name");
  if (p.password !== undefined) n += binarySize(p.password, "the password");

  const [buf, body] = start(1, 0, n);
  let off = writeString("MQTT", buf, body);
  buf[off++] = v;
  let flags = p.cleanStart ? 0x02 : 0;
  if (w) flags |= 0x04 | (w.qos << 3) | (w.retain ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  buf[off++] = flags;
  off = u16(p.keepalive, buf, off);
  if (v === 5) off = writeProperties(p.properties, propsLen, buf, off);
  off = writeString(p.clientId ?? "", buf, off);
  if (w) {
    if (v === 5) off = writeProperties(w.properties, willPropsLen, buf, off);
    off = writeString(w.topic, buf, off);
    off = binary(w.payload, buf, off);
  }
  if (p.username !== undefined) off = writeString(p.username, buf, off);
  if (p.password !== undefined) off = binary(p.password, buf, off);
  return buf;
}

function encodeConnack(p: ConnackPacket, v: ProtocolVersion): Uint8Array {
  const code = p.reasonCode;
  if (!Number.isInteger(code) || code < 0 || code > 0xff) throw bad("reason code must be 0..255");
  const propsLen = v === 5 ? propertiesLength(p.properties, "connack") : (propsBlock(p.properties, "connack", v), 0);
  const n = 2 + (v === 5 ? varintLength(propsLen) + propsLen : 0);
  const [buf, body] = start(2, 0, n);
  buf[body] = p.sessionPresent ? 1 : 0;
  buf[body + 1] = code;
  if (v === 5) writeProperties(p.properties, propsLen, buf, body + 2);
  return buf;
}

/** The encoded size of a PUBLISH without writing it (for maximum-packet-size checks). */
export function publishSize(p: PublishPacket, v: ProtocolVersion): number {
  const n = publishRemaining(p, v)[0];
  return 1 + varintLength(n) + n;
}

function publishRemaining(p: PublishPacket, v: ProtocolVersion): [number, number] {
  checkQoS(p.qos, "a PUBLISH");
  if (p.qos === 0 && p.dup) throw bad("DUP must be 0 for a QoS 0 PUBLISH"); // [MQTT-3.3.1-2]
  checkTopicName(p.topic, v === 5 && p.properties?.topicAlias !== undefined);
  if (!(p.payload instanceof Uint8Array)) throw bad("a PUBLISH payload must be a Uint8Array");
  let n = stringSize(p.topic, "the topic name") + p.payload.length;
  if (p.qos > 0) {
    checkPacketId(p.packetId, "a QoS 1 or 2 PUBLISH");
    n += 2;
  }
  let propsLen = 0;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, "publish");
    n += varintLength(propsLen) + propsLen;
  } else propsBlock(p.properties, "publish", v);
  return [n, propsLen];
}

function encodePublish(p: PublishPacket, v: ProtocolVersion): Uint8Array {
  const [n, propsLen] = publishRemaining(p, v);
  const [buf, body] = start(3, (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0), n);
  let off = writeString(p.topic, buf, body);
  if (p.qos > 0) off = u16(p.packetId!, buf, off);
  if (v === 5) off = writeProperties(p.properties, propsLen, buf, off);
  buf.set(p.payload, off);
  return buf;
}

function encodeAck(p: AckPacket, v: ProtocolVersion): Uint8Array {
  const id = checkPacketId(p.packetId, p.type.toUpperCase());
  const type = PACKET_CODES[p.type];
  const flags = p.type === "pubrel" ? 2 : 0;
  const code = p.reasonCode ?? 0;
  if (v === 4) {
    propsBlock(p.properties, p.type, v);
    if (code !== 0) throw bad(`MQTT 3.1.1 ${p.type} has no reason code`);
    const [buf, body] = start(type, flags, 2);
    u16(id, buf, body);
    return buf;
  }
  const propsLen = propertiesLength(p.properties, p.type);
  // the reason code and the property length may be left out when they are 0 (MQTT 5 3.4.2.1)
  const n = propsLen > 0 ? 3 + varintLength(propsLen) + propsLen : code !== 0 ? 3 : 2;
  const [buf, body] = start(type, flags, n);
  u16(id, buf, body);
  if (n > 2) buf[body + 2] = code;
  if (propsLen > 0) writeProperties(p.properties, propsLen, buf, body + 3);
  return buf;
}

function subscriptionOptions(s: SubscribePacket["subscriptions"][number], v: ProtocolVersion): number {
  checkQoS(s.qos, "a subscription");
  if (v === 4) {
    if (s.noLocal || s.retainAsPublished || s.retainHandling) throw bad("subscription options beyond QoS need MQTT 5");
    return s.qos;
  }
  const rh = s.retainHandling ?? 0;
  if (rh !== 0 && rh !== 1 && rh !== 2) throw bad("retainHandling must be 0, 1 or 2"); // MQTT 5 §3.8.3.1
  return s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (rh << 4);
}

function encodeSubscribe(p: SubscribePacket, v: ProtocolVersion): Uint8Array {
  const id = checkPacketId(p.packetId, "SUBSCRIBE");
  if (!p.subscriptions?.length) throw bad("SUBSCRIBE needs at least one topic filter"); // MQTT 5 §3.8.3; 3.1.1 [MQTT-3.8.3-3]
  let propsLen = 0;
  let n = 2;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, "subscribe");
    n += varintLength(propsLen) + propsLen;
  } else propsBlock(p.properties, "subscribe", v);
  const options: number[] = [];
  for (const s of p.subscriptions) {
    checkTopicFilter(s.topic);
    n += stringSize(s.topic, "a topic filter") + 1;
    options.push(subscriptionOptions(s, v));
  }
  const [buf, body] = start(8, 2, n);
  let off = u16(id, buf, body);
  if (v === 5) off = writeProperties(p.properties, propsLen, buf, off);
  p.subscriptions.forEach((s, i) => {
    off = writeString(s.topic, buf, off);
    buf[off++] = options[i];
  });
  return buf;
}

function encodeSuback(p: SubackPacket | UnsubackPacket, v: ProtocolVersion): Uint8Array {
  const id = checkPacketId(p.packetId, p.type.toUpperCase());
  const codes = p.reasonCodes ?? [];
  if (p.type === "suback" && codes.length === 0) throw bad("SUBACK needs at least one reason code");
  if (p.type === "unsuback" && v === 4 && codes.length > 0) throw bad("MQTT 3.1.1 UNSUBACK has no reason codes");
  for (const c of codes) if (!Number.isInteger(c) || c < 0 || c > 0xff) throw bad("reason codes must be 0..255");
  let propsLen = 0;
  let n = 2 + codes.length;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, p.type);
    n += varintLength(propsLen) + propsLen;
  } else propsBlock(p.properties, p.type, v);
  const [buf, body] = start(PACKET_CODES[p.type], 0, n);
  let off = u16(id, buf, body);
  if (v === 5) off = writeProperties(p.properties, propsLen, buf, off);
  buf.set(codes, off);
  return buf;
}

const encodeUnsuback = encodeSuback;

function encodeUnsubscribe(p: UnsubscribePacket, v: ProtocolVersion): Uint8Array {
  const id = checkPacketId(p.packetId, "UNSUBSCRIBE");
  if (!p.topics?.length) throw bad("UNSUBSCRIBE needs at least one topic filter"); // [MQTT-3.10.3-2]
  let propsLen = 0;
  let n = 2;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, "unsubscribe");
    n += varintLength(propsLen) + propsLen;
  } else propsBlock(p.properties, "unsubscribe", v);
  for (const t of p.topics) {
    checkTopicFilter(t);
    n += stringSize(t, "a topic filter");
  }
  const [buf, body] = start(10, 2, n);
  let off = u16(id, buf, body);
  if (v === 5) off = writeProperties(p.properties, propsLen, buf, off);
  for (const t of p.topics) off = writeString(t, buf, off);
  return buf;
}

function encodeReasonOnly(type: "disconnect" | "auth", code: number, props: Properties | undefined, v: ProtocolVersion): Uint8Array {
  code ??= 0;
  if (!Number.isInteger(code) || code < 0 || code > 0xff) throw bad("reason code must be 0..255");
  if (v === 4) {
    propsBlock(props, type, v);
    if (code !== 0) throw bad("MQTT 3.1.1 DISCONNECT has no reason code");
    return new Uint8Array([PACKET_CODES[type] << 4, 0]);
  }
  const propsLen = propertiesLength(props, type);
  const n = propsLen > 0 ? 1 + varintLength(propsLen) + propsLen : code !== 0 ? 1 : 0;
  const [buf, body] = start(PACKET_CODES[type], 0, n);
  if (n > 0) buf[body] = code;
  if (propsLen > 0) writeProperties(props, propsLen, buf, body + 1);
  return buf;
}
