/**
 * The device's WebSocket client app (examples/ws-client.ts, loaded by manifests/wsclient) against
 * a real `ws` server on loopback: on hosts/moddable over the ECMA-419 emulation of lwIP with the
 * device defaults (what the device runs), and on the node host. Messages go out on the interval
 * and come back; after the server closes (close frame or dropped TCP) or is not there, the app
 * connects again; `wss:` without TLS and non-WebSocket URLs stop at once.
 */
import { createServer, type AddressInfo } from "node:net";
import { WebSocketServer, type RawData, type WebSocket as WsSocket } from "ws";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { moddableHost } from "../../hosts/moddable/index.js";
import { deviceOptions } from "../../device/defaults.js";
import { wsClientApp, type WsClientApp } from "../../examples/ws-client.js";
import { ecma419, type Emulation } from "../device/ecma419.js";
import { DEVICE_MSS } from "../device/moddable-env.js";
import { until } from "../support/util.js";

interface Peer {
  port: number;
  url: string;
  /** Per connection: the text messages it received, and the close code the client sent. */
  conns: { messages: string[]; closeCode?: number; sock: WsSocket }[];
  close(): Promise<void>;
}

/** A `ws` echo server on 127.0.0.1 (`port` 0: a free one); `onMessage` may act on a connection. */
async function wsPeer(port = 0, onMessage?: (conn: Peer["conns"][number], index: number) => void): Promise<Peer> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", () => resolve());
    wss.once("error", reject);
  });
  const actual = (wss.address() as AddressInfo).port;
  const peer: Peer = {
    port: actual,
    url: `ws://127.0.0.1:${actual}/ws`,
    conns: [],
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
  wss.on("connection", (sock) => {
    const conn: Peer["conns"][number] = { messages: [], sock };
    const index = peer.conns.push(conn) - 1;
    sock.on("error", () => undefined);
    sock.on("close", (code) => (conn.closeCode = code));
    sock.on("message", (d: RawData, isBinary: boolean) => {
      conn.messages.push(String(d));
      if (sock.readyState !== sock.OPEN) return;
      sock.send(d as Buffer, { binary: isBinary });
      onMessage?.(conn, index);
    });
  });
  return peer;
}

