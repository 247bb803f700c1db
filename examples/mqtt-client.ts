/**
 * An MQTT client on cosockets: connect to a broker, subscribe, publish at QoS 0, 1 and 2, and
 * print what arrives. The client's connection is a cosocket; its sender is a second cosocket that
 * drains a bounded queue into the connection (see modules/mqtt/client.ts).
 *
 *   npx tsx examples/mqtt-client.ts [--host 127.0.0.1] [--port 1883] [--topic cosock/demo] [--mqtt 5]
 */
import { decodeUtf8, type Runtime } from "../src/index.js";
import { MqttClient, type ProtocolVersion, type QoS } from "../modules/mqtt/index.js";
import { print, type Log } from "./log.js";
import { desktopMain } from "./cli.js";

export interface MqttExampleOptions {
  host: string;
  port?: number;
  /** Messages go to `${topic}/qos0`, `/qos1`, `/qos2`; the client subscribes to `${topic}/#`. */
  topic?: string;
  protocolVersion?: ProtocolVersion;
  /** Rounds of three messages. */
  rounds?: number;
}

export async function mqttExample(rt: Runtime, options: MqttExampleOptions, log: Log = print): Promise<MqttClient> {
  const topic = options.topic ?? "cosock/demo";
  const client = new MqttClient(rt, {
    host: options.host,
    port: options.port,
    protocolVersion: options.protocolVersion ?? 5,
    keepalive: 30,
  });
  client.on("message", (m) => log(`received ${m.topic} (QoS ${m.qos}${m.retain ? ", retained" : ""}): ${decodeUtf8(m.payload)}`));
  client.on("disconnect", (d) => log(`connection lost: ${d.error.message}${d.reconnecting ? `; reconnecting in ${d.delay} ms` : ""}`));
  const info = await client.connect();
  log(
    `connected to ${options.host}:${client.options.port} as ${info.clientId} (MQTT ${client.options.protocolVersion === 5 ? "5" : "3.1.1"})`,
  );
  const sub = await client.subscribe(`${topic}/#`, { qos: 2 });
  log(`subscribed to ${topic}/# (granted QoS ${sub.reasonCodes[0]})`);
  for (let round = 0; round < (options.rounds ?? 1); round++) {
    for (const qos of [0, 1, 2] as QoS[]) {
      const r = await client.publish(`${topic}/qos${qos}`, `hello ${round} at QoS ${qos}`, { qos });
      log(`published ${topic}/qos${qos} (reason code ${r.reasonCode})`);
    }
  }
  return client;
}

// run directly on the desktop: npx tsx examples/mqtt-client.ts
desktopMain("mqtt-client.ts", async (rt, arg) => {
  const client = await mqttExample(rt, {
    host: arg("host", "127.0.0.1"),
    port: Number(arg("port", "1883")),
    topic: arg("topic", "cosock/demo"),
    protocolVersion: arg("mqtt", "5") === "4" ? 4 : 5,
  });
  await rt.sleep(500); // let the last messages come back
  await client.disconnect();
  rt.shutdown();
});
