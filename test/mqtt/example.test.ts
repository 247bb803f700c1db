/** examples/mqtt-client.ts against mosquitto: as a function, and as a program run with tsx. */
import { spawn } from "node:child_process";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { mqttExample } from "../../examples/mqtt-client.js";
import { itWithPeer } from "../support/peers.js";
import { Broker } from "./broker.js";
import { Signal } from "./helpers.js";

const itMosquitto = itWithPeer("mosquitto", "apt-get install mosquitto mosquitto-clients");

let broker: Broker | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

describe.each([4, 5] as const)("the MQTT example (MQTT v%i)", (v) => {
  itMosquitto("connects, subscribes, publishes at each QoS and prints what comes back", async () => {
    broker = await Broker.start();
    const rt = new Runtime(nodeHost());
    const lines: string[] = [];
    const signal = new Signal();
    const log = (s: string) => {
      lines.push(s);
      signal.poke();
    };
    try {
      const client = await mqttExample(rt, { host: "127.0.0.1", port: broker.port, topic: `example/${v}`, protocolVersion: v }, log);
      await signal.until(() => lines.filter((l) => l.startsWith("received")).length === 3, "three messages back");
      expect(lines[0]).toMatch(
        new RegExp(`^connected to 127\\.0\\.0\\.1:${broker.port} as cosock-[0-9a-f]{8} \\(MQTT ${v === 5 ? "5" : "3\\.1\\.1"}\\)$`),
      );
      expect(lines[1]).toBe(`subscribed to example/${v}/# (granted QoS 2)`);
      for (const q of [0, 1, 2]) {
        expect(lines).toContain(`published example/${v}/qos${q} (reason code 0)`);
        expect(lines).toContain(`received example/${v}/qos${q} (QoS ${q}): hello 0 at QoS ${q}`);
      }
      await client.disconnect();
    } finally {
      rt.shutdown();
    }
  });
});

itMosquitto("the example runs as a program and exits", async () => {
  broker = await Broker.start();
  const proc = spawn("node_modules/.bin/tsx", ["examples/mqtt-client.ts", "--port", String(broker.port), "--topic", "example/cli"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  expect(out).toContain("subscribed to example/cli/# (granted QoS 2)");
  expect(out).toContain("received example/cli/qos2 (QoS 2): hello 0 at QoS 2");
  expect(code).toBe(0);
});
