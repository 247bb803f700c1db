/**
 * The stored form of a `Session` (session.ts): a compact binary blob that a device can keep in
 * flash (a Moddable `Preference`, a file) and a new process can restore. It reuses the MQTT codec
 * for what is already an MQTT structure: each in-flight message is kept as the MQTT 5 PUBLISH it
 * goes out as (topic, payload, QoS, retain, properties, packet identifier), each subscription as
 * an MQTT 5 SUBSCRIBE of one filter (with its identifier and user properties). Engine-neutral.
 *
 *   "cMQs" (4 bytes), format 1 (1 byte), next packet identifier (u16), client identifier (u16 length + UTF-8),
 *   in-flight count (u16), each: state (0 publish, 1 pubrel), u32 length, PUBLISH packet,
 *   incoming QoS 2 count (u16), each: packet identifier (u16),
 *   subscription count (u16), each: flags (1: has MQTT 5 options), u32 length, SUBSCRIBE packet,
 *   FNV-1a 32 of everything before (u32).
 *
 * A blob that is not one of these (wrong magic, other format, bad checksum, truncated, trailing
 * bytes, a packet that does not decode, an impossible state) is refused with an `incorrectuse`
 * MqttError saying why; nothing is returned in that case.
 */
import { MqttError } from "./errors.js";
import { decode, encode } from "./packet/index.js";
import { readString, stringSize, writeString } from "./packet/properties.js";
import type { Properties, PublishPacket, SubscribePacket } from "./packet/types.js";
import type { InflightMessage, SubscriptionRecord } from "./session.js";

const MAGIC = Object.freeze([0x63, 0x4d, 0x51, 0x73]); // "cMQs"
const FORMAT = 1;

/** What a blob holds (in-flight messages have no `done`: the publisher's promise does not survive). */
export interface SessionData {
  clientId: string;
  nextId: number;
  inflight: InflightMessage[];
  incoming: number[];
  subscriptions: SubscriptionRecord[];
}

function fnv1a(bytes: Uint8Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

class Writer {
  buf = new Uint8Array(256);
  off = 0;
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.off));
    this.buf = b;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.off++] = v;
  }
  u16(v: number): void {
    this.room(2);
    this.buf[this.off++] = v >> 8;
    this.buf[this.off++] = v & 255;
  }
  u32(v: number): void {
    this.room(4);
    this.buf[this.off++] = (v >>> 24) & 255;
    this.buf[this.off++] = (v >>> 16) & 255;
    this.buf[this.off++] = (v >>> 8) & 255;
    this.buf[this.off++] = v & 255;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
  }
  string(s: string): void {
    this.room(stringSize(s, "the client identifier"));
    this.off = writeString(s, this.buf, this.off);
  }
}

export function encodeSession(s: SessionData): Uint8Array {
  const w = new Writer();
  for (const b of MAGIC) w.u8(b);
  w.u8(FORMAT);
  w.u16(s.nextId);
  w.string(s.clientId);
  w.u16(s.inflight.length);
  for (const m of s.inflight) {
    const p: PublishPacket = {
      type: "publish",
      topic: m.topic,
      payload: m.payload,
      qos: m.qos,
      retain: m.retain,
      dup: false,
      packetId: m.packetId,
    };
    if (m.properties) p.properties = m.properties;
    const bytes = encode(p, 5);
    w.u8(m.state === "pubrel" ? 1 : 0);
    w.u32(bytes.length);
    w.bytes(bytes);
  }
  w.u16(s.incoming.length);
  for (const id of s.incoming) w.u16(id);
  w.u16(s.subscriptions.length);
  for (const r of s.subscriptions) {
    const { subscriptionIdentifier, userProperties, ...sub } = r;
    const packet: SubscribePacket = { type: "subscribe", packetId: 1, subscriptions: [sub] };
    const properties: Properties = {};
    if (subscriptionIdentifier !== undefined) properties.subscriptionIdentifier = subscriptionIdentifier;
    if (userProperties) properties.userProperties = userProperties;
    if (Object.keys(properties).length) packet.properties = properties;
    const bytes = encode(packet, 5);
    const hasOptions = sub.noLocal !== undefined || sub.retainAsPublished !== undefined || sub.retainHandling !== undefined;
    w.u8(hasOptions ? 1 : 0);
    w.u32(bytes.length);
    w.bytes(bytes);
  }
  w.u32(fnv1a(w.buf, w.off));
  return w.buf.slice(0, w.off);
}

