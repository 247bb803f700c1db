/**
 * MQTT 5 properties: the table of identifiers (type, and the packets that may carry each), and
 * their encoding. Decoding checks what the specification calls a malformed packet (an unknown
 * identifier, one not allowed in this packet, a length that overruns, bad UTF-8) and what it
 * calls a protocol error (a property given twice that may appear once, a value out of range).
 */
import { MqttError, malformed, protocolError } from "../errors.js";
import { PACKET_NAMES, type PacketType, type Properties, type UserProperties } from "./types.js";
import { readString, utf8Length, writeUtf8 } from "./utf8.js";
import { readVarint, varintLength, writeVarint } from "./varint.js";

/** Where properties appear: a packet type that has properties, or the will properties inside CONNECT. */
export type PropertyContext = WithProperties | "will";
type WithProperties = Exclude<PacketType, "pingreq" | "pingresp">;

type PropType = "byte" | "u16" | "u32" | "varint" | "string" | "binary" | "pair";

interface PropDef {
  id: number;
  name: keyof Properties;
  type: PropType;
  where: ReadonlySet<PropertyContext>;
  /** Allowed values for a byte property (0/1 flags); a protocol error otherwise. */
  oneOf?: readonly number[];
  /** Zero is a protocol error. */
  nonZero?: boolean;
}

const ACKS: PropertyContext[] = ["puback", "pubrec", "pubrel", "pubcomp"];
// User properties may stand wherever properties do: every packet but PINGREQ and PINGRESP, and the will.
const ALL: PropertyContext[] = [...PACKET_NAMES.filter((n): n is WithProperties => n !== undefined && !n.startsWith("ping")), "will"];
const FLAG = [0, 1] as const;

function def(id: number, name: keyof Properties, type: PropType, where: PropertyContext[], extra: Partial<PropDef> = {}): PropDef {
  return { id, name, type, where: new Set(where), ...extra };
}

/** Every MQTT 5 property, by identifier. */
export const PROPERTIES: readonly PropDef[] = [
  def(0x01, "payloadFormatIndicator", "byte", ["publish", "will"], { oneOf: FLAG }),
  def(0x02, "messageExpiryInterval", "u32", ["publish", "will"]),
  def(0x03, "contentType", "string", ["publish", "will"]),
  def(0x08, "responseTopic", "string", ["publish", "will"]),
  def(0x09, "correlationData", "binary", ["publish", "will"]),
  def(0x0b, "subscriptionIdentifier", "varint", ["publish", "subscribe"], { nonZero: true }),
  def(0x11, "sessionExpiryInterval", "u32", ["connect", "connack", "disconnect"]),
  def(0x12, "assignedClientIdentifier", "string", ["connack"]),
  def(0x13, "serverKeepAlive", "u16", ["connack"]),
  def(0x15, "authenticationMethod", "string", ["connect", "connack", "auth"]),
  def(0x16, "authenticationData", "binary", ["connect", "connack", "auth"]),
  def(0x17, "requestProblemInformation", "byte", ["connect"], { oneOf: FLAG }),
  def(0x18, "willDelayInterval", "u32", ["will"]),
  def(0x19, "requestResponseInformation", "byte", ["connect"], { oneOf: FLAG }),
  def(0x1a, "responseInformation", "string", ["connack"]),
  def(0x1c, "serverReference", "string", ["connack", "disconnect"]),
  def(0x1f, "reasonString", "string", ["connack", ...ACKS, "suback", "unsuback", "disconnect", "auth"]),
  def(0x21, "receiveMaximum", "u16", ["connect", "connack"], { nonZero: true }),
  def(0x22, "topicAliasMaximum", "u16", ["connect", "connack"]),
  def(0x23, "topicAlias", "u16", ["publish"], { nonZero: true }),
  def(0x24, "maximumQoS", "byte", ["connack"], { oneOf: FLAG }),
  def(0x25, "retainAvailable", "byte", ["connack"], { oneOf: FLAG }),
  def(0x26, "userProperties", "pair", ALL),
  def(0x27, "maximumPacketSize", "u32", ["connect", "connack"], { nonZero: true }),
  def(0x28, "wildcardSubscriptionAvailable", "byte", ["connack"], { oneOf: FLAG }),
  def(0x29, "subscriptionIdentifiersAvailable", "byte", ["connack"], { oneOf: FLAG }),
  def(0x2a, "sharedSubscriptionAvailable", "byte", ["connack"], { oneOf: FLAG }),
];

const BY_ID: (PropDef | undefined)[] = [];
for (const d of PROPERTIES) BY_ID[d.id] = d;

/** The identifier of a property by its name (e.g. for tests and diagnostics). */
export function propertyId(name: keyof Properties): number | undefined {
  if (name === "subscriptionIdentifiers") return 0x0b;
  return PROPERTIES.find((d) => d.name === name)?.id;
}

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
const MAX_VARINT = 268435455;

