/**
 * Outgoing PUBLISH, from `publish()` / `trypublish()` to the server's last acknowledgement
 * (MQTT 5 §4.3):
 *
 * - `publishJob`: checks a publication and sizes it for the outgoing queue.
 * - `jobStep`: the sender takes it from the queue, within the in-flight window (`inflightWindow`,
 *   [MQTT-3.3.4-7]); QoS 1/2 becomes an in-flight message of the session with a new packet
 *   identifier [MQTT-4.3.2-1] [MQTT-4.3.3-1], stored before its PUBLISH is written.
 * - `publishStep`: its PUBLISH, DUP set when resent after a reconnect [MQTT-3.3.1-1];
 *   `encodePublish`: the bytes, with a topic alias (aliases.ts), within the server's maximum
 *   packet size.
 * - `onPuback` (QoS 1), `onPubrec` (QoS 2: answered with PUBREL [MQTT-4.3.3-4]), `onPubcomp`
 *   (QoS 2): the server's answers; `completed` settles the publisher's promise.
 */
import { toBytes, type Payload } from "../cosock.js";
import { MqttError, refusal } from "../errors.js";
import { encode, publishSize, type AckPacket, type PublishPacket } from "../packet/index.js";
import { propertiesLength } from "../packet/properties.js";
import type { MqttClient, PublishOptions } from "../client.js";
import type { Done, InflightMessage, OutgoingMessage, PublishResult } from "../session.js";
import { aliasOut, dropAliasOut } from "./aliases.js";
import type { Connection } from "./connection.js";
import type { Step } from "./sender.js";
import { flush, touch } from "./store.js";

/** A publication in the outgoing queue (`size`: what it counts for there, its encoded size). */
export interface PublishJob {
  kind: "publish";
  msg: OutgoingMessage;
  done?: Done<PublishResult>;
  size: number;
}

/** Checks a publication (the caller has checked the client's state) and makes its queue entry. */
export function publishJob(c: MqttClient, topic: string, payload: Payload, options: PublishOptions): PublishJob {
  const v = c.options.protocolVersion;
  const qos = options.qos ?? 0;
  const msg: OutgoingMessage = { topic, payload: toBytes(payload), qos, retain: options.retain ?? false };
  const props = options.properties;
  if (props) {
    if (v === 4) throw new MqttError("incorrectuse", "PUBLISH properties need MQTT 5");
    if (props.topicAlias !== undefined)
      throw new MqttError("incorrectuse", "topic aliases are assigned by the client (option topicAliases)");
    // [MQTT-3.3.4-6]
    if (props.subscriptionIdentifier !== undefined || props.subscriptionIdentifiers !== undefined)
      throw new MqttError("incorrectuse", "a client must not send subscription identifiers in PUBLISH");
    propertiesLength(props, "publish"); // validates
    msg.properties = props;
  }
  // validates topic, QoS and sizes; the size is what the message takes in the queue
  const size = publishSize({ type: "publish", ...msg, dup: false, packetId: qos > 0 ? 1 : undefined }, v);
  const conn = c._conn;
  if (conn?.established) {
    const limit = limitError(conn, msg);
    if (limit) throw limit;
    // [MQTT-3.2.2-15]
    if (size > conn.maxPacketSize)
      throw new MqttError(
        "packettoolarge",
        `PUBLISH of ${size} bytes is over the server's maximum packet size ${conn.maxPacketSize}`,
        0x95,
      );
  }
  return { kind: "publish", msg, size };
}

/** What the server said in CONNACK it does not take. */
function limitError(conn: Connection, m: OutgoingMessage): MqttError | undefined {
  if (m.qos > conn.maximumQoS) return refusal(0x9b, undefined, `QoS ${m.qos} is over the server's maximum QoS ${conn.maximumQoS}`); // [MQTT-3.2.2-11]
  if (m.retain && !conn.retainAvailable) return refusal(0x9a, undefined, "the server does not support retained messages"); // [MQTT-3.2.2-14]
  return undefined;
}

/**
 * How many QoS 1/2 messages may await their acknowledgement: the server's Receive Maximum
 * [MQTT-3.3.4-7] or `maxInflight`, whichever is lower (at least 1, [MQTT-4.9.0-1]).
 */
export function inflightWindow(c: MqttClient, conn: Connection): number {
  return Math.max(1, Math.min(conn.receiveMaximum, c.options.maxInflight));
}

/** A queued publication becomes a packet (QoS 1/2: an in-flight message with a packet id). */
export function jobStep(c: MqttClient, conn: Connection, job: PublishJob): Step | undefined {
  const m = job.msg;
  const limit = limitError(conn, m);
  if (limit) {
    refuse(c, job.done, limit, m.topic);
    return undefined;
  }
  if (m.qos === 0) {
    let bytes: Uint8Array;
    try {
      bytes = encodePublish(c, conn, m, undefined, false);
    } catch (e) {
      refuse(c, job.done, e as MqttError, m.topic);
      return undefined;
    }
    return { bytes, sent: () => job.done?.resolve({ reasonCode: 0 }), failed: (e) => job.done?.reject(c._asMqttError(e)) };
  }
  const packetId = c.session.allocate((id) => c._requests.has(id));
  const entry: InflightMessage = { ...m, qos: m.qos as 1 | 2, packetId, state: "publish" };
  if (job.done) entry.done = job.done;
  c.session.inflight.set(packetId, entry);
  touch(c); // saved before the PUBLISH is written
  const step = publishStep(c, conn, entry, false);
  return step;
}