function refuse(why: string): MqttError {
  return new MqttError("incorrectuse", `not a stored MQTT session: ${why}`);
}

export function decodeSession(data: Uint8Array): SessionData {
  if (!(data instanceof Uint8Array)) throw refuse("expected a Uint8Array");
  if (data.length < MAGIC.length + 1 + 4 || MAGIC.some((b, i) => data[i] !== b)) throw refuse("wrong magic bytes (foreign or empty data)");
  if (data[4] !== FORMAT) throw refuse(`format ${data[4]} is not supported (this build reads format ${FORMAT})`);
  const end = data.length - 4;
  const sum = ((data[end] << 24) | (data[end + 1] << 16) | (data[end + 2] << 8) | data[end + 3]) >>> 0;
  if (sum !== fnv1a(data, end)) throw refuse("checksum mismatch (corrupted)");
  let off = 5;
  const need = (n: number, what: string) => {
    if (off + n > end) throw refuse(`truncated at ${what}`);
  };
  const u8 = (what: string) => (need(1, what), data[off++]);
  const u16 = (what: string) => (need(2, what), (off += 2), (data[off - 2] << 8) | data[off - 1]);
  const u32 = (what: string) => (
    need(4, what), (off += 4), ((data[off - 4] << 24) | (data[off - 3] << 16) | (data[off - 2] << 8) | data[off - 1]) >>> 0
  );
  const packet = (what: string) => {
    const n = u32(what);
    need(n, what);
    off += n;
    try {
      return decode(data.subarray(off - n, off), 5);
    } catch (e) {
      throw refuse(`${what} does not decode (${(e as Error).message})`);
    }
  };
  const validId = (id: number, what: string) => {
    if (id < 1 || id > 65535) throw refuse(`${what} has packet identifier 0`);
  };
  try {
    const nextId = u16("the next packet identifier");
    validId(nextId, "the counter");
    const [clientId, after] = readString(data, off, end, "the client identifier");
    off = after;
    const inflight: InflightMessage[] = [];
    const ids = new Set<number>();
    for (let i = 0, n = u16("the in-flight count"); i < n; i++) {
      const state = u8("an in-flight state");
      const p = packet("an in-flight message");
      if (p.type !== "publish" || (p.qos !== 1 && p.qos !== 2)) throw refuse("an in-flight message is not a QoS 1/2 PUBLISH");
      if (state > 1 || (state === 1 && p.qos !== 2)) throw refuse(`in-flight state ${state} for QoS ${p.qos}`);
      const id = p.packetId!;
      if (ids.has(id)) throw refuse(`packet identifier ${id} is in flight twice`);
      ids.add(id);
      const m: InflightMessage = {
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        packetId: id,
        state: state ? "pubrel" : "publish",
      };
      if (p.properties) m.properties = p.properties;
      inflight.push(m);
    }
    const incoming: number[] = [];
    for (let i = 0, n = u16("the incoming count"); i < n; i++) {
      const id = u16("an incoming packet identifier");
      validId(id, "an incoming message");
      if (incoming.includes(id)) throw refuse(`incoming packet identifier ${id} is listed twice`);
      incoming.push(id);
    }
    const subscriptions: SubscriptionRecord[] = [];
    for (let i = 0, n = u16("the subscription count"); i < n; i++) {
      const flags = u8("a subscription's flags");
      const p = packet("a subscription");
      if (flags > 1 || p.type !== "subscribe" || p.subscriptions.length !== 1)
        throw refuse("a subscription is not a SUBSCRIBE of one filter");
      const s = p.subscriptions[0];
      const r: SubscriptionRecord = flags ? { ...s } : { topic: s.topic, qos: s.qos };
      if (p.properties?.subscriptionIdentifier !== undefined) r.subscriptionIdentifier = p.properties.subscriptionIdentifier;
      if (p.properties?.userProperties) r.userProperties = p.properties.userProperties;
      subscriptions.push(r);
    }
    if (off !== end) throw refuse(`${end - off} bytes after the end`);
    return { clientId, nextId, inflight, incoming, subscriptions };
  } catch (e) {
    if (e instanceof MqttError && e.code === "incorrectuse") throw e;
    throw refuse((e as Error).message); // readString's malformed
  }
}
