/**
 * Bytes → packets. `PacketDecoder` is a streaming state machine in the manner of ws's receiver:
 * fed chunks of any size, it reads the fixed header byte by byte and takes a packet's body
 * straight from the chunk when it is all there (copying only the payload out), or gathers it into
 * a buffer when it spans chunks. That buffer grows with the bytes that arrived, never to the
 * announced size up front: it holds at most max(BODY_STEP, 2 × the body bytes received) (see
 * `allocated`), so a peer announcing 256 MiB and sending 100 bytes costs about 1 KiB.
 *
 * Bad input throws an `MqttError` carrying the MQTT 5 reason code to send back: 0x81 for a
 * malformed packet (reserved flags set, QoS 3, a remaining length over 4 bytes, ill-formed UTF-8,
 * an unknown property, truncated fields, trailing bytes), 0x82 for a protocol error (a property
 * given twice, an out-of-range value, an empty list), 0x95 when a packet is larger than
 * `maxPacketSize` (detected from its header, before its body is buffered), 0x84 for an
 * unsupported protocol version. After an error the decoder stays failed.
 */
import { MqttError, malformed, protocolError } from "../errors.js";
import { readProperties, readString } from "./properties.js";
import { V4_SUBACK_CODES, VALID_REASON_CODES } from "./reason-codes.js";
import {
  PACKET_NAMES,
  type AckPacket,
  type ConnackPacket,
  type ConnectPacket,
  type Packet,
  type PacketType,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type Subscription,
  type Will,
} from "./types.js";

export interface DecoderOptions {
  /**
   * The protocol version of the connection. Leave it out on the server side: the first packet
   * must then be a CONNECT, whose version the decoder adopts.
   */
  protocolVersion?: ProtocolVersion;
  /** Largest whole packet accepted, in bytes (header included); larger → error 0x95. Default: none. */
  maxPacketSize?: number;
  /**
   * Which side reads with this decoder: "client" refuses, from their first byte, the packets only
   * a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ: MQTT 5 §2.1.2, 3.1.1 §2.2.1) with a
   * protocol error naming the packet. Default: either side (a codec test, a broker's decoder).
   */
  side?: "client" | "server";
}

/** The first allocation for a body that spans chunks, and the least the buffer grows by. */
export const BODY_STEP = 1024;
/** Packet types (bit per type) a client must refuse: CONNECT 1, SUBSCRIBE 8, UNSUBSCRIBE 10, PINGREQ 12. */
const CLIENT_ONLY = (1 << 1) | (1 << 8) | (1 << 10) | (1 << 12);
/** Packet types a server must refuse: CONNACK 2, SUBACK 9, UNSUBACK 11, PINGRESP 13. */
const SERVER_ONLY = (1 << 2) | (1 << 9) | (1 << 11) | (1 << 13);

const EMPTY = new Uint8Array(0);
const HEADER = 0;
const LENGTH = 1;
const BODY = 2;

/**
 * Per connection on the device: follows the XS memory rules (docs/contributing.md). Its state is
 * numbers and one buffer; no `#` methods (XS would install them on every instance) and no
 * closures: 240 B per idle decoder on 32-bit XS (`npx tsx tools/xs/memory.ts`).
 */
export class PacketDecoder {
  /** The connection's protocol version (set by the first CONNECT when not given). */
  protocolVersion: ProtocolVersion | undefined;
  /** Largest whole packet accepted (bytes); may be changed between chunks. */
  maxPacketSize: number;
  #state = HEADER;
  #first = 0;
  #length = 0;
  #mul = 1;
  #lengthBytes = 0;
  #body: Uint8Array = EMPTY;
  #filled = 0;
  #error: MqttError | undefined;
  /** Packet types refused from the first byte (a bit per type), by `side`. */
  #refused: number;

