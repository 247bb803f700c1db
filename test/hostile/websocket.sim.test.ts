/**
 * Hostile and slow WebSocket peers where time matters, on the simulated network (virtual time):
 * the idle timeout of upgraded WebSockets, and keepalive pings that detect a dead peer, on the
 * server and on the client. The watchdog leaves no timer behind once the connections closed.
 */
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { HttpServer } from "../../src/http/server.js";
import { req2sock, wsConnect, type UpgradeOptions } from "../../src/websocket/handshake.js";
import { WebSocket, WebSocketError } from "../../src/websocket/connection.js";
import { echoCosocket } from "../../examples/05-websocket-server.js";
import { until } from "../support/util.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";

let sim: SimNetwork;
let server: Runtime;
let client: Runtime;
let http: HttpServer | undefined;
let logs: string[];
/** How the server's cosockets ended: null (peer's close) or what their read threw. */
let endings: unknown[];

beforeEach(() => {
  sim = new SimNetwork({ seed: 11, link: { latency: 5 } });
  logs = [];
  endings = [];
  server = new Runtime(sim.host(SERVER), { log: (m) => logs.push(m) });
  client = new Runtime(sim.host(CLIENT), { log: (m) => logs.push(m) });
});

afterEach(() => {
  http?.close();
  http = undefined;
  server.shutdown();
  client.shutdown();
});

/** Reads until the peer's close (null) or an error; echoes with `echo`. */
async function reader(ws: WebSocket): Promise<void> {
  try {
    for (;;) {
      const m = await ws.readMessage();
      if (!m) break;
    }
    endings.push(null);
  } catch (e) {
    endings.push(e);
  }
}

async function listen(options: UpgradeOptions, echo = false): Promise<void> {
  http = await HttpServer.listen(
    server,
    async (req, res) => {
      const ws = await req2sock(req, res, options);
      if (ws instanceof WebSocket) ws.event(echo ? echoCosocket : reader, "s");
    },
    { port: 80 },
  );
}

function closedEverywhere(): Promise<void> {
  return until(client, () => server.stat().activeCons === 0 && client.stat().activeCons === 0, 60000, "both ends closed");
}

describe("idle timeout", () => {
  it("a WebSocket on which nothing happens is closed with 1001 after idleTimeout; its slot comes back", async () => {
    await listen({ idleTimeout: 5000 });
    const ws = await wsConnect(client, `ws://${SERVER}/`, { idleTimeout: 0 });
    const t0 = client.host.now();
    expect(await ws.readMessage()).toBeNull(); // the server's close frame, answered
    const waited = client.host.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(5000);
    expect(waited).toBeLessThanOrEqual(5000 + 1000 + 100); // a watchdog tick at most, plus latency
    expect(ws.closeCode).toBe(1001);
    await until(client, () => endings.length === 1, 10000, "the server's reader to end");
    expect(endings[0]).toBeInstanceOf(WebSocketError);
    expect((endings[0] as WebSocketError).closeCode).toBe(1001);
    await closedEverywhere();
    expect(http!.webSockets).toBe(0);
    // the watchdog stopped with the last connection (the closing socket's linger timer ends too)
    await until(server, () => server.stat().timers === 0, 5000, "the server's timers to end");
    expect(logs).toEqual([]);
  });

  it("traffic keeps it open: a message every 3 s for 20 s, with a 5 s idle timeout", async () => {
    await listen({ idleTimeout: 5000 }, true);
    const ws = await wsConnect(client, `ws://${SERVER}/`, { idleTimeout: 0 });
    for (let i = 0; i < 7; i++) {
      await client.sleep(3000);
      await ws.write(`tick ${i}`);
      expect(decodeUtf8((await ws.readMessage(1000))!.data)).toBe(`tick ${i}`);
    }
    expect(http!.webSockets).toBe(1);
    expect(await ws.close()).toBe(true);
    await closedEverywhere();
  });

  it("an idle timeout of 0 never closes", async () => {
    await listen({ idleTimeout: 0 });
    const ws = await wsConnect(client, `ws://${SERVER}/`, { idleTimeout: 0 });
    await client.sleep(600000);
    expect(http!.webSockets).toBe(1);
    expect(server.stat().timers).toBe(0); // nothing watched, no timer
    expect(await ws.close()).toBe(true);
    await closedEverywhere();
  });
});

describe("keepalive", () => {
  it("a peer that answers the pings stays; one that stops answering is dead: abort, 1006", async () => {
    await listen({ idleTimeout: 0, pingInterval: 2000, pongTimeout: 1000 });
    const ws = await wsConnect(client, `ws://${SERVER}/`, { idleTimeout: 0 });
    const reading = ws.readMessage(); // the client answers pings while it reads
    await client.sleep(20000); // ten keepalive rounds, all answered
    expect(http!.webSockets).toBe(1);
    expect(endings).toEqual([]);
    const t0 = server.host.now();
    sim.connections()[0].stall(true); // the client goes silent (a cable pulled)
    await until(server, () => endings.length === 1, 20000, "the server to give up on the client");
    const waited = server.host.now() - t0;
    expect(waited).toBeLessThanOrEqual(2000 + 1000 + 2 * 500 + 100); // interval + pongTimeout + ticks
    const e = endings[0] as WebSocketError;
    expect(e).toBeInstanceOf(WebSocketError);
    expect(e.closeCode).toBe(1006);
    expect(e.message).toMatch(/keepalive/);
    expect(server.stat().activeCons).toBe(0); // aborted at once: nothing lingers
    expect(http!.webSockets).toBe(0);
    ws.sock.abort();
    await reading.catch(() => undefined);
    expect(logs).toEqual([]);
  });

  it("the client side: a server that goes silent is detected dead; the reader gets 1006", async () => {
    await listen({ idleTimeout: 0 });
    const ws = await wsConnect(client, `ws://${SERVER}/`, { idleTimeout: 0, pingInterval: 3000, pongTimeout: 2000 });
    const reading = ws.readMessage().then(
      () => null,
      (e: unknown) => e,
    );
    await client.sleep(10000);
    sim.connections()[0].stall(true);
    const e = (await reading) as WebSocketError;
    expect(e).toBeInstanceOf(WebSocketError);
    expect(e.closeCode).toBe(1006);
    expect(client.stat().activeCons).toBe(0);
    expect(client.stat().timers).toBe(0);
    expect(logs).toEqual([]);
  });
});

describe("runtime: maxWriters bounds the writers suspended on one socket", () => {
  it("the writer beyond the bound gets busy and nothing of it is taken", async () => {
    const bounded = new Runtime(sim.host("10.0.0.3"), { maxWriters: 4 });
    const listener = await server.bind(7);
    let accepted = 0;
    listener.event(async (l) => {
      while (await l.accept()) accepted++; // accepted and never read: its window stays shut
    });
    try {
      const sock = await bounded.connect(SERVER, 7);
      await until(bounded, () => accepted === 1, 3000, "the peer to accept");
      const big = new Uint8Array(1 << 20);
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) writes.push(sock.write(big).catch((e: unknown) => e));
      expect(sock.suspendedWriters).toBe(4);
      const queued = sock.queued;
      await expect(sock.write(big)).rejects.toMatchObject({ code: "busy" });
      expect(sock.suspendedWriters).toBe(4);
      expect(sock.queued).toBe(queued);
      expect(sock.trywrite("x")).toBe(queued); // a non-suspending write is told the queue is full
      sock.close();
      for (const r of await Promise.all(writes)) expect(r).toMatchObject({ code: "socketclosed" });
    } finally {
      bounded.shutdown();
      listener.close();
    }
  });
});
