/**
 * The MQTT client on the device (modules/mqtt over plain TCP, MQTT 5): connects, subscribes to
 * `<topic>/#`, publishes one message at each QoS and prints what comes back; reconnects and
 * resubscribes by itself. Broker: config "mqtt.host" / "mqtt.port"; topic: "mqtt.topic".
 * With "mqtt.tls" true it goes over the device's TLS client (TLS 1.2, Moddable's TLSSocket) and
 * trusts the CA in config "mqtt.ca" (one PEM certificate; spaces may stand for its line breaks)
 * and the CA certificates built into the app as resources; empty "mqtt.ca": only those.
 *   cd manifests/mqtt && mcconfig -d -m -p esp32/<board> ssid=<ssid> password=<password> mqtt.host=<broker>
 */
import config from "mc/config";
import { deviceRuntime } from "cosock/device/runtime";
import { decodeUtf8 } from "cosock/src/index";
import { MqttClient, mqttDeviceDefaults, tlsTransport } from "cosock/modules/mqtt/index";

const settings = config as Record<string, unknown>;
const host = String(settings["mqtt.host"] ?? "test.mosquitto.org");
const secure = settings["mqtt.tls"] === true || settings["mqtt.tls"] === "true";
const port = Number(settings["mqtt.port"] ?? (secure ? 8883 : 1883)); // the transports' default ports
const topic = String(settings["mqtt.topic"] ?? "cosock/device");
const ca = String(settings["mqtt.ca"] ?? "");
const rt = deviceRuntime();

const base = { ...mqttDeviceDefaults, host, port, protocolVersion: 5 as const, keepalive: 30 };
const client = new MqttClient(rt, secure ? { ...base, transport: tlsTransport(ca ? { ca } : true) } : base);
client.on("message", (m) => trace(`received ${m.topic} (QoS ${m.qos}): ${decodeUtf8(m.payload)}\n`));
client.on("connect", (c) => trace(`connected to ${host}:${port}${secure ? " over TLS" : ""} (session present: ${c.sessionPresent})\n`));
client.on("disconnect", (d) => trace(`connection lost: ${d.error.message}\n`));

async function main(): Promise<void> {
  await client.connect();
  await client.subscribe(`${topic}/#`, { qos: 2 });
  trace(`subscribed to ${topic}/#\n`);
  for (const qos of [0, 1, 2] as const) await client.publish(`${topic}/qos${qos}`, `hello at QoS ${qos}`, { qos });
  trace(`published at QoS 0, 1 and 2\n`);
}

main().catch((e: unknown) => trace(`cosock mqtt: ${String(e)}\n`));
