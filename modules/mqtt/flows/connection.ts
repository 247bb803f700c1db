/**
 * One network connection of the MQTT client and the cosocket that reads it.
 *
 * - `Connection`: the state of one connection (made for each attempt, dropped when it ends): its
 *   socket and stream, the packet decoder, the server's limits from CONNACK, the topic aliases of
 *   both directions, the keepalive counters.
 * - `startConnection` → `runConnection`: the connection cosocket. It opens the transport, sends
 *   CONNECT, waits for CONNACK (`onConnack`: the server's limits, what to resend, the sender and
 *   the keepalive start), then reads and hands every packet to its flow (`dispatch`):
 *   PUBLISH and PUBREL → publish-in.ts; PUBACK, PUBREC, PUBCOMP → publish-out.ts;
 *   SUBACK, UNSUBACK → subscribe.ts; PINGRESP → keepalive.ts; DISCONNECT ends the connection.
 *
 * When the cosocket ends, the client decides what follows (reconnect or stop: `_ended` in client.ts).
 */
import { isSocketError, toBytes, type Socket } from "../cosock.js";
import { MqttError, protocolError } from "../errors.js";
import { MQTT_MAX_PACKET } from "../options.js";
import {
  PacketDecoder,
  reasonName,
  type ConnackPacket,
  type ConnectPacket,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type QoS,
} from "../packet/index.js";
import type { MqttStream } from "../transport.js";
import type { ConnectInfo, MqttClient } from "../client.js";
import type { InflightMessage } from "../session.js";
import { readIdle, startPinger } from "./keepalive.js";
import { onPublish, onPubrel } from "./publish-in.js";
import { onPuback, onPubcomp, onPubrec } from "./publish-out.js";
import { runSender } from "./sender.js";
import { flush, touch } from "./store.js";
import { onSubAck, resubscribe, type Request } from "./subscribe.js";

/** MQTT 3.1.1 CONNACK return codes 0-5 as the MQTT 5 reason codes that mean the same. */
const V4_CONNACK_TO_V5 = [0, 0x84, 0x85, 0x88, 0x86, 0x87];

/** The state of one network connection. */
export class Connection {
  sock!: Socket;
  stream!: MqttStream;
  sender: Socket | undefined;
  readonly decoder: PacketDecoder;
  established = false;
  closed = false;
  /** Set by whoever ends the connection on purpose, before closing the socket. */
  endReason: MqttError | undefined;
  /** What to resend first after CONNACK: subscriptions, unanswered requests, in-flight messages. */
  resend: (InflightMessage | Request)[] = [];
  // the server's limits, from CONNACK
  receiveMaximum = 65535;
  maxPacketSize = Infinity;
  topicAliasMaximum = 0;
  maximumQoS: QoS = 2;
  retainAvailable = true;
  keepalive = 0;
  readonly outAliases = new Map<string, number>();
  readonly inAliases = new Map<number, string>();
  /** When the last whole packet came from the server (host clock, ms): the `idleTimeout` watchdog. */
  heard = 0;
  /** PINGREQs sent since the server was last heard from. */
  pings = 0;
  cancelPing: (() => void) | undefined;

  constructor(version: ProtocolVersion, maxPacketSize: number) {
    this.decoder = new PacketDecoder({ protocolVersion: version, maxPacketSize, side: "client" });
  }

  /** Ends the connection on purpose: the reader wakes with `socketclosed` and `reason` is used. */
  end(reason: MqttError): void {
    this.endReason ??= reason;
    this.sock?.close();
  }
}

/**
 * Starts the connection cosocket of `conn`. The client calls it from a promise job of its own
 * (`_attempt`), so the cosocket begins on a short stack, not under the caller of `connect()`.
 */
export function startConnection(c: MqttClient, conn: Connection): void {
  if (conn.endReason) return c._ended(conn, undefined); // closed before it started
  try {
    c.rt.event(runConnection, c, conn);
  } catch (e) {
    c._ended(conn, e); // the runtime is shut down
  }
}

