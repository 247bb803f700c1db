/**
 * WebSocket interop in both directions over loopback.
 *
 * Our server (example 5's echo, scripted: test/support/ws-scripted.ts) with the clients `ws`,
 * undici's WebSocket and python3-websockets; our client (`wsConnect`) with a `ws` server and a
 * python3-websockets server. Text, binary, empty, 125/126/65535/65536-byte frames, fragmented
 * messages both ways (also UTF-8 split inside a character), ping/pong both ways, close codes.
 * Every test ends with no connection left open on our runtime.
 */
import WsWebSocket, { WebSocketServer, type RawData } from "ws";
import { WebSocket as UndiciWebSocket } from "undici";
import type { AddressInfo } from "node:net";
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { wsConnect } from "../../src/websocket/handshake.js";
import { type WebSocket, WebSocketError, type WebSocketOptions } from "../../src/websocket/connection.js";
import { example5 } from "../../examples/05-websocket-server.js";
import { until } from "../support/util.js";
import { binPattern, startScripted, type ScriptedServer } from "../support/ws-scripted.js";
import { itWithPythonWebsockets, runPythonWsClient, startPythonWsServer, type PythonServer } from "../support/ws-python.js";

const SIZES = [0, 1, 125, 126, 65535, 65536];
const MULTIBYTE = "héllo wörld € 𝄞 日本語";

function sized(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + n) & 0xff;
  return b;
}

const text = (d: Uint8Array) => decodeUtf8(d);

// ---------------------------------------------------------------------------------------------
// our server, foreign clients