/** A port nothing listens on (bound once, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Setup {
  rt: Runtime;
  wsLimits: { maxFrame?: number; maxMessage?: number };
  emu?: Emulation;
}

const HOSTS: [string, (log: (m: string) => void) => Setup][] = [
  [
    "device host (hosts/moddable over the lwIP emulation, device defaults)",
    (log) => {
      const emu = ecma419({ sendBuffer: DEVICE_MSS });
      const device = deviceOptions();
      return { rt: new Runtime(moddableHost(emu), { ...device.runtime, log }), wsLimits: device.ws, emu };
    },
  ],
  ["node host", (log) => ({ rt: new Runtime(nodeHost(), { log }), wsLimits: {} })],
];

describe.each(HOSTS)("the WebSocket client app on the %s", (_name, make) => {
  let setup: Setup;
  let rt: Runtime;
  let lines: string[];
  let logs: string[];
  let app: WsClientApp | undefined;
  let peers: Peer[];
  const log = (s: string) => lines.push(s);
  const start = (url: string, o: { interval?: number; retryDelay?: number } = {}) =>
    (app = wsClientApp(rt, { ...setup.wsLimits, url, interval: o.interval ?? 40, retryDelay: o.retryDelay ?? 100 }, log));
  const peer = async (port?: number, onMessage?: Parameters<typeof wsPeer>[1]) => {
    const p = await wsPeer(port, onMessage);
    peers.push(p);
    return p;
  };

  beforeEach(() => {
    lines = [];
    logs = [];
    peers = [];
    app = undefined;
    setup = make((m) => logs.push(m));
    rt = setup.rt;
  });

  afterEach(async () => {
    await app?.stop();
    rt.shutdown();
    for (const p of peers) await p.close();
    await new Promise((r) => setTimeout(r, 5));
    setup.emu?.shutdown();
    expect(setup.emu?.violations ?? []).toEqual([]); // no misuse of the device's sockets
    expect(logs).toEqual([]); // the runtime logged nothing (no coroutine failed)
  });

  it("sends a message every interval and prints each echo; stop() closes with 1001", async () => {
    const p = await peer();
    const a = start(p.url);
    await until(rt, () => a.received >= 4, 5000, "four echoes");
    expect(lines[0]).toBe(`connected to ${p.url}`);
    const received = lines.filter((l) => l.startsWith("received: ")).slice(0, 4);
    expect(received).toEqual([1, 2, 3, 4].map((n) => `received: hello ${n} from cosock`));
    expect(p.conns).toHaveLength(1);
    expect(p.conns[0]!.messages.slice(0, 4)).toEqual([1, 2, 3, 4].map((n) => `hello ${n} from cosock`));
    await a.stop();
    expect(a.connections).toBe(1);
    expect(lines[lines.length - 1]).toBe("closed");
    await until(rt, () => p.conns[0]!.closeCode !== undefined, 2000, "the server to see the close");
    expect(p.conns[0]!.closeCode).toBe(1001);
    expect(rt.stat().activeCons).toBe(0);
  });

  it("the interval paces the messages", async () => {
    const p = await peer();
    const a = start(p.url, { interval: 150 });
    await until(rt, () => a.received >= 1, 5000, "the first echo");
    const t0 = rt.host.now();
    await until(rt, () => a.received >= 4, 5000, "three more echoes");
    const took = rt.host.now() - t0;
    expect(took).toBeGreaterThanOrEqual(3 * 150 - 100); // unpaced, the four would come within milliseconds
    expect(took).toBeLessThan(3 * 150 + 2000);
    expect(a.sent).toBeLessThanOrEqual(a.received + 1);
  });

  it("reconnects after the server's close frame, and keeps counting the messages", async () => {
    // the server closes each connection after its second message (with 4000 "bye")
    const p = await peer(0, (conn) => {
      if (conn.messages.length === 2) conn.sock.close(4000, "bye");
    });
    const a = start(p.url);
    await until(rt, () => p.conns.length >= 2 && p.conns[1]!.messages.length >= 2, 5000, "a second connection with two messages");
    expect(lines).toContain("closed by the server (4000 bye)");
    expect(lines).toContain("reconnecting in 100 ms");
    expect(a.connections).toBeGreaterThanOrEqual(2);
    expect(p.conns[0]!.messages.slice(0, 2)).toEqual(["hello 1 from cosock", "hello 2 from cosock"]);
    // the count goes on over connections (one sent as the close frame came in may be lost)
    const n = Number(/^hello (\d+) from cosock$/.exec(p.conns[1]!.messages[0]!)?.[1]);
    expect(n).toBeGreaterThanOrEqual(3);
    expect(p.conns[1]!.messages[1]).toBe(`hello ${n + 1} from cosock`);
    expect(p.conns[0]!.closeCode).toBe(4000); // our answer echoed the server's code
    await until(rt, () => lines.includes(`received: hello ${n} from cosock`), 5000, "the echo on the second connection");
  });

  it("reconnects after the server drops the TCP connection without a close frame", async () => {
    const p = await peer(0, (conn, index) => {
      if (index === 0 && conn.messages.length === 1) conn.sock.terminate();
    });
    const a = start(p.url);
    await until(rt, () => p.conns.length >= 2 && a.received >= 2, 5000, "a second connection and its echo");
    expect(lines.some((l) => /^connection lost: .*websocket 1006/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith("connected to "))).toHaveLength(2);
    // the count goes on over connections (a message written just before the drop was noticed is lost)
    const n = Number(/^hello (\d+) from cosock$/.exec(p.conns[1]!.messages[0]!)?.[1]);
    expect(n).toBeGreaterThan(p.conns[0]!.messages.length);
    expect(n).toBeLessThanOrEqual(a.sent);
  });

  it("keeps trying while nothing listens, and connects once the server is there", async () => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/ws`;
    const a = start(url, { retryDelay: 50 });
    await until(rt, () => lines.filter((l) => l.startsWith("cannot connect")).length >= 2, 5000, "two failed attempts");
    expect(lines[0]).toMatch(new RegExp(`^cannot connect to ${url}: cannotconnect`));
    expect(a.connections).toBe(0);
    const p = await peer(port);
    await until(rt, () => a.received >= 1, 5000, "an echo after the server came up");
    expect(p.conns).toHaveLength(1);
    expect(lines).toContain(`connected to ${url}`);
  });

  it("stop() during the pause before reconnecting ends at once", async () => {
    const port = await freePort();
    const a = start(`ws://127.0.0.1:${port}/`, { retryDelay: 60000 });
    await until(rt, () => lines.some((l) => l.startsWith("reconnecting in 60000 ms")), 5000, "the pause");
    const t0 = Date.now();
    await a.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(rt.stat().timers).toBe(0); // the pause's timer was cancelled
  });

  it("a URL that is not ws:// stops at once (incorrectuse), without connecting", async () => {
    const a = start("http://127.0.0.1:1/");
    await expect(a.done).rejects.toMatchObject({ code: "incorrectuse" });
    expect(lines).toEqual(["http://127.0.0.1:1/: incorrectuse: not a WebSocket URL: http://127.0.0.1:1/; not retrying"]);
    expect(rt.stat().totalCons).toBe(0);
  });
});

describe("wss: on a device host without TLS (a platform with no embedded:io/socket/tcp/tls)", () => {
  it("fails at once with sslnotenabled and a clear line, without connecting or retrying", async () => {
    const emu = ecma419({ sendBuffer: DEVICE_MSS, tls: false });
    const device = deviceOptions();
    const rt = new Runtime(moddableHost(emu), device.runtime);
    const lines: string[] = [];
    const p = await wsPeer(); // something listens: the failure is not the network's
    try {
      const app = wsClientApp(rt, { ...device.ws, url: `wss://127.0.0.1:${p.port}/`, retryDelay: 10 }, (l) => lines.push(l));
      await expect(app.done).rejects.toMatchObject({ code: "sslnotenabled" });
      expect(lines).toEqual([
        `wss://127.0.0.1:${p.port}/: sslnotenabled: this host has no TLS (wss: needs TLS, which this host does not have); not retrying`,
      ]);
      await new Promise((r) => setTimeout(r, 50));
      expect(app.connections).toBe(0);
      expect(p.conns).toHaveLength(0);
      expect(emu.stats.activeSockets).toBe(0);
    } finally {
      rt.shutdown();
      await p.close();
      emu.shutdown();
    }
    expect(emu.violations).toEqual([]);
  });
});
