/**
 * Hostile and slow WebSocket peers over real sockets (127.0.0.1): a raw node:net attacker
 * against our server (example 5's echo and a recording cosocket behind `req2sock`), and a raw
 * node:net server against our `wsConnect`. Each attack asserts bounds that a leak cannot hide
 * behind — the socket's queued bytes and suspended writers (`rt.stat()`), the server's
 * connection and WebSocket slots — and that a normal client is served during and after it.
 */
import { once } from "node:events";
import { Runtime, SocketError, decodeUtf8, encodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { isUpgrade, req2sock, wsConnect } from "../../src/websocket/handshake.js";
import { httpRequest } from "../../src/http/client.js";
import { WebSocket, WebSocketError } from "../../src/websocket/connection.js";
import { echoCosocket } from "../../examples/05-websocket-server.js";
import { KEY, rawFrame, type RawFrame } from "../websocket/codec-helpers.js";
import { until } from "../support/util.js";
import { RawClient, closeOf, rawServer, serverFrame, switching, wsAccept, type WireFrame } from "../support/ws-raw.js";

const OP_TEXT = 1;
const OP_CLOSE = 8;
const OP_PING = 9;

/** A client frame (masked). */
const cf = (f: Omit<RawFrame, "mask">): Uint8Array => rawFrame({ mask: KEY, ...f });
const fill = (n: number, v = 0x61) => new Uint8Array(n).fill(v);

let rt: Runtime;
let server: HttpServer;
let logs: string[];
/** What the recording cosocket (/rec) read, and how its reading ended. */
let received: string[];
let endings: unknown[];

async function recorder(ws: WebSocket): Promise<void> {
  try {
    for (;;) {
      const m = await ws.readMessage();
      if (!m) break;
      received.push(decodeUtf8(m.data));
    }
    endings.push(null);
  } catch (e) {
    endings.push(e);
  }
}

/** Pushes 256 KiB messages until the peer closes or the write fails (for a peer that never reads). */
async function pusher(ws: WebSocket): Promise<void> {
  const big = fill(256 * 1024, 0x62);
  try {
    for (;;) await ws.write(big);
  } catch (e) {
    endings.push(e);
  }
}

let pushed: WebSocket | undefined;

const handler: Handler = async (req, res) => {
  if (!isUpgrade(req)) return res.send("plain ok\n");
  const ws = await req2sock(req, res, { closeTimeout: 300 });
  if (!(ws instanceof WebSocket)) return;
  if (req.path === "/push") pushed = ws;
  ws.event(req.path === "/rec" ? recorder : req.path === "/push" ? pusher : echoCosocket, "s");
};

beforeEach(async () => {
  logs = [];
  received = [];
  endings = [];
  rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
  server = await HttpServer.listen(rt, handler, { intf: "127.0.0.1" });
});

afterEach(async () => {
  server.close();
  rt.shutdown();
  await new Promise((r) => setTimeout(r, 5));
});

async function upgraded(path = "/ws"): Promise<RawClient> {
  const c = RawClient.upgrade(server.port, path);
  const head = await c.head;
  expect(head.status).toBe(101);
  expect(head.headers.get("sec-websocket-accept")).toBe(wsAccept(c.key));
  return c;
}

/** A normal client is served: an echo round trip and a clean close. */
async function served(): Promise<void> {
  const ws = await wsConnect(rt, `ws://127.0.0.1:${server.port}/ws`, { timeout: 3000 });
  await ws.write("still here");
  const m = await ws.readMessage(3000);
  expect(m && decodeUtf8(m.data)).toBe("still here");
  expect(await ws.close()).toBe(true);
}

/** A plain HTTP request is served. */
async function servedHttp(): Promise<void> {
  const res = await httpRequest(rt, `http://127.0.0.1:${server.port}/`, { timeout: 3000 });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("plain ok\n");
}

/** Nothing left open on the server's side, nothing logged. */
async function noLeak(): Promise<void> {
  await until(rt, () => rt.stat().activeCons === 0 && server.connections === 0, 5000, "connections to end");
  expect(rt.stat().queuedBytes).toBe(0);
  expect(rt.stat().suspendedWriters).toBe(0);
  expect(logs).toEqual([]);
}

describe("server: a ping flood from a peer that never reads", () => {
  it("keeps one pong at most in the queue: queued bytes and suspended writers stay bounded", async () => {
    const attacker = await upgraded("/rec");
    attacker.sock.pause(); // never reads: the server's pongs pile up in its send path
    const ping = cf({ opcode: OP_PING, payload: fill(125, 7) });
    const batch = Buffer.concat(Array.from({ length: 2000 }, () => ping));
    let maxQueued = 0;
    let maxWriters = 0;
    const sample = () => {
      const s = rt.stat();
      maxQueued = Math.max(maxQueued, s.queuedBytes);
      maxWriters = Math.max(maxWriters, s.suspendedWriters);
    };
    for (let i = 0; i < 100; i++) {
      // 200 000 pings (26 MB), far more than the kernel's socket buffers hold of their pongs
      if (!attacker.sock.write(batch)) await once(attacker.sock, "drain");
      sample();
    }
    attacker.send(cf({ opcode: OP_TEXT, payload: encodeUtf8("after the flood") }));
    await until(rt, () => received.includes("after the flood"), 20000, "the server to read past the flood");
    sample();
    // one pong frame (127 bytes) beyond the cosocket's suspendAt, one suspended writer
    expect(maxWriters).toBeLessThanOrEqual(1);
    expect(maxQueued).toBeLessThanOrEqual(rt.options.suspendAt + 127);
    await served(); // during the attack (the attacker is still connected)
    attacker.destroy();
    await until(rt, () => endings.length === 1, 5000, "the attacked connection to end");
    await served(); // and after it
    await noLeak();
  }, 30000);
});

describe("server: a valid message and a protocol error in the same read", () => {
  it("delivers the message, then fails with the error's close code", async () => {
    const attacker = await upgraded("/rec");
    attacker.send(Buffer.concat([cf({ opcode: OP_TEXT, payload: encodeUtf8("whole") }), Buffer.from([0xff, 0xff, 0xff, 0xff])]));
    const frames = await attacker.waitClose(3000);
    const close = frames.find((f: WireFrame) => f.opcode === OP_CLOSE)!;
    expect(closeOf(close).code).toBe(1002);
    await until(rt, () => endings.length === 1, 5000, "the reader to end");
    expect(received).toEqual(["whole"]);
    expect(endings[0]).toBeInstanceOf(WebSocketError);
    expect((endings[0] as WebSocketError).closeCode).toBe(1002);
    attacker.destroy();
    await noLeak();
  });
});

describe("client: a valid message and a protocol error in the same read", () => {
  it("delivers the message, then fails with the error's close code", async () => {
    const peer = await rawServer((conn) => {
      conn.sock.write(switching(conn.key));
      conn.sock.write(Buffer.concat([serverFrame(OP_TEXT, encodeUtf8("whole")), Buffer.from([0xff, 0xff, 0xff, 0xff])]));
    });
    try {
      const ws = await wsConnect(rt, `ws://127.0.0.1:${peer.port}/`, { timeout: 3000 });
      await new Promise((r) => setTimeout(r, 50));
      const m = await ws.readMessage(3000);
      expect(m && decodeUtf8(m.data)).toBe("whole");
      await expect(ws.readMessage(3000)).rejects.toMatchObject({ closeCode: 1002 });
    } finally {
      await peer.close();
    }
  });
});

describe("server: WebSockets held open count against maxWebSockets", () => {
  it("over the cap the upgrade gets 503 before any 101; a closed WebSocket gives its slot back", async () => {
    server.close();
    server = await HttpServer.listen(rt, handler, { intf: "127.0.0.1", limits: { maxWebSockets: 3 } });
    const held = [await upgraded("/rec"), await upgraded("/rec"), await upgraded("/rec")];
    expect(server.webSockets).toBe(3);
    expect(server.connections).toBe(0); // upgraded: no longer HTTP connections
    const refused = RawClient.upgrade(server.port, "/rec");
    const head = await refused.head;
    expect(head.status).toBe(503);
    expect(await refused.waitEnd(3000)).toBe(true);
    refused.destroy();
    expect(server.webSockets).toBe(3);
    await servedHttp(); // plain HTTP is served meanwhile
    held[0].destroy();
    await until(rt, () => server.webSockets === 2, 5000, "the slot to come back");
    const again = await upgraded("/rec");
    expect(server.webSockets).toBe(3);
    for (const c of [...held, again]) c.destroy();
    await until(rt, () => endings.length === 4, 5000, "the held connections to end");
    await until(rt, () => server.webSockets === 0, 5000, "every slot to come back");
    await noLeak();
  });
});

describe("server: a close frame stuck behind megabytes for a peer that never reads", () => {
  it("close() waits closeTimeout at most, then aborts: nothing lingers, the writer is told", async () => {
    const attacker = await upgraded("/push");
    attacker.sock.pause();
    await until(rt, () => rt.stat().suspendedWriters >= 1, 5000, "the pusher to block");
    expect(rt.stat().suspendedWriters).toBe(1);
    expect(rt.stat().queuedBytes).toBeLessThanOrEqual(256 * 1024 + 16);
    expect(await pushed!.close(1001)).toBe(true); // the close frame queues behind the stuck message
    expect(rt.lingering.size).toBe(0); // aborted, not closed with bytes still owed
    expect(pushed!.closed).toBe(true);
    await until(rt, () => endings.length === 1, 5000, "the pusher to be told");
    expect(endings[0]).toBeInstanceOf(SocketError);
    // the peer never got a close frame: only (part of) the data the server was pushing
    attacker.sock.resume();
    await attacker.waitFor(() => attacker.endedFlag || attacker.error !== undefined, 3000);
    expect(attacker.frames().some((f) => f.opcode === OP_CLOSE)).toBe(false);
    attacker.destroy();
    await servedHttp();
    await noLeak();
  });
});

describe("client: wsConnect against a malicious server", () => {
  let srv: Awaited<ReturnType<typeof rawServer>> | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  /** A server that reads the upgrade request and then does `answer`. */
  async function hostile(answer: Parameters<typeof rawServer>[0]): Promise<string> {
    srv = await rawServer(answer);
    return `ws://127.0.0.1:${srv.port}/`;
  }

  it("endless header fields: refused at maxHeaders (invalidsocketcon), not buffered without end", async () => {
    const url = await hostile((c) => {
      c.sock.write("HTTP/1.1 101 Switching Protocols\r\n");
      const line = Buffer.from("X-Filler: " + "f".repeat(100) + "\r\n");
      const pump = () => {
        while (!c.sock.destroyed && c.sock.write(line));
        if (!c.sock.destroyed) c.sock.once("drain", pump);
      };
      c.sock.on("error", () => undefined);
      pump();
    });
    const e = await wsConnect(rt, url, { timeout: 3000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SocketError);
    expect((e as SocketError).code).toBe("invalidsocketcon");
    expect((e as SocketError).message).toMatch(/more than 64 header fields/);
    await until(rt, () => rt.stat().activeCons === 0, 3000, "the connection to close");
  });

  it("one huge header line: refused at maxLine (invalidsocketcon)", async () => {
    const url = await hostile((c) => {
      c.sock.on("error", () => undefined);
      c.sock.write("HTTP/1.1 101 Switching Protocols\r\nX-Huge: " + "h".repeat(1 << 20));
    });
    await expect(wsConnect(rt, url, { timeout: 3000 })).rejects.toMatchObject({ code: "invalidsocketcon" });
    await until(rt, () => rt.stat().activeCons === 0, 3000, "the connection to close");
  });

  it("a head dripped a byte at a time: timeout, not a wait without end", async () => {
    let drip: ReturnType<typeof setInterval> | undefined;
    const url = await hostile((c) => {
      const head = Buffer.from(switching(c.key));
      let at = 0;
      c.sock.on("error", () => undefined);
      drip = setInterval(() => {
        if (at < head.length && !c.sock.destroyed) c.sock.write(head.subarray(at, ++at));
      }, 20);
    });
    try {
      await expect(wsConnect(rt, url, { timeout: 200 })).rejects.toMatchObject({ code: "timeout" });
    } finally {
      clearInterval(drip);
    }
    await until(rt, () => rt.stat().activeCons === 0, 3000, "the connection to close");
  });

  it("a 101 with a wrong Sec-WebSocket-Accept is refused (invalidsocketcon)", async () => {
    const url = await hostile((c) => c.sock.write(switching("dGhlIHNhbXBsZSBub25jZQ==")));
    await expect(wsConnect(rt, url, { timeout: 3000 })).rejects.toMatchObject({ code: "invalidsocketcon" });
  });

  it("a frame over maxFrame: closed with 1009 before its payload is read", async () => {
    const url = await hostile((c) => {
      c.sock.write(switching(c.key));
      c.sock.write(Uint8Array.from([0x82, 127, 0, 0, 0, 0, 0x40, 0, 0, 0])); // 1 GiB declared
    });
    const ws = await wsConnect(rt, url, { timeout: 3000, maxFrame: 4096, closeTimeout: 300 });
    await expect(ws.readMessage(3000)).rejects.toMatchObject({ closeCode: 1009 });
    await until(rt, () => srv!.conns[0].bytes().length > 0, 3000, "our close frame");
    await until(rt, () => rt.stat().activeCons === 0, 3000, "the connection to close");
  });

  it("a ping flood at a client whose pongs are not read: one pong queued at most", async () => {
    let done = false;
    const url = await hostile((c) => {
      c.sock.pause(); // never reads our pongs
      c.sock.write(switching(c.key));
      const batch = Buffer.concat(Array.from({ length: 2000 }, () => serverFrame(OP_PING, fill(125, 3))));
      let sent = 0;
      const pump = () => {
        while (sent < 100 && c.sock.write(batch)) sent++;
        if (sent < 100) c.sock.once("drain", pump);
        else c.sock.write(serverFrame(OP_TEXT, encodeUtf8("after the flood")), () => (done = true));
      };
      c.sock.on("error", () => undefined);
      pump();
    });
    const ws = await wsConnect(rt, url, { timeout: 3000 });
    let maxQueued = 0;
    let maxWriters = 0;
    for (;;) {
      const m = await ws.readMessage(10000);
      const s = rt.stat();
      maxQueued = Math.max(maxQueued, s.queuedBytes);
      maxWriters = Math.max(maxWriters, s.suspendedWriters);
      if (m && decodeUtf8(m.data) === "after the flood") break;
    }
    expect(done).toBe(true);
    expect(maxWriters).toBeLessThanOrEqual(1);
    expect(maxQueued).toBeLessThanOrEqual(131); // no cosocket: one masked pong (2 + 4 + 125 bytes)
    await served(); // our server, through the same runtime, meanwhile
    ws.sock.abort();
  }, 30000);
});