/** A `ws` client with a message queue. */
async function wsClient(url: string, options: WsWebSocket.ClientOptions = {}) {
  const c = new WsWebSocket(url, { perMessageDeflate: false, ...options });
  const queue: { data: Buffer; isBinary: boolean }[] = [];
  const waiters: (() => void)[] = [];
  const errors: Error[] = [];
  const pongs: Buffer[] = [];
  c.on("error", (e) => errors.push(e)); // without a handler a ws protocol error crashes the process
  c.on("message", (data: RawData, isBinary: boolean) => {
    queue.push({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary });
    waiters.splice(0).forEach((w) => w());
  });
  c.on("pong", (d) => {
    pongs.push(d);
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    c.on("close", (code, reason) => r({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    c.once("open", () => resolve());
    c.once("error", reject);
  });
  const wait = (cond: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`ws client: no ${what}`)), 5000);
      const check = () => {
        if (cond()) {
          clearTimeout(t);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return {
    c,
    errors,
    pongs,
    closed,
    async next() {
      await wait(() => queue.length > 0, "message");
      return queue.shift()!;
    },
    async send(data: Buffer | string, opts: { binary?: boolean; fin?: boolean } = {}) {
      await new Promise<void>((resolve, reject) => c.send(data, opts, (e) => (e ? reject(e) : resolve())));
    },
    waitPong: (n: number) => wait(() => pongs.length >= n, "pong"),
  };
}

describe("our server with the ws client", () => {
  let s: ScriptedServer;
  beforeEach(async () => (s = await startScripted()));
  afterEach(async () => {
    // every connection ends, on both sides of the upgrade
    await until(s.rt, () => s.rt.stat().activeCons === 0 && s.server.connections === 0, 5000, "no connections");
    expect(s.logs).toEqual([]);
    s.stop();
  });

  it("echoes text, multibyte text, empty and 0/1/125/126/65535/65536-byte binary messages", async () => {
    const ws = await wsClient(s.url());
    for (const t of ["hello", MULTIBYTE, ""]) {
      await ws.send(t);
      const m = await ws.next();
      expect(m.isBinary).toBe(false);
      expect(m.data.toString("utf8")).toBe(t);
    }
    for (const n of SIZES) {
      const data = sized(n);
      await ws.send(data);
      const m = await ws.next();
      expect(m.isBinary).toBe(true);
      expect(m.data.equals(data)).toBe(true);
    }
    ws.c.close(1000);
    expect((await ws.closed).code).toBe(1000);
    expect(ws.errors).toEqual([]);
  });

  it("assembles the peer's fragmented messages, also text cut inside a UTF-8 character", async () => {
    const ws = await wsClient(s.url());
    // text in three fragments
    await ws.send("frag", { fin: false });
    await ws.send("men", { fin: false });
    await ws.send("ted", { fin: true });
    expect((await ws.next()).data.toString()).toBe("fragmented");
    // "h€llo": the euro sign (E2 82 AC) is cut across all three fragments
    const raw = Buffer.from("h€llo");
    await ws.send(raw.subarray(0, 2), { binary: false, fin: false });
    await ws.send(raw.subarray(2, 3), { binary: false, fin: false });
    await ws.send(raw.subarray(3), { binary: false, fin: true });
    const m = await ws.next();
    expect(m.isBinary).toBe(false);
    expect(m.data.toString()).toBe("h€llo");
    // binary: 6 fragments of 10000 bytes, one message of 60000
    const big = sized(60000);
    for (let i = 0; i < 6; i++) await ws.send(big.subarray(i * 10000, (i + 1) * 10000), { binary: true, fin: i === 5 });
    const b = await ws.next();
    expect(b.isBinary).toBe(true);
    expect(b.data.equals(big)).toBe(true);
    ws.c.close();
    await ws.closed;
  });

  it("our writer cuts messages larger than maxFrame into frames the peer assembles", async () => {
    const ws = await wsClient(s.url("/frag"));
    await ws.send("cmd:text:3000"); // 9000 bytes in 1000-byte frames: cuts fall inside euro signs
    const t = await ws.next();
    expect(t.isBinary).toBe(false);
    expect(t.data.toString()).toBe("€".repeat(3000));
    await ws.send("cmd:bin:200000");
    const b = await ws.next();
    expect(b.data.equals(Buffer.from(binPattern(200000)))).toBe(true);
    ws.c.close();
    await ws.closed;
    expect(ws.errors).toEqual([]);
  });

  it("ping/pong both ways: the peer's ping gets our pong; our ping gets the peer's pong", async () => {
    const ws = await wsClient(s.url());
    ws.c.ping("are you there");
    await ws.waitPong(1);
    expect(ws.pongs[0].toString()).toBe("are you there");
    ws.c.ping(); // empty ping
    await ws.waitPong(2);
    expect(ws.pongs[1].length).toBe(0);
    await ws.send("cmd:ping");
    expect((await ws.next()).data.toString()).toBe("pong received");
    ws.c.close();
    await ws.closed;
  });

  it("the peer closes with 4000 and a reason: we see both and echo the code", async () => {
    const ws = await wsClient(s.url());
    ws.c.close(4000, "bye from ws");
    expect((await ws.closed).code).toBe(4000);
    await until(s.rt, () => s.events.length > 0, 5000);
    expect(s.events).toEqual([{ path: "/ws", kind: "peer-closed", code: 4000, reason: "bye from ws" }]);
  });

  it("we close with 1001: the peer sees 1001 and our reason", async () => {
    const ws = await wsClient(s.url());
    await ws.send("cmd:close1001");
    expect(await ws.closed).toEqual({ code: 1001, reason: "server going away" });
    await until(s.rt, () => s.events.length > 0, 5000);
    expect(s.events[0]).toMatchObject({ kind: "we-closed", code: 1001 });
  });

  it("pipelined: 200 messages of 16 KiB sent without waiting come back whole and in order", async () => {
    const ws = await wsClient(s.url());
    const sent = Array.from({ length: 200 }, (_, i) => sized(16384 + i));
    await Promise.all(sent.map((m) => ws.send(m)));
    for (const m of sent) expect((await ws.next()).data.equals(m)).toBe(true);
    ws.c.close();
    await ws.closed;
  });

  it("example 5 itself echoes for a ws client", async () => {
    const rt = new Runtime(nodeHost());
    const server = await example5(rt, 0);
    try {
      const ws = await wsClient(`ws://127.0.0.1:${server.port}/ws`);
      await ws.send(MULTIBYTE);
      expect((await ws.next()).data.toString()).toBe(MULTIBYTE);
      await ws.send(sized(65536));
      expect((await ws.next()).data.equals(sized(65536))).toBe(true);
      ws.c.close(4000, "done");
      expect((await ws.closed).code).toBe(4000);
      await until(rt, () => rt.stat().activeCons === 0, 5000);
    } finally {
      server.close();
      rt.shutdown();
    }
  });
});

describe("our server with undici's WebSocket client", () => {
  let s: ScriptedServer;
  beforeEach(async () => (s = await startScripted()));
  afterEach(async () => {
    await until(s.rt, () => s.rt.stat().activeCons === 0, 5000, "no connections");
    expect(s.logs).toEqual([]);
    s.stop();
  });

  async function undici(url: string) {
    const c = new UndiciWebSocket(url);
    c.binaryType = "arraybuffer";
    const queue: (string | ArrayBuffer)[] = [];
    let wake: (() => void) | undefined;
    c.addEventListener("message", (e) => {
      queue.push(e.data as string | ArrayBuffer);
      wake?.();
    });
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((r) =>
      c.addEventListener("close", (e) => r({ code: e.code, reason: e.reason, wasClean: e.wasClean })),
    );
    await new Promise<void>((resolve, reject) => {
      c.addEventListener("open", () => resolve());
      c.addEventListener("error", () => reject(new Error("undici: connection failed")));
    });
    return {
      c,
      closed,
      async next(): Promise<string | ArrayBuffer> {
        const end = Date.now() + 5000;
        while (queue.length === 0) {
          if (Date.now() > end) throw new Error("undici: no message");
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 100);
          });
        }
        return queue.shift()!;
      },
    };
  }

  it("echoes text, empty, multibyte and every frame size", async () => {
    const u = await undici(s.url());
    for (const t of ["hello", "", MULTIBYTE]) {
      u.c.send(t);
      expect(await u.next()).toBe(t);
    }
    for (const n of SIZES) {
      const data = sized(n);
      u.c.send(data);
      const got = await u.next();
      expect(got).toBeInstanceOf(ArrayBuffer);
      expect(Buffer.from(got as ArrayBuffer).equals(data)).toBe(true);
    }
    u.c.close(1000);
    expect(await u.closed).toMatchObject({ code: 1000, wasClean: true });
  });

  it("answers our ping, assembles our fragmented messages, and closes 4000 / sees our 1001", async () => {
    const u = await undici(s.url());
    u.c.send("cmd:ping");
    expect(await u.next()).toBe("pong received");
    u.c.close(4000, "undici bye");
    expect(await u.closed).toMatchObject({ code: 4000, wasClean: true });
    await until(s.rt, () => s.events.length > 0, 5000);
    expect(s.events[0]).toEqual({ path: "/ws", kind: "peer-closed", code: 4000, reason: "undici bye" });

    const f = await undici(s.url("/frag"));
    f.c.send("cmd:text:1000");
    expect(await f.next()).toBe("€".repeat(1000));
    f.c.send("cmd:bin:70000");
    expect(Buffer.from((await f.next()) as ArrayBuffer).equals(Buffer.from(binPattern(70000)))).toBe(true);
    f.c.send("cmd:close1001");
    expect(await f.closed).toEqual({ code: 1001, reason: "server going away", wasClean: true });
  });
});

