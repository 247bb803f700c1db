/**
 * SUBSCRIBE and UNSUBSCRIBE (MQTT 5 §3.8-§3.11): the packets `subscribe()` and `unsubscribe()`
 * send, the requests awaiting their SUBACK/UNSUBACK (`Request`, kept in the client's `_requests`
 * by packet identifier and re-sent unanswered after a reconnect), the session's subscriptions
 * they change, and resubscribing when the server has lost the session (`resubscribe`).
 */
import { MqttError, refusal } from "../errors.js";
import {
  checkTopicFilter,
  encode,
  type Properties,
  type SubackPacket,
  type SubscribePacket,
  type UnsubackPacket,
  type UnsubscribePacket,
  type UserProperties,
} from "../packet/index.js";
import type { MqttClient, SubscribeOptions, SubscribeResult } from "../client.js";
import type { Done, SubscriptionRecord } from "../session.js";
import type { Connection } from "./connection.js";
import type { Step } from "./sender.js";
import { flush, touch } from "./store.js";

/** A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement (re-sent on reconnect). */
export interface Request {
  packet: SubscribePacket | UnsubscribePacket;
  /** Assigned when first sent. */
  packetId: number;
  done?: Done<SubscribeResult>;
  records?: SubscriptionRecord[];
}

/** A request in the outgoing queue (`size`: its encoded size). */
export interface RequestJob {
  kind: "request";
  req: Request;
  size: number;
}

/** The SUBSCRIBE for `subscribe()` (its packet identifier is given when it is sent) and the subscriptions it records. */
export function subscribePacket(
  c: MqttClient,
  filters: string | string[] | SubscriptionRecord[],
  options: SubscribeOptions,
): { packet: SubscribePacket; records: SubscriptionRecord[] } {
  const v = c.options.protocolVersion;
  const list = (Array.isArray(filters) ? filters : [filters]) as (string | SubscriptionRecord)[];
  const records: SubscriptionRecord[] = list.map((f) => {
    const r: SubscriptionRecord = typeof f === "string" ? { topic: f, qos: options.qos ?? 0 } : { ...f };
    if (typeof f === "string" && v === 5) {
      r.noLocal = options.noLocal ?? false;
      r.retainAsPublished = options.retainAsPublished ?? false;
      r.retainHandling = options.retainHandling ?? 0;
    }
    checkTopicFilter(r.topic); // not empty, wildcards only where they may stand [MQTT-4.7.3-1] [MQTT-4.7.1-1] [MQTT-4.7.1-2]
    if (options.subscriptionIdentifier !== undefined) r.subscriptionIdentifier = options.subscriptionIdentifier;
    if (options.userProperties) r.userProperties = options.userProperties;
    return r;
  });
  const subscriptions = records.map(({ subscriptionIdentifier: _s, userProperties: _u, ...sub }) => sub);
  const packet: SubscribePacket = { type: "subscribe", packetId: 0, subscriptions };
  if (v === 5) {
    const properties: Properties = {};
    if (options.subscriptionIdentifier !== undefined) properties.subscriptionIdentifier = options.subscriptionIdentifier;
    if (options.userProperties) properties.userProperties = options.userProperties;
    if (Object.keys(properties).length) packet.properties = properties;
  } else if (options.subscriptionIdentifier !== undefined || options.userProperties)
    throw new MqttError("incorrectuse", "subscription identifiers and user properties need MQTT 5");
  return { packet, records };
}

/** The UNSUBSCRIBE for `unsubscribe()`. */
export function unsubscribePacket(
  c: MqttClient,
  filters: string | string[],
  options: { userProperties?: UserProperties },
): UnsubscribePacket {
  const topics = Array.isArray(filters) ? filters : [filters];
  for (const t of topics) checkTopicFilter(t);
  const packet: UnsubscribePacket = { type: "unsubscribe", packetId: 0, topics };
  if (options.userProperties) {
    if (c.options.protocolVersion !== 5) throw new MqttError("incorrectuse", "user properties need MQTT 5");
    packet.properties = { userProperties: options.userProperties };
  }
  return packet;
}

/** The queue entry of a request, checked by encoding it once (its size counts in the queue). */
export function requestJob(
  c: MqttClient,
  packet: SubscribePacket | UnsubscribePacket,
  records: SubscriptionRecord[] | undefined,
): RequestJob {
  const size = encode({ ...packet, packetId: 1 }, c.options.protocolVersion).length; // validates
  const req: Request = { packet, packetId: 0 };
  if (records) req.records = records;
  return { kind: "request", req, size };
}

/**
 * The sender's step for a request: on its first sending it gets a packet identifier no other
 * packet in flight uses (§2.2.1), kept on a resend.
 */
export function requestStep(c: MqttClient, req: Request): Step {
  if (!req.packetId) {
    req.packetId = c.session.allocate((id) => c._requests.has(id));
    req.packet.packetId = req.packetId;
    c._requests.set(req.packetId, req);
  }
  return { bytes: encode(req.packet, c.options.protocolVersion) };
}

/**
 * After a CONNACK without a session (Session Present 0): every subscription the session holds is
 * sent again, one SUBSCRIBE each, before anything queued (with the `resubscribe` option).
 */
export function resubscribe(c: MqttClient, conn: Connection): void {
  const v = c.options.protocolVersion;
  for (const r of c.session.subscriptions.values()) {
    const { subscriptionIdentifier, userProperties, ...sub } = r;
    const properties: Properties = {};
    if (subscriptionIdentifier !== undefined) properties.subscriptionIdentifier = subscriptionIdentifier;
    if (userProperties) properties.userProperties = userProperties;
    const packet: SubscribePacket = { type: "subscribe", packetId: 0, subscriptions: [sub] };
    if (v === 5 && Object.keys(properties).length) packet.properties = properties;
    conn.resend.push({ packet, packetId: 0, records: [r] });
  }
}

/**
 * SUBACK or UNSUBACK: one reason code per topic filter, in order [MQTT-3.9.3-1] [MQTT-3.11.3-1].
 * Granted subscriptions go into the session and failed ones out of it; an acknowledgement of
 * the other kind than the request with that identifier is ignored. Stored before the caller's
 * promise settles.
 */
export async function onSubAck(c: MqttClient, conn: Connection, p: SubackPacket | UnsubackPacket): Promise<void> {
  const req = c._requests.get(p.packetId);
  if (!req || (req.packet.type === "subscribe") !== (p.type === "suback")) return;
  c._requests.delete(p.packetId);
  if (req.records || req.packet.type === "unsubscribe") touch(c);
  if (req.records) {
    req.records.forEach((r, i) => {
      const code = p.reasonCodes[i] ?? 0x80;
      if (code < 0x80) c.session.subscriptions.set(r.topic, r);
      else {
        c.session.subscriptions.delete(r.topic);
        if (!req.done) c._emit("error", refusal(code, p.properties?.reasonString, `resubscribing to "${r.topic}" failed`));
      }
    });
  } else if (req.packet.type === "unsubscribe") for (const t of req.packet.topics) c.session.subscriptions.delete(t);
  if (c._dirty) await flush(c, conn); // stored before the caller hears of it
  const r: SubscribeResult = { reasonCodes: p.reasonCodes };
  if (p.properties?.reasonString !== undefined) r.reasonString = p.properties.reasonString;
  if (p.properties) r.properties = p.properties;
  req.done?.resolve(r);
}
