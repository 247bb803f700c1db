/**
 * MQTT 3.1.1 and 5 for cosock: a client on cosockets (client.ts, each packet flow a file of
 * flows/), its session state (session.ts), its transports (transport.ts) and the packet codec
 * (packet/), which knows nothing of sockets.
 *
 *   const client = new MqttClient(rt, { host: "broker.local", clientId: "dev-1" });
 *   client.on("message", (m) => print(`${m.topic}: ${decodeUtf8(m.payload)}`));
 *   await client.connect();
 *   await client.subscribe("cmd/#", { qos: 1 });
 *   await client.publish("status/dev-1", "up", { qos: 1, retain: true });
 */
export {
  MqttClient,
  type ClientState,
  type ClientStat,
  type ConnectInfo,
  type DisconnectInfo,
  type DisconnectOptions,
  type Message,
  type PublishOptions,
  type SubscribeOptions,
  type SubscribeResult,
} from "./client.js";
export { Session, type InflightMessage, type OutgoingMessage, type PublishResult, type SubscriptionRecord } from "./session.js";
export {
  MQTT_MAX_PACKET,
  mqttDefaults,
  mqttDeviceDefaults,
  type MqttOptions,
  type MqttClientOptions,
  type WillOptions,
  type ReconnectOptions,
  type SessionStore,
} from "./options.js";
export {
  tcpTransport,
  tlsTransport,
  wsTransport,
  type Transport,
  type TransportOptions,
  type MqttStream,
  type WsTransportOptions,
} from "./transport.js";
export { MqttError, isMqttError, type MqttErrorCode } from "./errors.js";
export * from "./packet/index.js";
