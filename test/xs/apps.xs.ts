/**
 * The device apps on XS as strict as the device (run by `npm run test:xs`, not by jest): each
 * app's main (manifests/<app>/main.ts) starts under the device's limits (built-ins frozen, a
 * 384-slot JavaScript stack, set before its module loads) on a device host of the simulated
 * network (tools/xs/device/: `deviceRuntime()` with the device defaults and the manifest's config),
 * and a peer on the same network drives one round of the app's work.
 */
import { Runtime, decodeUtf8, encodeUtf8, type Socket } from "../../src/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { deviceRuntimes, installDevice } from "../../tools/xs/device/device.js";
import { deviceApp } from "../../tools/xs/device/apps.js";
import { acceptKey } from "../../src/websocket/handshake.js";
import { WebSocket } from "../../src/websocket/connection.js";
import { ModbusClient } from "../../modules/modbus/index.js";
import { deviceWsDefaults } from "../../device/defaults.js";
import Time from "../../tools/xs/device/time.js";
import { httpRequest } from "../../src/http/client.js";
import { wsConnect } from "../../src/websocket/handshake.js";
import { MiniBroker } from "../mqtt/mini-broker.js";
import { until } from "../support/util.js";
import { ntpServer } from "../ntp/ntp-server.js";

const DEVICE = "10.0.0.1";
const PEER = "10.0.0.2";

const g = globalThis as unknown as { trace?: (s: string) => void };

interface Started {
  net: SimNetwork;
  peer: Runtime;
  /** What the app printed with trace(), one entry per line. */
  lines: string[];
  /** Waits (virtual time) for a printed line containing `text`. */
  printed(text: string, limit?: number): Promise<string>;
}

let running: Started | undefined;
let savedTrace: typeof g.trace;

afterEach(() => {
  for (const rt of deviceRuntimes()) rt.shutdown();
  running?.peer.shutdown();
  running = undefined;
  g.trace = savedTrace;
});

/** Starts app `name` on the device host of a fresh network, with `overrides` over its config. */
async function start(
  name: string,
  overrides: Record<string, unknown> = {},
  before?: (peer: Runtime) => Promise<Record<string, unknown> | void>,
): Promise<Started> {
  const net = new SimNetwork({ seed: 9, link: { latency: 2 } });
  const peer = new Runtime(net.host(PEER));
  const lines: string[] = [];
  savedTrace = g.trace;
  g.trace = (s: string) => {
    for (const l of String(s).split("\n")) if (l) lines.push(l);
  };
  const started: Started = {
    net,
    peer,
    lines,
    async printed(text, limit = 30_000) {
      await until(
        peer,
        () => lines.some((l) => l.includes(text)),
        limit,
        `the app to print "${text}" (it printed: ${JSON.stringify(lines)})`,
      );
      return lines.find((l) => l.includes(text))!;
    },
  };
  running = started;
  // The peer's set-up, too, from a job of its own (the test's frames are not the device's).
  const more = before ? await Promise.resolve().then(() => before(peer)) : undefined;
  const app = deviceApp(name);
  installDevice(net.host(DEVICE), { ...app.config, ...overrides, ...more });
  // From a promise job of its own, so that the app's module starts near the bottom of the stack,
  // as a device's main module does (not on top of this function's and the runner's frames).
  await Promise.resolve().then(app.load);
  return started;
}

/**
 * A WebSocket echo server on the peer, on our runtime: the opening handshake read line by line and
 * answered by hand, then our server-side WebSocket. (Not src/http's HttpServer: its request-head
 * read nests more async calls than 384 slots hold on XS; see docs/device.md.)
 */
async function wsEchoServer(rt: Runtime, port: number): Promise<{ echoed: () => number; close(): void }> {
  const listener = await rt.bind(port);
  let echoed = 0;
  listener.event(async (l: Socket) => {
    for (;;) {
      const s = await l.accept();
      if (!s) return;
      s.event(async (sock: Socket) => {
        let key = "";
        for (;;) {
          const line = await sock.readLine();
          if (!line) break;
          const m = /^sec-websocket-key:\s*(\S+)/i.exec(line);
          if (m) key = m[1]!;
        }
        await sock.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
        );
        const ws = new WebSocket(sock, "server", "", deviceWsDefaults);
        for (;;) {
          const msg = await ws.readMessage();
          if (!msg) break;
          await ws.write(decodeUtf8(msg.data));
          echoed++;
        }
      }, "s");
    }
  }, "s");
  return { echoed: () => echoed, close: () => listener.close() };
}

async function roundTrip(sock: Socket, text: string): Promise<string> {
  await sock.write(encodeUtf8(text));
  let got = "";
  while (got.length < text.length) {
    const d = await sock.read();
    if (!d) break;
    got += decodeUtf8(d);
  }
  return got;
}