describe("our server with python3-websockets as the client", () => {
  const itPy = itWithPythonWebsockets();
  let s: ScriptedServer;
  beforeEach(async () => (s = await startScripted()));
  afterEach(async () => {
    await until(s.rt, () => s.rt.stat().activeCons === 0, 5000, "no connections");
    expect(s.logs).toEqual([]);
    s.stop();
  });

  itPy("passes every client check: sizes, fragments, split UTF-8, ping both ways, close 4000 and 1001", async () => {
    const { lines, stderr, code } = await runPythonWsClient(s.url("/ws"));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const failed = lines.filter((l) => l.ok !== true);
    expect(failed).toEqual([]);
    const names = lines.map((l) => l.check);
    expect(names).toEqual([
      "text",
      "multibyte text",
      "empty text",
      ...SIZES.map((n) => `binary ${n}`),
      "fragmented",
      "utf-8 split across fragments",
      "ping answered by pong",
      "server ping answered",
      "close 4000",
      "server closes 1001",
      "fragmented by our writer",
    ]);
    // python saw our echo of its 4000, and our 1001 with its reason
    expect(lines.find((l) => l.check === "close 4000")).toMatchObject({ code: 4000 });
    expect(lines.find((l) => l.check === "server closes 1001")).toMatchObject({ code: 1001, reason: "server going away" });
    await until(s.rt, () => s.events.length >= 3, 5000);
    expect(s.events).toContainEqual({ path: "/ws", kind: "peer-closed", code: 4000, reason: "python bye" });
    expect(s.events).toContainEqual({ path: "/ws", kind: "we-closed", code: 1001 });
  });
});

// ---------------------------------------------------------------------------------------------
// our client, foreign servers

interface ForeignServer {
  name: string;
  url(path?: string): string;
  /** Waits for the server's record of a connection's end: the code and reason of our close frame. */
  closeEvent(n: number): Promise<{ code: number | null; reason: string | null }>;
  stop(): Promise<void>;
}