/** The connection cosocket: transport, CONNECT, then the read loop until the connection ends. */
async function runConnection(sock: Socket, c: MqttClient, conn: Connection): Promise<void> {
  conn.sock = sock;
  let error: unknown;
  try {
    const o = c.options;
    conn.stream = await o.transport.open(sock, o.host, o.port!, { timeout: o.connectTimeout });
    if (conn.endReason) return; // closed while connecting
    await c._write(conn, connectPacket(c));
    await readLoop(c, conn);
  } catch (e) {
    error = e;
  } finally {
    c._ended(conn, error);
  }
}

function connectPacket(c: MqttClient): ConnectPacket {
  const o = c.options;
  const v = o.protocolVersion;
  const p: ConnectPacket = {
    type: "connect",
    protocolVersion: v,
    clientId: c.session.clientId,
    // MQTT 5: Clean Start only on the first attempt of a connect() — reconnects resume the session
    cleanStart: v === 5 ? c._fresh && o.cleanStart : o.cleanStart,
    keepalive: o.keepalive,
  };
  if (o.username !== undefined) p.username = o.username;
  if (o.password !== undefined) p.password = toBytes(o.password);
  if (o.will) {
    const w = o.will;
    p.will = { topic: w.topic, payload: toBytes(w.payload), qos: w.qos ?? 0, retain: w.retain ?? false };
    if (w.properties) p.will.properties = w.properties;
  }
  if (v === 5) {
    const props: Properties = {};
    if (o.sessionExpiry) props.sessionExpiryInterval = o.sessionExpiry;
    if (o.receiveMaximum !== 65535) props.receiveMaximum = o.receiveMaximum;
    if (o.maxPacketSize < MQTT_MAX_PACKET) props.maximumPacketSize = o.maxPacketSize;
    if (o.topicAliasMaximum) props.topicAliasMaximum = o.topicAliasMaximum;
    if (o.userProperties) props.userProperties = o.userProperties;
    if (Object.keys(props).length) p.properties = props;
  }
  return p;
}

async function readLoop(c: MqttClient, conn: Connection): Promise<void> {
  const deadline = c.rt.host.now() + c.options.connectTimeout;
  for (;;) {
    let data: Uint8Array | null;
    if (!conn.established) {
      const left = deadline - c.rt.host.now();
      try {
        if (left <= 0) throw new MqttError("timeout", `no CONNACK within ${c.options.connectTimeout} ms`);
        data = await conn.stream.read(left);
      } catch (e) {
        if (isSocketError(e, "timeout")) throw new MqttError("timeout", `no CONNACK within ${c.options.connectTimeout} ms`);
        throw e;
      }
    } else data = await readIdle(c, conn);
    if (data === null) throw new MqttError("connectionlost", "the server closed the connection");
    conn.pings = 0; // the server is alive (keepalive.ts)
    for (const p of conn.decoder.feed(data)) {
      c._stats.received++;
      conn.heard = c.rt.host.now();
      if (conn.endReason) return;
      if (conn.established) await dispatch(c, conn, p);
      // the server's first packet must be CONNACK (MQTT 5 [MQTT-3.2.0-1]; AUTH is not supported)
      else if (p.type === "connack") onConnack(c, conn, p);
      else throw protocolError(`expected CONNACK, got ${p.type.toUpperCase()}`);
      if (c._dirty) await flush(c, conn); // completions and subscriptions, without waiting for a write
    }
  }
}