  constructor(options: DecoderOptions = {}) {
    this.protocolVersion = options.protocolVersion;
    this.maxPacketSize = options.maxPacketSize ?? Infinity;
    this.#refused = options.side === "client" ? CLIENT_ONLY : options.side === "server" ? SERVER_ONLY : 0;
  }

  /**
   * Bytes of the buffer the decoder holds for a body spanning chunks (0 when none): at most
   * max(BODY_STEP, 2 × the body bytes received so far), whatever the header announced.
   */
  get allocated(): number {
    return this.#body.length;
  }

  /** Bytes of an unfinished packet held by the decoder. */
  get buffered(): number {
    return this.#state === HEADER ? 0 : this.#state === LENGTH ? 1 + this.#lengthBytes : 1 + this.#lengthBytes + this.#filled;
  }

  /** The error that stopped the decoder, if any. */
  get error(): MqttError | undefined {
    return this.#error;
  }

  /**
   * Feeds a chunk and yields each packet completed by it, in order. A bad packet throws when the
   * iteration reaches it (the packets before it have been yielded). Consume the whole iteration.
   */
  *feed(chunk: Uint8Array): Generator<Packet, void, undefined> {
    if (this.#error) throw this.#error;
    let i = 0;
    const n = chunk.length;
    try {
      while (i < n) {
        // a packet's body, once it is complete (owned: not a view of the caller's chunk)
        let body: Uint8Array;
        let owned = true;
        if (this.#state === HEADER) {
          this.#first = chunk[i++];
          checkHeader(this.#first, this.protocolVersion, this.#refused);
          this.#state = LENGTH;
          this.#length = 0;
          this.#mul = 1;
          this.#lengthBytes = 0;
          continue;
        } else if (this.#state === LENGTH) {
          const b = chunk[i++];
          this.#length += (b & 0x7f) * this.#mul;
          this.#mul *= 128;
          this.#lengthBytes++;
          if (b & 0x80) {
            // a Variable Byte Integer is at most 4 bytes: MQTT 5 §1.5.5, 3.1.1 §2.2.3
            if (this.#lengthBytes === 4) throw malformed("remaining length is longer than 4 bytes");
            continue;
          }
          const total = 1 + this.#lengthBytes + this.#length;
          // MQTT 5 §3.1.2.11.4, §4.13: a packet over the Maximum Packet Size we announced → 0x95
          if (total > this.maxPacketSize) throw tooLarge(this.#first, total, this.maxPacketSize);
          if (this.#length === 0) body = EMPTY;
          else if (n - i >= this.#length) {
            body = chunk.subarray(i, i + this.#length);
            owned = false;
            i += this.#length;
          } else {
            this.#body = EMPTY; // allocated below, as the bytes arrive
            this.#filled = 0;
            this.#state = BODY;
            continue;
          }
        } else {
          const take = Math.min(this.#length - this.#filled, n - i);
          const filled = this.#filled + take;
          if (filled > this.#body.length) this.grow(filled);
          this.#body.set(take === n && i === 0 ? chunk : chunk.subarray(i, i + take), this.#filled);
          this.#filled = filled;
          i += take;
          if (this.#filled !== this.#length) continue;
          body = this.#body;
          this.#body = EMPTY;
        }
        this.#state = HEADER;
        // decoded here, not in a helper method: this frame is under all of a packet's decoding
        const p = decodeBody(this.#first, body, this.protocolVersion ?? 5, owned);
        if (p.type === "connect" && this.protocolVersion === undefined) this.protocolVersion = p.protocolVersion;
        yield p;
      }
    } catch (e) {
      if (e instanceof MqttError) {
        this.#error = e;
        this.#body = EMPTY; // a failed decoder holds nothing
      }
      throw e;
    }
  }

  /**
   * Makes room for `needed` body bytes: twice what will have arrived (at least BODY_STEP), never
   * more than the announced length, so the copies stay geometric and the buffer within
   * max(BODY_STEP, 2 × received). The last step ends exactly at the announced length.
   */
  private grow(needed: number): void {
    const size = Math.min(this.#length, Math.max(BODY_STEP, 2 * needed));
    const body = new Uint8Array(size);
    if (this.#filled) body.set(this.#body.subarray(0, this.#filled));
    this.#body = body;
  }

  /** Feeds a chunk and returns every packet it completes (throws at the first bad one). */
  push(chunk: Uint8Array): Packet[] {
    return [...this.feed(chunk)];
  }
}

function checkHeader(first: number, protocolVersion: ProtocolVersion | undefined, refused: number): void {
  const type = first >> 4;
  const flags = first & 0x0f;
  const name = PACKET_NAMES[type];
  if (!name) throw malformed("packet type 0 is reserved"); // MQTT 5 §2.1.2, 3.1.1 §2.2.1 (Table 2-1)
  // a packet the other side never sends: MQTT 5 §2.1.2, 3.1.1 §2.2.1 (the Direction of flow column)
  if (refused & (1 << type)) {
    const client = refused === CLIENT_ONLY;
    throw protocolError(
      `${client ? "broker" : "client"} sent ${name.toUpperCase()}, which only a ${client ? "client" : "server"} sends (MQTT 5 §2.1.2, 3.1.1 §2.2.1)`,
    );
  }
  if (name === "auth" && protocolVersion === 4) throw malformed("AUTH does not exist in MQTT 3.1.1");
  // the first packet on a connection is CONNECT [MQTT-3.1.0-1]
  if (protocolVersion === undefined && name !== "connect")
    throw protocolError(`the first packet must be CONNECT, not ${name.toUpperCase()}`);
  if (name === "publish") {
    if ((flags & 6) === 6) throw malformed("PUBLISH with QoS 3"); // [MQTT-3.3.1-4]
    if (flags & 8 && (flags & 6) === 0) throw protocolError("PUBLISH with QoS 0 and DUP set"); // [MQTT-3.3.1-2]
  } else {
    // reserved flag bits have the listed value: MQTT 5 [MQTT-2.1.3-1]; 3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2],
    // 0010 for PUBREL [MQTT-3.6.1-1], SUBSCRIBE [MQTT-3.8.1-1], UNSUBSCRIBE [MQTT-3.10.1-1]
    const required = name === "pubrel" || name === "subscribe" || name === "unsubscribe" ? 2 : 0;
    if (flags !== required) throw malformed(`reserved flag bits of ${name.toUpperCase()} must be ${required}, not ${flags}`);
  }
}

function tooLarge(first: number, total: number, max: number): MqttError {
  return new MqttError(
    "packettoolarge",
    `${PACKET_NAMES[first >> 4]!.toUpperCase()} of ${total} bytes is over the maximum packet size ${max}`,
    0x95,
  );
}

/**
 * Decodes one whole packet (fixed header included); throws if it is bad, incomplete or has
 * trailing bytes. The streaming decoder's checks, in its order, without its frames (a generator)
 * on the stack under the body's decoding.
 */
export function decode(bytes: Uint8Array, version: ProtocolVersion = 4, maxPacketSize = Infinity): Packet {
  if (bytes.length === 0) throw malformed("incomplete packet");
  const first = bytes[0];
  checkHeader(first, version, 0);
  let length = 0;
  let at = 1;
  for (let mul = 1; ; at++, mul *= 128) {
    if (at === 5) throw malformed("remaining length is longer than 4 bytes"); // MQTT 5 §1.5.5, 3.1.1 §2.2.3
    if (at === bytes.length) throw malformed("incomplete packet");
    length += (bytes[at] & 0x7f) * mul;
    if (!(bytes[at] & 0x80)) break;
  }
  const total = at + 1 + length;
  if (total > maxPacketSize) throw tooLarge(first, total, maxPacketSize);
  if (bytes.length < total) throw malformed("incomplete packet");
  if (bytes.length > total) throw malformed(`${bytes.length - total} bytes after the end of the packet`);
  return decodeBody(first, bytes.subarray(at + 1), version, false);
}

// ------------------------------------------------------------------ bodies

class Reader {
  off = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
  ) {}

  get left(): number {
    return this.buf.length - this.off;
  }

  u8(field: string): number {
    if (this.off + 1 > this.buf.length) throw malformed(`${this.what}: ${field} is missing`);
    return this.buf[this.off++];
  }

  u16(field: string): number {
    if (this.off + 2 > this.buf.length) throw malformed(`${this.what}: ${field} is missing`);
    const v = (this.buf[this.off] << 8) | this.buf[this.off + 1];
    this.off += 2;
    return v;
  }

  packetId(): number {
    const id = this.u16("packet identifier");
    // non-zero: MQTT 5 [MQTT-2.2.1-3], [MQTT-2.2.1-4]; 3.1.1 [MQTT-2.3.1-1]
    if (id === 0) throw protocolError(`${this.what} with packet identifier 0`);
    return id;
  }

  string(field: string): string {
    const [s, off] = readString(this.buf, this.off, this.buf.length, `${this.what} ${field}`);
    this.off = off;
    return s;
  }

  binary(field: string): Uint8Array {
    const n = this.u16(field);
    if (this.off + n > this.buf.length) throw malformed(`${this.what}: ${field} runs past the end of the packet`);
    const b = this.buf.slice(this.off, this.off + n);
    this.off += n;
    return b;
  }

  end(): void {
    if (this.off !== this.buf.length) throw malformed(`${this.what} has ${this.buf.length - this.off} bytes after its end`);
  }
}

function checkReason(type: PacketType, code: number): void {
  // MQTT 5 §2.4 (Table 2-6): the reason codes each packet may carry
  if (!VALID_REASON_CODES[type]?.has(code)) throw malformed(`reason code 0x${code.toString(16)} is not valid in ${type.toUpperCase()}`);
}

function decodeBody(first: number, body: Uint8Array, v: ProtocolVersion, owned: boolean): Packet {
  const type = PACKET_NAMES[first >> 4]!;
  const r = new Reader(body, type.toUpperCase());
  switch (type) {
    case "connect":
      return decodeConnect(r);
    case "connack":
      return decodeConnack(r, v);
    case "publish":
      return decodePublish(r, first, v, owned);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return decodeAck(r, type, v);
    case "subscribe": {
      const packetId = r.packetId();
      const properties = v === 5 ? readProperties(r, "subscribe") : undefined;
      const subscriptions: Subscription[] = [];
      while (r.left > 0) {
        const topic = r.string("topic filter");
        const o = r.u8("subscription options");
        const qos = o & 3;
        if (qos === 3) throw malformed("SUBSCRIBE with QoS 3"); // MQTT 5 §3.8.3.1; 3.1.1 [MQTT-3.8.3-4]
        if (v === 4) {
          if (o & 0xfc) throw malformed("reserved bits of the SUBSCRIBE options must be 0"); // 3.1.1 [MQTT-3.8.3-4]
          subscriptions.push({ topic, qos: qos as QoS });
        } else {
          if (o & 0xc0) throw malformed("reserved bits of the SUBSCRIBE options must be 0"); // [MQTT-3.8.3-5]
          const rh = (o >> 4) & 3;
          if (rh === 3) throw protocolError("SUBSCRIBE with retain handling 3"); // MQTT 5 §3.8.3.1
          subscriptions.push({ topic, qos: qos as QoS, noLocal: !!(o & 4), retainAsPublished: !!(o & 8), retainHandling: rh as 0 | 1 | 2 });
        }
      }
      // at least one topic filter: MQTT 5 §3.8.3; 3.1.1 [MQTT-3.8.3-3]
      if (subscriptions.length === 0) throw protocolError("SUBSCRIBE without a topic filter");
      return withProps({ type, packetId, subscriptions }, properties);
    }
    case "suback":
    case "unsuback": {
      if (type === "unsuback" && v === 4) {
        const packetId = r.packetId();
        r.end();
        return { type, packetId, reasonCodes: [] };
      }
      const packetId = r.packetId();
      const properties = v === 5 ? readProperties(r, type) : undefined;
      const reasonCodes = Array.from(body.subarray(r.off));
      // one reason code per topic filter of the SUBSCRIBE (at least one): MQTT 5 §3.9.3, 3.1.1 §3.9.3
      if (type === "suback" && reasonCodes.length === 0) throw protocolError("SUBACK without a reason code");
      // MQTT 5 §3.9.3, §3.11.3 (Tables 3-8, 3-9); 3.1.1: 0x00, 0x01, 0x02 or 0x80 [MQTT-3.9.3-2]
      for (const c of reasonCodes) {
        if (v === 4 ? !V4_SUBACK_CODES.has(c) : !VALID_REASON_CODES[type].has(c))
          throw malformed(`reason code 0x${c.toString(16)} is not valid in ${type.toUpperCase()}`);
      }
      return withProps({ type, packetId, reasonCodes }, properties);
    }
    case "unsubscribe": {
      const packetId = r.packetId();
      const properties = v === 5 ? readProperties(r, "unsubscribe") : undefined;
      const topics: string[] = [];
      while (r.left > 0) topics.push(r.string("topic filter"));
      if (topics.length === 0) throw protocolError("UNSUBSCRIBE without a topic filter"); // [MQTT-3.10.3-2]
      return withProps({ type, packetId, topics }, properties);
    }
    case "pingreq":
    case "pingresp":
      r.end();
      return { type };
    case "disconnect":
    case "auth": {
      if (v === 4 || r.left === 0) {
        r.end();
        return { type, reasonCode: 0 };
      }
      const reasonCode = r.u8("reason code");
      checkReason(type, reasonCode);
      const properties = r.left > 0 ? readProperties(r, type) : undefined;
      r.end();
      return withProps({ type, reasonCode }, properties);
    }
  }
}

function withProps<T extends object>(p: T, properties: Properties | undefined): T & { properties?: Properties } {
  return properties ? { ...p, properties } : p;
}

function decodeConnect(r: Reader): ConnectPacket {
  const name = r.string("protocol name");
  const level = r.u8("protocol level");
  // the protocol name "MQTT" [MQTT-3.1.2-1] and a level we speak [MQTT-3.1.2-2] (0x84)
  if (name !== "MQTT" || (level !== 4 && level !== 5))
    throw protocolError(`unsupported protocol ${JSON.stringify(name)} level ${level}`, 0x84);
  const v = level as ProtocolVersion;
  const flags = r.u8("connect flags");
  if (flags & 1) throw malformed("the reserved CONNECT flag must be 0"); // [MQTT-3.1.2-3]
  const hasWill = !!(flags & 0x04);
  const willQoS = (flags >> 3) & 3;
  const willRetain = !!(flags & 0x20);
  if (willQoS === 3) throw malformed("will QoS 3"); // MQTT 5 [MQTT-3.1.2-12]; 3.1.1 [MQTT-3.1.2-14]
  // without a will, its QoS and retain are 0: MQTT 5 [MQTT-3.1.2-11], [MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-15]
  if (!hasWill && (willQoS !== 0 || willRetain)) throw malformed("will QoS and retain must be 0 without a will");
  const hasPassword = !!(flags & 0x40);
  const hasUser = !!(flags & 0x80);
  // 3.1.1 [MQTT-3.1.2-22]: no password without a user name (MQTT 5 allows one)
  if (v === 4 && hasPassword && !hasUser) throw malformed("MQTT 3.1.1 CONNECT with a password but no user name");
  const keepalive = r.u16("keepalive");
  const properties = v === 5 ? readProperties(r, "connect") : undefined;
  const clientId = r.string("client identifier");
  const p: ConnectPacket = { type: "connect", protocolVersion: v, clientId, cleanStart: !!(flags & 2), keepalive };
  if (hasWill) {
    const willProps = v === 5 ? readProperties(r, "will") : undefined;
    const topic = r.string("will topic");
    // a topic name: at least one character, no wildcards (MQTT 5 §3.1.3.3, §4.7; 3.1.1 [MQTT-4.7.3-1])
    if (topic.length === 0 || /[+#]/.test(topic)) throw protocolError(`invalid will topic "${topic}"`, 0x90);
    const will: Will = { topic, payload: r.binary("will payload"), qos: willQoS as QoS, retain: willRetain };
    if (willProps) will.properties = willProps;
    p.will = will;
  }
  if (hasUser) p.username = r.string("user name");
  if (hasPassword) p.password = r.binary("password");
  r.end();
  if (properties) p.properties = properties;
  return p;
}

function decodeConnack(r: Reader, v: ProtocolVersion): ConnackPacket {
  const flags = r.u8("acknowledge flags");
  if (flags & 0xfe) throw malformed("reserved CONNACK flag bits must be 0"); // MQTT 5 §3.2.2.1, 3.1.1 §3.2.2.1
  const reasonCode = r.u8(v === 5 ? "reason code" : "return code");
  const sessionPresent = flags === 1;
  if (v === 4) {
    if (reasonCode > 5) throw malformed(`CONNACK return code ${reasonCode} is not valid in MQTT 3.1.1`); // 3.1.1 §3.2.2.3
    // 3.1.1 [MQTT-3.2.2-4]: a refusing CONNACK has Session Present 0
    if (reasonCode !== 0 && sessionPresent) throw malformed("a refusing CONNACK must not say session present");
    r.end();
    return { type: "connack", sessionPresent, reasonCode };
  }
  checkReason("connack", reasonCode);
  // [MQTT-3.2.2-6]: a refusing CONNACK has Session Present 0
  if (reasonCode !== 0 && sessionPresent) throw malformed("a refusing CONNACK must not say session present");
  const properties = readProperties(r, "connack");
  r.end();
  return withProps({ type: "connack", sessionPresent, reasonCode }, properties);
}

function decodePublish(r: Reader, first: number, v: ProtocolVersion, owned: boolean): PublishPacket {
  const qos = ((first >> 1) & 3) as QoS;
  const topic = r.string("topic name");
  // 3.1.1 [MQTT-4.7.3-1]: at least one character (MQTT 5 allows an empty name with a Topic Alias, §3.3.2.1)
  if (topic.length === 0 && v === 4) throw malformed("MQTT 3.1.1 PUBLISH with an empty topic name");
  // [MQTT-3.3.2-2]: no wildcards in a topic name
  if (topic.includes("+") || topic.includes("#")) throw protocolError(`topic name with a wildcard: "${topic}"`, 0x90);
  const p: PublishPacket = { type: "publish", topic, payload: EMPTY, qos, retain: !!(first & 1), dup: !!(first & 8) };
  if (qos > 0) p.packetId = r.packetId(); // only with QoS 1 or 2: MQTT 5 [MQTT-2.2.1-2], 3.1.1 [MQTT-2.3.1-5]
  if (v === 5) {
    const properties = readProperties(r, "publish");
    if (properties) p.properties = properties;
  }
  // the payload is the rest; copied out of the caller's chunk, a view of our own buffer otherwise
  p.payload = owned ? r.buf.subarray(r.off) : r.buf.slice(r.off);
  return p;
}

function decodeAck(r: Reader, type: AckPacket["type"], v: ProtocolVersion): AckPacket {
  const packetId = r.packetId();
  if (v === 4 || r.left === 0) {
    r.end();
    return { type, packetId, reasonCode: 0 };
  }
  const reasonCode = r.u8("reason code");
  checkReason(type, reasonCode);
  const properties = r.left > 0 ? readProperties(r, type) : undefined;
  r.end();
  return withProps({ type, packetId, reasonCode }, properties);
}
