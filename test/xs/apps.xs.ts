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
import { until } from "../support/util.js";

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
async function start(name: string, overrides: Record<string, unknown> = {}, before?: (peer: Runtime) => Promise<void>): Promise<Started> {
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
      await until(peer, () => lines.some((l) => l.includes(text)), limit, `the app to print "${text}" (it printed: ${JSON.stringify(lines)})`);
      return lines.find((l) => l.includes(text))!;
    },
  };
  running = started;
  if (before) await before(peer);
  const app = deviceApp(name);
  installDevice(net.host(DEVICE), { ...app.config, ...overrides });
  await app.load();
  return started;
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
});
