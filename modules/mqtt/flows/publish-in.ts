/**
 * Incoming PUBLISH, from the server to the "message" listeners, and its acknowledgements
 * (MQTT 5 §4.3, Table 3-4 [MQTT-3.3.4-1]):
 *
 * - QoS 0: delivered.
 * - QoS 1: delivered, then PUBACK [MQTT-4.3.2-4].
 * - QoS 2 (§4.3.3, method B): delivered once and its packet identifier kept in the session
 *   (`session.incoming`, stored before the PUBREC), then PUBREC [MQTT-4.3.3-8]; a resent PUBLISH
 *   with that identifier gets the PUBREC again without a second delivery [MQTT-4.3.3-10].
 * - PUBREL (`onPubrel`): the identifier is released (stored), then PUBCOMP [MQTT-4.3.3-11].
 *
 * Delivery waits for listeners that return a promise, and the reader reads nothing meanwhile:
 * a slow consumer slows the server down (back-pressure). The topic name or alias: aliases.ts.
 */
import { protocolError } from "../errors.js";
import type { AckPacket, PublishPacket } from "../packet/index.js";
import type { Message, MqttClient } from "../client.js";
import { topicIn } from "./aliases.js";
import type { Connection } from "./connection.js";
import { touch } from "./store.js";

export async function onPublish(c: MqttClient, conn: Connection, p: PublishPacket): Promise<void> {
  const o = c.options;
  const topic = topicIn(c, conn, p);
  const msg: Message = { topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup };
  if (p.properties) msg.properties = p.properties;
  const id = p.packetId!;
  if (p.qos === 0) return deliver(c, msg);
  if (p.qos === 1) {
    await deliver(c, msg);
    return c._write(conn, { type: "puback", packetId: id, reasonCode: 0 });
  }
  // QoS 2 (method B): deliver once, remember the id until PUBREL
  const incoming = c.session.incoming;
  if (!incoming.has(id)) {
    // the server may not have more unacknowledged QoS 1/2 messages than our Receive Maximum
    // [MQTT-3.3.4-9]; more is 0x93 (Receive Maximum exceeded)
    if (incoming.size >= o.receiveMaximum) throw protocolError(`more than ${o.receiveMaximum} QoS 2 messages in flight`, 0x93);
    incoming.add(id);
    touch(c); // saved after delivery, before the PUBREC
    await deliver(c, msg);
  }
  return c._write(conn, { type: "pubrec", packetId: id, reasonCode: 0 });
}

/** PUBREL for an incoming QoS 2 message: forget its identifier, answer PUBCOMP. */
export function onPubrel(c: MqttClient, conn: Connection, p: AckPacket): Promise<void> {
  const had = c.session.incoming.delete(p.packetId);
  if (had) touch(c); // saved before the PUBCOMP: the server may then reuse the identifier
  // MQTT 5: an identifier we do not hold is answered 0x92 (Packet Identifier not found, §3.7.2.1)
  const reasonCode = had || c.options.protocolVersion === 4 ? 0 : 0x92;
  return c._write(conn, { type: "pubcomp", packetId: p.packetId, reasonCode });
}

/** Gives a message to the "message" listeners; waits for those that return a promise. */
async function deliver(c: MqttClient, msg: Message): Promise<void> {
  const results = c._emit("message", msg);
  const pending = results.filter((r) => r && typeof (r as Promise<unknown>).then === "function") as Promise<unknown>[];
  if (pending.length === 0) return;
  for (const r of await Promise.allSettled(pending))
    if (r.status === "rejected") c.rt.options.log(`mqtt: a "message" listener failed: ${(r.reason as Error)?.stack ?? r.reason}`);
}