/** The PUBLISH of an in-flight message (`dup`: resent after a reconnect). */
export function publishStep(c: MqttClient, conn: Connection, entry: InflightMessage, dup: boolean): Step | undefined {
  try {
    return { bytes: encodePublish(c, conn, entry, entry.packetId, dup) };
  } catch (e) {
    c.session.inflight.delete(entry.packetId);
    touch(c);
    refuse(c, entry.done, e as MqttError, entry.topic);
    return undefined;
  }
}

/** A publication the client cannot send or the server refused: its promise, or the "error" event. */
function refuse(c: MqttClient, done: Done<PublishResult> | undefined, e: MqttError, topic: string): void {
  if (done) done.reject(e);
  else c._emit("error", new MqttError(e.code, `publish to "${topic}" not sent: ${e.message}`, e.reasonCode));
}

/** Encodes a PUBLISH for this connection, with an automatic topic alias where the server allows. */
function encodePublish(c: MqttClient, conn: Connection, m: OutgoingMessage, packetId: number | undefined, dup: boolean): Uint8Array {
  const v = c.options.protocolVersion;
  const p: PublishPacket = { type: "publish", topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, dup };
  if (packetId !== undefined) p.packetId = packetId;
  if (m.properties) p.properties = m.properties;
  const newAlias = v === 5 && aliasOut(conn, p);
  const bytes = encode(p, v);
  if (bytes.length > conn.maxPacketSize) {
    // [MQTT-3.2.2-15]
    if (newAlias) dropAliasOut(conn, m.topic);
    throw new MqttError(
      "packettoolarge",
      `PUBLISH of ${bytes.length} bytes is over the server's maximum packet size ${conn.maxPacketSize}`,
      0x95,
    );
  }
  return bytes;
}

/** PUBACK: a QoS 1 publication is complete (an identifier not in flight is ignored). */
export function onPuback(c: MqttClient, conn: Connection, p: AckPacket): Promise<void> | undefined {
  const m = c.session.inflight.get(p.packetId);
  if (m && m.qos === 1) return completed(c, conn, m, p);
  return undefined;
}

/**
 * PUBREC: a QoS 2 publication was received. A failure code (0x80 or more) ends the flow there
 * [MQTT-4.4.0-2]; otherwise the message goes to state "pubrel" (stored before the PUBREL: the
 * PUBLISH is never resent after it [MQTT-4.3.3-6]) and PUBREL answers [MQTT-4.3.3-4] — also for
 * an identifier not in flight (MQTT 5: with 0x92, Packet Identifier not found).
 */
export function onPubrec(c: MqttClient, conn: Connection, p: AckPacket): Promise<void> {
  const m = c.session.inflight.get(p.packetId);
  if (m && m.qos === 2 && m.state === "publish" && p.reasonCode >= 0x80) return completed(c, conn, m, p);
  if (m && m.qos === 2 && m.state === "publish") {
    m.state = "pubrel";
    m.pubrecReason = p.reasonCode; // reported with the PUBCOMP's (0x10: no matching subscribers)
    touch(c); // saved before the PUBREL is written: the PUBLISH must never be resent after it
  }
  const code = m || c.options.protocolVersion === 4 ? 0 : 0x92;
  return c._write(conn, { type: "pubrel", packetId: p.packetId, reasonCode: code });
}

/** PUBCOMP: a QoS 2 publication is complete. */
export function onPubcomp(c: MqttClient, conn: Connection, p: AckPacket): Promise<void> | undefined {
  const m = c.session.inflight.get(p.packetId);
  if (m && m.qos === 2 && m.state === "pubrel") return completed(c, conn, m, p);
  return undefined;
}

/** A publication is complete: out of the session (and of the store, before its promise settles). */
async function completed(c: MqttClient, conn: Connection, m: InflightMessage, p: AckPacket): Promise<void> {
  c.session.inflight.delete(m.packetId);
  touch(c);
  if (c._dirty) await flush(c, conn);
  const rs = p.properties?.reasonString;
  // MQTT 5 §2.4: a reason code of 0x80 or more is a failure
  if (p.reasonCode >= 0x80) refuse(c, m.done, refusal(p.reasonCode, rs, `publish to "${m.topic}" refused`), m.topic);
  else {
    const r: PublishResult = { reasonCode: p.reasonCode };
    if (m.pubrecReason !== undefined) r.pubrecReason = m.pubrecReason;
    if (rs !== undefined) r.reasonString = rs;
    if (p.properties) r.properties = p.properties;
    m.done?.resolve(r);
  }
  c._wake(conn); // a slot of the in-flight window is free
}