// ------------------------------------------------------------------ encoding

/** The values to encode for `d` (several for user properties and a PUBLISH's subscription ids). */
function valuesOf(props: Properties, d: PropDef): unknown[] | undefined {
  if (d.id === 0x0b) {
    const many = props.subscriptionIdentifiers;
    const one = props.subscriptionIdentifier;
    if (many !== undefined && one !== undefined)
      throw new MqttError("incorrectuse", "give subscriptionIdentifier or subscriptionIdentifiers, not both");
    if (many !== undefined) return many;
    return one === undefined ? undefined : [one];
  }
  const v = props[d.name];
  if (v === undefined) return undefined;
  return d.type === "pair" ? (v as UserProperties) : [v];
}

function checkValue(d: PropDef, v: unknown): void {
  const bad = (why: string) => new MqttError("incorrectuse", `property ${d.name}: ${why}`);
  switch (d.type) {
    case "byte":
    case "u16":
    case "u32":
    case "varint": {
      const max = d.type === "byte" ? 0xff : d.type === "u16" ? MAX_U16 : d.type === "u32" ? MAX_U32 : MAX_VARINT;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw bad(`must be an integer 0..${max}`);
      if (d.oneOf && !d.oneOf.includes(v)) throw bad(`must be one of ${d.oneOf.join(", ")}`);
      if (d.nonZero && v === 0) throw bad("must not be 0");
      break;
    }
    case "string":
      if (typeof v !== "string") throw bad("must be a string");
      break;
    case "binary":
      if (!(v instanceof Uint8Array) || v.length > MAX_U16) throw bad("must be a Uint8Array of at most 65535 bytes");
      break;
    case "pair":
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "string" || typeof v[1] !== "string")
        throw bad("each must be a [name, value] pair of strings");
      break;
  }
}

/** The encoded size of a length-prefixed MQTT string; throws `incorrectuse` when it is too long. */
function stringSize(s: string, what: string): number {
  const n = utf8Length(s);
  if (n > MAX_U16) throw new MqttError("incorrectuse", `${what} is longer than 65535 bytes`);
  return 2 + n;
}

function valueSize(d: PropDef, v: unknown): number {
  switch (d.type) {
    case "byte":
      return 1;
    case "u16":
      return 2;
    case "u32":
      return 4;
    case "varint":
      return varintLength(v as number);
    case "string":
      return stringSize(v as string, d.name);
    case "binary":
      return 2 + (v as Uint8Array).length;
    case "pair":
      return (
        stringSize((v as [string, string])[0], "a user property name") + stringSize((v as [string, string])[1], "a user property value")
      );
  }
}

/**
 * The encoded size of `props` in `context`, without the length prefix. Throws `incorrectuse` for
 * a property the context does not allow or a value out of range.
 */
export function propertiesLength(props: Properties | undefined, context: PropertyContext): number {
  if (!props) return 0;
  let n = 0;
  for (const key of Object.keys(props) as (keyof Properties)[]) {
    if (props[key] === undefined) continue;
    const id = propertyId(key);
    const d = id === undefined ? undefined : BY_ID[id];
    if (!d) throw new MqttError("incorrectuse", `unknown property ${String(key)}`);
    if (!d.where.has(context)) throw new MqttError("incorrectuse", `property ${String(key)} is not allowed in ${context}`);
    if (key === "subscriptionIdentifiers" && context !== "publish")
      throw new MqttError("incorrectuse", "subscriptionIdentifiers is for PUBLISH; use subscriptionIdentifier");
  }
  for (const d of PROPERTIES) {
    const values = valuesOf(props, d);
    if (!values) continue;
    if (d.type === "pair" && !Array.isArray(values)) throw new MqttError("incorrectuse", "userProperties must be an array of pairs");
    for (const v of values) {
      checkValue(d, v);
      n += 1 + valueSize(d, v);
    }
  }
  return n;
}

/** Writes `props` (whose size `propertiesLength` gave as `length`) with its length prefix. */
export function writeProperties(props: Properties | undefined, length: number, buf: Uint8Array, off: number): number {
  off = writeVarint(length, buf, off);
  if (!props) return off;
  for (const d of PROPERTIES) {
    const values = valuesOf(props, d);
    if (!values) continue;
    for (const v of values) {
      buf[off++] = d.id;
      off = writeValue(d.type, v, buf, off);
    }
  }
  return off;
}

/** Writes a length-prefixed MQTT string (checked by `stringSize`); returns the end offset. */
function writeString(s: string, buf: Uint8Array, off: number): number {
  const end = writeUtf8(s, buf, off + 2);
  const n = end - off - 2;
  buf[off] = n >> 8;
  buf[off + 1] = n & 0xff;
  return end;
}

