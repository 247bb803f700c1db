/**
 * MQTT over TLS (mqtts) and over WebSocket (ws, wss; subprotocol "mqtt") against mosquitto's own
 * TLS and websockets listeners: QoS 1 and 2 round trips through each transport, and a broker
 * certificate that is not trusted refused with sslnottrusted.
 */
import { copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { MqttClient, tlsTransport, wsTransport, type Transport } from "../../modules/mqtt/index.js";
import { itWithPeer } from "../support/peers.js";
import { makePKI, type PKI } from "../tls/pki.js";
import { Broker, freeTcpPort } from "./broker.js";
import { Inbox, quiet } from "./helpers.js";

const itMosquitto = itWithPeer("mosquitto", "apt-get install mosquitto mosquitto-clients openssl");

let rt: Runtime;
let pki: PKI;
let broker: Broker;
let ports: { tls: number; ws: number; wss: number };
const clients: MqttClient[] = [];

beforeAll(async () => {
  try {
    pki = makePKI();
  } catch {
    return; // no openssl: the tests skip locally and fail under CI
  }
  ports = { tls: await freeTcpPort(), ws: await freeTcpPort(), wss: await freeTcpPort() };
  // the broker drops to its own user: give it readable copies of the certificate and key
  const files = Object.fromEntries(
    ["ca", "server"].flatMap((n) =>
      ["certFile", "keyFile"].map((k) => {
        const from = (pki as unknown as Record<string, Record<string, string>>)[n][k];
        const to = join(pki.dir, `mosq-${n}-${k}.pem`);
        copyFileSync(from, to);
        chmodSync(to, 0o644);
        return [`${n}.${k}`, to];
      }),
    ),
  );
  chmodSync(pki.dir, 0o755);
  const tlsLines = [`certfile ${files["server.certFile"]}`, `keyfile ${files["server.keyFile"]}`];
  broker = await Broker.start({
    extra: [
      `listener ${ports.tls} 127.0.0.1`,
      "protocol mqtt",
      ...tlsLines,
      `listener ${ports.ws} 127.0.0.1`,
      "protocol websockets",
      "socket_domain ipv4",
      `listener ${ports.wss} 127.0.0.1`,
      "protocol websockets",
      "socket_domain ipv4",
      ...tlsLines,
    ],
  });
}, 30000);

afterAll(async () => {
  await broker?.stop();
  pki?.remove();
});
beforeEach(() => (rt = new Runtime(nodeHost())));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  rt.shutdown();
});

function client(port: number, transport: Transport, id: string): MqttClient {
  const c = quiet(new MqttClient(rt, { host: "localhost", port, transport, clientId: `${id}-${process.pid}`, protocolVersion: 5 }));
  clients.push(c);
  return c;
}

async function roundTrip(transport: () => Transport, port: () => number, name: string): Promise<void> {
  const sub = client(port(), transport(), `sub-${name}`);
  const pub = client(port(), transport(), `pub-${name}`);
  const inbox = new Inbox(sub);
  await sub.connect();
  await sub.subscribe(`t/${name}/#`, { qos: 2 });
  await pub.connect();
  const big = "x".repeat(100000); // larger than a WebSocket frame: fragmented
  await pub.publish(`t/${name}/1`, "one", { qos: 1 });
  await pub.publish(`t/${name}/2`, "two", { qos: 2 });
  await pub.publish(`t/${name}/big`, big, { qos: 1 });
  const got = await inbox.count(3, 10000); // mosquitto's websockets listener takes ~2 s for the big one (mqtt.js sees the same)
  expect(got.map((m) => [m.topic, decodeUtf8(m.payload).slice(0, 3), m.payload.length])).toEqual([
    [`t/${name}/1`, "one", 3],
    [`t/${name}/2`, "two", 3],
    [`t/${name}/big`, "xxx", 100000],
  ]);
}

describe("MQTT transports against mosquitto", () => {
  itMosquitto("mqtts: QoS 1 and 2 over TLS, verified with the test CA", () =>
    roundTrip(
      () => tlsTransport({ ca: pki.ca.cert }),
      () => ports.tls,
      "tls",
    ),
  );

  itMosquitto("ws: QoS 1 and 2 over WebSocket (subprotocol mqtt)", () =>
    roundTrip(
      () => wsTransport(),
      () => ports.ws,
      "ws",
    ),
  );

  itMosquitto("wss: QoS 1 and 2 over WebSocket over TLS", () =>
    roundTrip(
      () => wsTransport({ tls: { ca: pki.ca.cert } }),
      () => ports.wss,
      "wss",
    ),
  );

  itMosquitto("an untrusted broker certificate is refused with sslnottrusted", async () => {
    const c = client(ports.tls, tlsTransport(), "untrusted");
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "connectionlost", cause: { code: "sslnottrusted" } });
  });
});