async function startWsServer(): Promise<ForeignServer> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const closes: { code: number; reason: string }[] = [];
  let wake: (() => void) | undefined;
  wss.on("connection", (sock, req) => {
    const frag = req.url?.startsWith("/frag") === true;
    sock.on("error", () => undefined);
    sock.on("message", (data: RawData, isBinary: boolean) => {
      const buf = data as Buffer;
      if (!isBinary && buf.length < 40) {
        const t = buf.toString();
        if (t === "cmd:ping") {
          sock.once("pong", (d) => sock.send(`pong received: ${d}`));
          sock.ping("from peer");
          return;
        }
        if (t === "cmd:close") return sock.close(4000, "peer bye");
        if (t === "cmd:split-utf8") {
          const raw = Buffer.from("h€llo");
          sock.send(raw.subarray(0, 2), { binary: false, fin: false });
          sock.send(raw.subarray(2, 3), { binary: false, fin: false });
          sock.send(raw.subarray(3), { binary: false, fin: true });
          return;
        }
      }
      if (!frag || buf.length <= 1000) return sock.send(buf, { binary: isBinary });
      for (let at = 0; at < buf.length; at += 1000)
        sock.send(buf.subarray(at, at + 1000), { binary: isBinary, fin: at + 1000 >= buf.length });
    });
    sock.on("close", (code, reason) => {
      closes.push({ code, reason: reason.toString() });
      wake?.();
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    name: "ws",
    url: (path = "/") => `ws://127.0.0.1:${port}${path}`,
    async closeEvent(n) {
      const end = Date.now() + 5000;
      while (closes.length <= n && Date.now() < end) await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)));
      if (closes.length <= n) throw new Error("the ws server saw no close");
      return closes[n];
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

async function startPyServer(): Promise<ForeignServer> {
  const py: PythonServer = await startPythonWsServer();
  return {
    name: "python3-websockets",
    url: (path = "/") => `ws://127.0.0.1:${py.port}${path}`,
    async closeEvent(n) {
      await py.waitEvent(() => py.events.filter((e) => e.event === "closed").length > n);
      const e = py.events.filter((e) => e.event === "closed")[n];
      return { code: e.code as number | null, reason: e.reason as string | null };
    },
    stop: () => py.stop(),
  };
}

function ourClientSuite(name: string, start: () => Promise<ForeignServer>, itx: jest.It, splitFrames: number) {
  describe(`our client (wsConnect) with a ${name} server`, () => {
    let rt: Runtime;
    let peer: ForeignServer | undefined;
    let logs: string[];
    beforeEach(() => {
      logs = [];
      rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
    });
    afterEach(async () => {
      const p = peer;
      peer = undefined;
      try {
        await until(rt, () => rt.stat().activeCons === 0, 5000, "no connections");
        expect(logs).toEqual([]);
      } finally {
        rt.shutdown();
        await p?.stop();
      }
    });

    const connect = async (path = "/", options: WebSocketOptions = {}) => {
      peer ??= await start();
      return wsConnect(rt, peer.url(path), { timeout: 5000, ...options });
    };
    const roundTrip = async (ws: WebSocket, data: string | Uint8Array, isText = typeof data === "string") => {
      await ws.write(data, isText);
      const m = await ws.readMessage(5000);
      expect(m).not.toBeNull();
      expect(m!.isText).toBe(isText);
      return m!.data;
    };

    itx("text, multibyte, empty and 0/1/125/126/65535/65536-byte messages round-trip", async () => {
      const ws = await connect();
      expect(ws.role).toBe("client");
      for (const t of ["hello", MULTIBYTE, ""]) expect(text(await roundTrip(ws, t))).toBe(t);
      for (const n of SIZES) expect(Buffer.from(await roundTrip(ws, sized(n), false)).equals(sized(n))).toBe(true);
      expect(await ws.close()).toBe(true);
      expect(await peer!.closeEvent(0)).toEqual({ code: 1000, reason: "" });
    });

    itx("fragments both ways: the peer's 1000-byte fragments, our writer's cuts inside UTF-8, split text", async () => {
      // maxFrame 1000 on our side too: our messages leave in 1000-byte frames
      const ws = await connect("/frag", { maxFrame: 1000, maxMessage: 1 << 20 });
      const euros = "€".repeat(3000); // 9000 bytes: our cuts fall inside characters
      expect(text(await roundTrip(ws, euros))).toBe(euros);
      const big = binPattern(200000);
      expect(Buffer.from(await roundTrip(ws, big, false)).equals(Buffer.from(big))).toBe(true);
      // frame by frame: the peer's echo of 5000 bytes comes as 5 frames, fin on the last
      await ws.write(binPattern(5000), false);
      const frames = [];
      for (;;) {
        const f = await ws.readFrame(5000);
        frames.push(f!);
        if (f!.fin) break;
      }
      expect(frames.map((f) => [f.opcode, f.data.length, f.fin])).toEqual([
        [2, 1000, false],
        [0, 1000, false],
        [0, 1000, false],
        [0, 1000, false],
        [0, 1000, true],
      ]);
      // the peer cuts "h€llo" inside the euro sign
      await ws.write("cmd:split-utf8");
      const pieces = [];
      for (;;) {
        const p = (await ws.read(5000))!;
        pieces.push(p);
        if (p.fin && p.bytesRead === p.frameLen) break;
      }
      expect(pieces.length).toBe(splitFrames);
      expect(pieces.every((p) => p.isText)).toBe(true);
      expect(Buffer.concat(pieces.map((p) => p.data)).toString()).toBe("h€llo");
      await ws.close();
    });

    itx("ping/pong both ways, then the peer closes with 4000 and a reason", async () => {
      const ws = await connect();
      // The read in progress takes in the peer's pong (see the known-bug test below for why it
      // must be there).
      const reply = ws.readMessage(5000);
      await ws.ping("are you there", 2000); // resolves on the peer's pong
      await ws.write("cmd:ping"); // the peer pings us; our pong is automatic
      expect(text((await reply)!.data)).toMatch(/^pong received/);
      await ws.write("cmd:close");
      expect(await ws.readMessage(5000)).toBeNull();
      expect(ws.closeCode).toBe(4000);
      expect(ws.closeReason).toMatch(/bye$/);
      // we echoed their code
      expect((await peer!.closeEvent(0)).code).toBe(4000);
      await until(rt, () => ws.closed, 5000);
    });

    itx("we close with 1001 and a reason: the peer sees both", async () => {
      const ws = await connect();
      expect(text(await roundTrip(ws, "last words"))).toBe("last words");
      expect(await ws.close(1001, "client going away")).toBe(true);
      expect(await ws.close()).toBe(false); // once
      expect(await peer!.closeEvent(0)).toEqual({ code: 1001, reason: "client going away" });
      expect(ws.closed).toBe(true);
      await expect(ws.write("late")).rejects.toMatchObject({ code: "socketwritefailed" });
    });
  });
}

ourClientSuite("ws", startWsServer, it, 3);
ourClientSuite("python3-websockets", startPyServer, itWithPythonWebsockets(), 3);

/** Runs `body` with a fresh runtime against a `ws` server whose connections `onConnection` handles. */
async function withWsPeer(onConnection: (sock: WsWebSocket) => void, body: (rt: Runtime, url: string) => Promise<void>): Promise<void> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", onConnection);
  const rt = new Runtime(nodeHost());
  try {
    await body(rt, `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
  } finally {
    rt.shutdown();
    await new Promise<void>((r) => wss.close(() => r()));
  }
}

describe("errors surface as WebSocketError", () => {
  it("a peer that drops the connection without a close frame gives 1006", async () => {
    await withWsPeer(
      (sock) => sock.on("message", () => sock.terminate()),
      async (rt, url) => {
        const ws = await wsConnect(rt, url);
        await ws.write("x");
        const err = await ws.readMessage(5000).catch((e) => e);
        expect(err).toBeInstanceOf(WebSocketError);
        expect(err.closeCode).toBe(1006);
        // like any socket, a WebSocket without a coroutine is closed by its owner
        await ws.close();
        await until(rt, () => rt.stat().activeCons === 0, 5000);
      },
    );
  });
});

/** ping() reads while it waits, so the connection's only reader can await its own ping. */
describe("ping() awaited by the connection's only reader", () => {
  const quietPeer = (sock: WsWebSocket) => sock.on("error", () => undefined);

  it("leaves no timer behind once the pong came", async () => {
    await withWsPeer(quietPeer, async (rt, url) => {
      const ws = await wsConnect(rt, url);
      const idle = rt.stat().timers; // the watchdog's (idle timeout), shared by all connections
      const reading = ws.read(300).catch(() => null); // takes the pong in (and times out: no data)
      await ws.ping("hello", 1500);
      await reading;
      expect(rt.stat().timers).toBe(idle); // the ping leaves no timer behind
    });
  });

  it("resolves when the peer's pong arrives", async () => {
    await withWsPeer(quietPeer, async (rt, url) => {
      const ws = await wsConnect(rt, url);
      await ws.ping("hello", 1000); // ws answers at once; nobody reads it in
      await ws.close();
    });
  });
});