describe("device apps on XS, as strict as the device", () => {
  it("echo: listens on echo.port and echoes a message", async () => {
    const s = await start("echo");
    await s.printed("listening on port 7");
    const sock = await s.peer.connect(DEVICE, 7);
    expect(await roundTrip(sock, "hello, device")).toBe("hello, device");
    sock.close();
  });

  it("proxy: proxies a message to its own echo service", async () => {
    const s = await start("proxy");
    await s.printed("listening on port 8080 -> 127.0.0.1:7");
    const sock = await s.peer.connect(DEVICE, 8080);
    expect(await roundTrip(sock, "through the proxy")).toBe("through the proxy");
    sock.close();
  });

  it("ntp: sets the clock from an NTP server (example 1, a pool job)", async () => {
    let server!: { served: () => number };
    const skew = 3_600_000;
    const s = await start("ntp", { "ntp.server": PEER }, async (peer) => void (server = await ntpServer(peer, skew)));
    await s.printed("device clock set from 10.0.0.2:123");
    expect(server.served()).toBe(1);
    expect(Math.abs(Time.setTo! * 1000 - (s.peer.host.wallClock() + skew))).toBeLessThan(1000);
  });

  it("sntp: time, offset and delay from an NTP server (modules/ntp); sets the clock", async () => {
    let server!: { served: () => number };
    const skew = -90_000;
    const s = await start("sntp", { "ntp.server": PEER }, async (peer) => void (server = await ntpServer(peer, skew)));
    await s.printed("round trip");
    expect(server.served()).toBe(1);
    expect(s.lines.some((l) => l.includes("our clock is off by -90000.0 ms"))).toBe(true);
    await until(
      s.peer,
      () => Time.setTo !== undefined && Math.abs(Time.setTo * 1000 - (s.peer.host.wallClock() + skew)) < 1000,
      1000,
      "Time.set",
    );
  });

  it("mqtt: connects, subscribes and gets back its publishes at QoS 0, 1 and 2", async () => {
    let broker!: MiniBroker;
    const s = await start("mqtt", { "mqtt.host": PEER }, async (peer) => {
      broker = await MiniBroker.start(peer, PEER);
      return { "mqtt.port": broker.port };
    });
    try {
      await s.printed(`connected to ${PEER}:${broker.port}`);
      for (const qos of [0, 1, 2]) await s.printed(`received cosock/device/qos${qos} (QoS ${qos}): hello at QoS ${qos}`);
      expect(broker.publishes).toBe(3);
    } finally {
      broker.stop();
    }
  });

  it("modbus: serves its registers and coils to a Modbus client", async () => {
    const s = await start("modbus");
    await s.printed("listening on port 502");
    const client = await ModbusClient.connect(s.peer, DEVICE, { port: 502 });
    try {
      expect(await client.readHoldingRegisters(0, 2)).toEqual([220, 0]);
      await client.writeCoil(3, true);
      expect(await client.readCoils(0, 4)).toEqual([false, false, false, true]);
      await s.printed("coils 3..3 = true");
    } finally {
      client.close();
    }
  });

  it("wsclient: connects to a WebSocket server (ours), sends a message, prints the echo", async () => {
    let server!: Awaited<ReturnType<typeof wsEchoServer>>;
    const s = await start("wsclient", { "ws.url": `ws://${PEER}:8080/ws`, "ws.interval": 1000 }, async (peer) => {
      server = await wsEchoServer(peer, 8080);
    });
    try {
      await s.printed("connected to ws://10.0.0.2:8080/ws");
      await s.printed("received: hello 1 from cosock");
      await s.printed("received: hello 2 from cosock");
      expect(server.echoed()).toBeGreaterThanOrEqual(2);
    } finally {
      server.close();
    }
  });

  it("console: serves the console page and its statistics WebSocket; the echo service answers", async () => {
    const s = await start("console", { "console.every": 500 });
    await s.printed("cosock console on");
    const page = await httpRequest(s.peer, `http://${DEVICE}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("cosock");
    const ws = await wsConnect(s.peer, `ws://${DEVICE}/ws`, { headers: { Origin: `http://${DEVICE}` } });
    try {
      const msg = await ws.readMessage(5000);
      expect(msg).not.toBeNull();
      const stat = JSON.parse(decodeUtf8(msg!.data)) as { stat?: { activeCons?: number } };
      expect(stat.stat?.activeCons).toBeGreaterThan(0);
      const sock = await s.peer.connect(DEVICE, 7);
      expect(await roundTrip(sock, "hello, console")).toBe("hello, console");
      sock.close();
    } finally {
      await ws.close();
    }
  });
});
