/**
 * MQTT control packets as plain objects, for MQTT 3.1.1 (protocol version 4) and MQTT 5 (5).
 * The codec (encode.ts, decode.ts) turns these into bytes and back; nothing here knows about
 * sockets. Version differences: in 3.1.1 there are no properties and no reason codes on acks
 * (`reasonCode` is then 0), CONNACK carries a 3.1.1 return code (0..5) in `reasonCode`, SUBACK
 * carries granted QoS or 0x80, UNSUBACK has no reason codes and there is no AUTH packet.
 */

export type ProtocolVersion = 4 | 5;
export type QoS = 0 | 1 | 2;

/** User properties in the order they came; a name may repeat (MQTT 5 allows it). */
export type UserProperties = [name: string, value: string][];

/** MQTT 5 properties; each packet type allows a subset (see properties.ts). */
export interface Properties {
  payloadFormatIndicator?: 0 | 1;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  /** SUBSCRIBE: the one identifier of the subscription. */
  subscriptionIdentifier?: number;
  /** PUBLISH from a server: the identifiers of every matching subscription (may repeat). */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  requestProblemInformation?: 0 | 1;
  willDelayInterval?: number;
  requestResponseInformation?: 0 | 1;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: 0 | 1;
  retainAvailable?: 0 | 1;
  userProperties?: UserProperties;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: 0 | 1;
  subscriptionIdentifiersAvailable?: 0 | 1;
  sharedSubscriptionAvailable?: 0 | 1;
}

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 will properties (willDelayInterval, messageExpiryInterval, contentType, ...). */
  properties?: Properties;
}

export interface ConnectPacket {
  type: "connect";
  protocolVersion: ProtocolVersion;
  clientId: string;
  /** MQTT 5 Clean Start; MQTT 3.1.1 Clean Session. */
  cleanStart: boolean;
  /** Seconds; 0 turns keepalive off. */
  keepalive: number;
  username?: string;
  password?: Uint8Array;
  will?: Will;
  properties?: Properties;
}

export interface ConnackPacket {
  type: "connack";
  sessionPresent: boolean;
  /** MQTT 5 reason code, or the 3.1.1 return code (0 accepted, 1..5 refused). */
  reasonCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: "publish";
  /** May be "" in MQTT 5 when `properties.topicAlias` names the topic. */
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present for QoS 1 and 2 (1..65535). */
  packetId?: number;
  properties?: Properties;
}

export type AckType = "puback" | "pubrec" | "pubrel" | "pubcomp";

export interface AckPacket {
  type: AckType;
  packetId: number;
  /** 0 (success) in 3.1.1. */
  reasonCode: number;
  properties?: Properties;
}

export interface Subscription {
  /** The topic filter. */
  topic: string;
  qos: QoS;
  /** MQTT 5: do not send my own publications back to me. */
  noLocal?: boolean;
  /** MQTT 5: keep the RETAIN flag as published when forwarding. */
  retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained messages, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: "subscribe";
  packetId: number;
  subscriptions: Subscription[];
  properties?: Properties;
}

export interface SubackPacket {
  type: "suback";
  packetId: number;
  /** One per subscription: granted QoS (0, 1, 2) or a failure code (>= 0x80). */
  reasonCodes: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: "unsubscribe";
  packetId: number;
  topics: string[];
  properties?: Properties;
}

export interface UnsubackPacket {
  type: "unsuback";
  packetId: number;
  /** MQTT 5: one per topic filter; empty in 3.1.1. */
  reasonCodes: number[];
  properties?: Properties;
}

export interface PingreqPacket {
  type: "pingreq";
}

export interface PingrespPacket {
  type: "pingresp";
}

export interface DisconnectPacket {
  type: "disconnect";
  /** 0 in 3.1.1. */
  reasonCode: number;
  properties?: Properties;
}

export interface AuthPacket {
  type: "auth";
  reasonCode: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

export type PacketType = Packet["type"];

/** The packet type numbers of the fixed header (bits 7..4 of its first byte). */
export const PACKET_CODES: Readonly<Record<PacketType, number>> = Object.freeze({
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
});

/** Type number → name (index 0 is reserved). */
export const PACKET_NAMES: readonly (PacketType | undefined)[] = [
  undefined,
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
];

/** Largest remaining length a 4-byte variable byte integer can carry. */
export const MAX_REMAINING_LENGTH = 268435455;