function writeValue(type: PropType, v: unknown, buf: Uint8Array, off: number): number {
  switch (type) {
    case "byte":
      buf[off] = v as number;
      return off + 1;
    case "u16":
      buf[off] = (v as number) >> 8;
      buf[off + 1] = (v as number) & 0xff;
      return off + 2;
    case "u32": {
      const n = v as number;
      buf[off] = n >>> 24;
      buf[off + 1] = (n >>> 16) & 0xff;
      buf[off + 2] = (n >>> 8) & 0xff;
      buf[off + 3] = n & 0xff;
      return off + 4;
    }
    case "varint":
      return writeVarint(v as number, buf, off);
    case "string":
      return writeString(v as string, buf, off);
    case "binary": {
      const b = v as Uint8Array;
      buf[off] = b.length >> 8;
      buf[off + 1] = b.length & 0xff;
      buf.set(b, off + 2);
      return off + 2 + b.length;
    }
    case "pair":
      off = writeString((v as [string, string])[0], buf, off);
      return writeString((v as [string, string])[1], buf, off);
  }
}

// ------------------------------------------------------------------ decoding

/** Where a packet is read: its bytes, and the offset reached (the body decoder's Reader). */
export interface Cursor {
  readonly buf: Uint8Array;
  off: number;
}

/**
 * Reads a property block (length prefix and properties) at `at.off`, not past the end of
 * `at.buf`, and moves `at.off` past it. Returns the properties (undefined when the block is
 * empty). Called by the body decoders themselves (no Reader method in between: a string
 * property is the deepest point of a packet's decoding, where every frame counts on a device).
 */
export function readProperties(at: Cursor, context: PropertyContext): Properties | undefined {
  const buf = at.buf;
  const end = buf.length;
  let off = at.off;
  const [length, after] = readVarint(buf, off, end, "property length");
  off = after;
  const stop = off + length;
  // MQTT 5 §2.2.2.1: the Property Length counts the properties' bytes
  if (stop > end) throw malformed(`${context} property length ${length} runs past the end of the packet`);
  if (length === 0) {
    at.off = off;
    return undefined;
  }
  const props: Properties = {};
  const seen = new Uint8Array(64);
  while (off < stop) {
    const id = buf[off++];
    const d = id < 0x80 ? BY_ID[id] : undefined;
    // MQTT 5 §2.2.2.2 (Table 2-4): only the defined identifiers, each only in the packets it is listed for
    if (!d) throw malformed(`unknown property identifier 0x${id.toString(16)} in ${context}`);
    if (!d.where.has(context)) throw malformed(`property ${d.name} (0x${id.toString(16)}) is not allowed in ${context}`);
    const repeatable = d.type === "pair" || (d.id === 0x0b && context === "publish");
    // MQTT 5 §3.x.2.x ("a Protocol Error to include … more than once"): only User Property, and
    // Subscription Identifier in a PUBLISH (§3.3.2.3.8), may repeat
    if (!repeatable && seen[id]++) throw protocolError(`property ${d.name} appears more than once in ${context}`);
    let v: number | string | Uint8Array | [string, string];
    switch (d.type) {
      case "byte":
        need(off, 1, stop, d);
        v = buf[off++];
        break;
      case "u16":
        need(off, 2, stop, d);
        v = (buf[off] << 8) | buf[off + 1];
        off += 2;
        break;
      case "u32":
        need(off, 4, stop, d);
        v = ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
        off += 4;
        break;
      case "varint":
        [v, off] = readVarint(buf, off, stop, d.name);
        break;
      case "string":
        [v, off] = readString(buf, off, stop, d.name);
        break;
      case "binary": {
        need(off, 2, stop, d);
        const n = (buf[off] << 8) | buf[off + 1];
        need(off + 2, n, stop, d);
        v = buf.slice(off + 2, off + 2 + n);
        off += 2 + n;
        break;
      }
      case "pair": {
        let name: string;
        let value: string;
        [name, off] = readString(buf, off, stop, "user property name");
        [value, off] = readString(buf, off, stop, "user property value");
        v = [name, value];
        break;
      }
    }
    if (typeof v === "number") {
      // MQTT 5 §3.1.2.11, §3.2.2.3, §3.3.2.3: the values each property may take (e.g. Receive
      // Maximum and Maximum Packet Size not 0, Maximum QoS 0 or 1)
      if (d.oneOf && !d.oneOf.includes(v)) throw protocolError(`property ${d.name} has the invalid value ${v}`);
      if (d.nonZero && v === 0) throw protocolError(`property ${d.name} must not be 0`);
    }
    const bag = props as Record<string, unknown>;
    if (d.type === "pair") ((bag.userProperties ??= []) as [string, string][]).push(v as [string, string]);
    else if (repeatable) ((bag.subscriptionIdentifiers ??= []) as number[]).push(v as number);
    else bag[d.name] = v;
  }
  at.off = off;
  return props;
}

function need(off: number, n: number, stop: number, d: PropDef): void {
  if (off + n > stop) throw malformed(`property ${d.name} runs past the end of the properties`);
}

export { readString, stringSize, writeString };
