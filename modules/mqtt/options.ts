/**
 * The MQTT client's options and their defaults, in one place. Times the protocol carries are in
 * seconds, as on the wire (`keepalive`, `sessionExpiry`); the client's own times are milliseconds.
 */
import type { Payload } from "../cosock.js";
import type { Properties, ProtocolVersion, QoS, UserProperties } from "./packet/index.js";
import type { Session } from "./session.js";
import { tcpTransport, type Transport } from "./transport.js";

export interface WillOptions {
  topic: string;
  payload: Payload;
  qos?: QoS;
  retain?: boolean;
  /** MQTT 5 will properties: willDelayInterval, messageExpiryInterval, contentType, ... */
  properties?: Properties;
}

export interface ReconnectOptions {
  /** ms before the first retry. */
  delay: number;
  /** Longest wait between retries (ms). */
  maxDelay: number;
  /** Each failed attempt multiplies the wait by this. */
  factor: number;
}

export interface MqttOptions {
  host: string;
  /** Default: the transport's port (1883 for TCP). */
  port?: number;
  transport: Transport;
  /** 5 (MQTT 5) or 4 (MQTT 3.1.1). */
  protocolVersion: ProtocolVersion;
  /** Default: "cosock-" and 8 random hex digits. "" lets an MQTT 5 server assign one. */
  clientId?: string;
  /**
   * Start with a fresh session (MQTT 5 Clean Start, 3.1.1 Clean Session). With MQTT 5 it applies
   * to each `connect()`; automatic reconnects always resume the session.
   */
  cleanStart: boolean;
  /** MQTT 5: seconds the server keeps the session after a disconnect (0: none; 0xFFFFFFFF: forever). */
  sessionExpiry: number;
  /** Seconds; PINGREQ every keepalive/2, connection failed after two unanswered. 0: off. */
  keepalive: number;
  username?: string;
  password?: Payload;
  will?: WillOptions;
  /** MQTT 5 user properties of the CONNECT packet. */
  userProperties?: UserProperties;
  /** ms for the network connection and again for the CONNACK. */
  connectTimeout: number;
  /** Automatic reconnection after a lost connection, or false. */
  reconnect: ReconnectOptions | false;
  /** Restore subscriptions after reconnecting when the server has no session for us. */
  resubscribe: boolean;
  /**
   * Bytes the outgoing queue may hold (checked before adding, so one message may pass the limit);
   * a publish to a full queue is refused with `queuefull` (nothing is dropped).
   */
  queuelen: number;
  /** Most outgoing QoS 1/2 messages awaiting acknowledgement (lowered by the server's Receive Maximum). */
  maxInflight: number;
  /** MQTT 5 Receive Maximum we announce: incoming QoS 1/2 messages in flight at once. */
  receiveMaximum: number;
  /**
   * Largest packet we accept (bytes, header included); announced to an MQTT 5 server (which then
   * does not send us larger ones). A larger packet is refused from its header, before its body
   * is read: the connection ends with `packettoolarge` (MQTT 5: DISCONNECT 0x95 Packet too large).
   * The decoder's buffer grows with the bytes that arrive, never to the announced size up front.
   * Default 1 MiB (device: 8 KiB, `mqttDeviceDefaults`).
   */
  maxPacketSize: number;
  /**
   * ms without a whole packet from the server after which the connection ends with `timeout`
   * (0: off). For a server that turns keepalive off (MQTT 5 Server Keep Alive 0, or keepalive 0):
   * without it a silent server, or one stuck in the middle of a packet, holds the connection forever.
   */
  idleTimeout: number;
  /** MQTT 5: topic aliases we accept from the server (0: none). */
  topicAliasMaximum: number;
  /** MQTT 5: give repeated topics an alias automatically when the server allows aliases. */
  topicAliases: boolean;
  /** A session to continue (an earlier client's `session`, or `Session.restore(bytes)` in a new process). */
  session?: Session;
  /**
   * Where the session is kept across restarts: `save(session.save())` is called whenever the
   * session changes in a way that matters, and no packet is written before it has returned (or
   * its promise resolved). See `SessionStore`.
   */
  store?: SessionStore;
}

/**
 * Keeps the session's bytes (flash, a file, a Moddable `Preference`): `save` replaces what it
 * holds with `data` — atomically, or a restart may find half of it (which `Session.restore`
 * refuses). An asynchronous `save` may return a promise; saves are never concurrent.
 */
export interface SessionStore {
  save(data: Uint8Array): void | Promise<void>;
}

export const mqttDefaults = Object.freeze({
  transport: tcpTransport,
  protocolVersion: 5 as ProtocolVersion,
  cleanStart: true,
  sessionExpiry: 0,
  keepalive: 60,
  connectTimeout: 5000,
  reconnect: Object.freeze({ delay: 1000, maxDelay: 30000, factor: 2 }) as ReconnectOptions,
  resubscribe: true,
  queuelen: 16384,
  maxInflight: 16,
  receiveMaximum: 65535,
  // 1 MiB: over every common broker's message limit (cloud IoT brokers cap messages at 128 to
  // 256 KiB), and what one hostile or broken broker can make a desktop client hold per connection
  maxPacketSize: 1 << 20,
  idleTimeout: 0,
  topicAliasMaximum: 16,
  topicAliases: true,
});

/** The largest packet MQTT can express: a 268 435 455-byte remaining length and a 5-byte fixed header. */
export const MQTT_MAX_PACKET = 268435460;

/**
 * The device's defaults (ESP32, ~160 KB of XS heap): spread them under your options there, as
 * manifests/mqtt does. 8 KiB matches the device's WebSocket message limit (`cosock.ws.maxMessage`)
 * and leaves room for a few connections' buffers, the decoder's growth copy (up to 1.5 × a packet
 * at once) and the message handed to the application; a server is told the limit in CONNECT (MQTT 5).
 */
export const mqttDeviceDefaults = Object.freeze({
  maxPacketSize: 8192,
});

export type MqttClientOptions = Partial<MqttOptions> & { host: string };