function onConnack(c: MqttClient, conn: Connection, p: ConnackPacket): void {
  const o = c.options;
  const v = o.protocolVersion;
  const props = p.properties ?? {};
  if (p.reasonCode !== 0) {
    const code = v === 5 ? p.reasonCode : (V4_CONNACK_TO_V5[p.reasonCode] ?? 0x80);
    const e = new MqttError(
      "connectionrefused",
      `${reasonName(p.reasonCode, v === 4)}${props.reasonString ? `: ${props.reasonString}` : ""}`,
      code,
    );
    if (props.reasonString !== undefined) e.reasonString = props.reasonString;
    throw e;
  }
  conn.established = true;
  // the server's limits (MQTT 5 §3.2.2.3), each kept by the flow that sends what it limits
  conn.receiveMaximum = props.receiveMaximum ?? 65535; // the in-flight window [MQTT-3.3.4-7] (publish-out.ts)
  conn.maxPacketSize = props.maximumPacketSize ?? Infinity; // [MQTT-3.2.2-15]
  conn.topicAliasMaximum = o.topicAliases ? (props.topicAliasMaximum ?? 0) : 0; // [MQTT-3.2.2-17], [MQTT-3.2.2-18] (aliases.ts)
  conn.maximumQoS = props.maximumQoS ?? 2; // [MQTT-3.2.2-11]
  conn.retainAvailable = props.retainAvailable !== 0; // [MQTT-3.2.2-14]
  conn.keepalive = props.serverKeepAlive ?? o.keepalive; // [MQTT-3.2.2-21] (keepalive.ts)
  if (props.assignedClientIdentifier) {
    c.session.clientId = props.assignedClientIdentifier;
    touch(c);
  }

  // what to send before anything queued: lost subscriptions, unanswered requests, in-flight messages
  if (!p.sessionPresent) {
    // the server has no session: its half of the incoming QoS 2 exchanges is gone (the client
    // keeps its in-flight messages and resends them, docs/mqtt.md, rather than [MQTT-3.2.2-5])
    if (c.session.incoming.size) touch(c);
    c.session.incoming.clear();
    if (o.resubscribe) resubscribe(c, conn);
  }
  // unacknowledged PUBLISH and PUBREL with their original packet identifiers [MQTT-4.4.0-1], in
  // the order first sent [MQTT-4.6.0-1]
  // one by one, not push(...values): a call's arguments are on the stack (XS: a slot each; a
  // device has 384), and maxInflight or a restored session may hold hundreds
  for (const r of c._requests.values()) conn.resend.push(r);
  for (const m of c.session.inflight.values()) conn.resend.push(m);

  c._state = "connected";
  c._stats.connects++;
  c._failures = 0;
  c._failFast = false;
  c._fresh = false;
  conn.sender = c.rt.event(runSender, c, conn);
  if (conn.keepalive > 0) startPinger(c, conn);
  const info: ConnectInfo = { sessionPresent: p.sessionPresent, reasonCode: p.reasonCode, clientId: c.session.clientId };
  if (p.properties) info.properties = p.properties;
  c._info = info;
  for (const w of c._waiters.splice(0)) w.resolve(info);
  c._emit("connect", info);
}

/** Hands a packet read after CONNACK to the flow it belongs to. */
async function dispatch(c: MqttClient, conn: Connection, p: Packet): Promise<void> {
  switch (p.type) {
    case "publish":
      return onPublish(c, conn, p);
    case "pubrel":
      return onPubrel(c, conn, p);
    case "puback":
      return onPuback(c, conn, p);
    case "pubrec":
      return onPubrec(c, conn, p);
    case "pubcomp":
      return onPubcomp(c, conn, p);
    case "suback":
    case "unsuback":
      return onSubAck(c, conn, p);
    case "pingresp":
      return; // keepalive.ts: the read that brought it already reset `conn.pings`
    case "disconnect": {
      const rs = p.properties?.reasonString;
      const e = new MqttError("disconnected", `the server disconnected${rs ? `: ${rs}` : ""}`, p.reasonCode);
      if (rs !== undefined) e.reasonString = rs;
      throw e;
    }
    default:
      // MQTT 5 §2.1.2, 3.1.1 §2.2.1 (direction of flow); AUTH (§4.12) is not supported
      throw protocolError(`a client does not accept ${p.type.toUpperCase()}`);
  }
}
