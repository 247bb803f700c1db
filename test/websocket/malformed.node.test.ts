/**
 * Malformed input over real sockets, table-driven.
 *
 * Server side: a raw node:net client makes a valid upgrade to our echo server (example 5's
 * cosocket behind `req2sock`) and then sends crafted frames. For each case: the close code the
 * server sends, exactly one close frame, nothing after it, the TCP connection then ends, and no
 * connection is left (`rt.stat().activeCons`, `server.connections`) and nothing is logged.
 * HTTP level: bad upgrade requests, Origin, Basic auth, a cookie check, subprotocols.
 * Client side: a raw node:net server answers our `wsConnect` with bad handshakes and frames, and
 * captures our bytes (every frame masked with its own key).
 */
import { Runtime, encodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { HttpError } from "../../src/http/head.js";
import { cookies, requireBasic } from "../../src/http/auth.js";
import { req2sock, wsConnect, type UpgradeOptions } from "../../src/websocket/handshake.js";
import { WebSocket, WebSocketError } from "../../src/websocket/connection.js";
import { echoCosocket } from "../../examples/05-websocket-server.js";
import { KEY } from "./codec-helpers.js";
import { OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, bytes, cases, cf, closePayload, fill } from "./malformed.cases.js";
import { until } from "../support/util.js";
import {
  RawClient,
  clientClose,
  closeOf,
  decodeFrames,
  maskedFrame,
  answeringServer,
  rawServer,
  serverFrame,
  switching,
  wsAccept,
  type WireFrame,
} from "../support/ws-raw.js";

let rt: Runtime;
let server: HttpServer;
let logs: string[];

const wsHandler: Handler = async (req, res) => {
  let options: UpgradeOptions = {};
  switch (req.path) {
    case "/ws":
      break;
    case "/origin":
      options = { origin: (o) => o === "http://good.example" };
      break;
    case "/auth":
      if (!(await requireBasic(req, res, "cosock", (u, p) => u === "admin" && p === "s3cret"))) return;
      break;
    case "/cookie":
      if (cookies(req).get("session") !== "valid-session") throw new HttpError(403, "no valid session cookie");
      break;
    case "/proto":
      options = { protocols: ["chat.v2", "chat.v1"] };
      break;
    case "/proto-required":
      options = { protocols: ["chat.v2", "chat.v1"], requireProtocol: true };
      break;
    default:
      return res.status(404).send("not found\n");
  }
  const ws = await req2sock(req, res, options);
  if (ws instanceof WebSocket) ws.event(echoCosocket, "s");
};

beforeAll(async () => {
  logs = [];
  rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
  server = await HttpServer.listen(rt, wsHandler, { intf: "127.0.0.1" });
});
afterAll(() => {
  server.close();
  rt.shutdown();
});

/** Nothing left open on our side, nothing logged. */
async function noLeak(): Promise<void> {
  await until(rt, () => rt.stat().activeCons === 0 && server.connections === 0, 5000, "connections to end");
  expect(logs).toEqual([]);
}

async function upgraded(path = "/ws"): Promise<RawClient> {
  const c = RawClient.upgrade(server.port, path);
  const head = await c.head;
  expect(head.status).toBe(101);
  expect(head.headers.get("sec-websocket-accept")).toBe(wsAccept(c.key));
  return c;
}

function closesIn(frames: WireFrame[]): WireFrame[] {
  return frames.filter((f) => f.opcode === OP_CLOSE);
}

// ---------------------------------------------------------------------------------------------

/** The bad byte of the "early in a frame" case must really be bad: check the table itself. */
function unmaskedPayload(frame: Uint8Array, headerLen: number): number[] {
  return Array.from(frame.subarray(headerLen), (b, i) => b ^ KEY[i & 3]);
}

describe("server: malformed frames get the right close code, once, then the connection ends", () => {
  afterEach(noLeak);

  it("the table's fail-fast frame: 1000 bytes declared, 6 sent, the 6th not UTF-8", () => {
    const c = cases.find((x) => x.name.startsWith("invalid UTF-8 early"))!;
    expect(Array.from(c.send[0].subarray(0, 4))).toEqual([0x81, 0xfe, 1000 >> 8, 1000 & 255]);
    expect(unmaskedPayload(c.send[0], 8)).toEqual([0x61, 0x61, 0x61, 0x61, 0x61, 0x9e]);
  });

  for (const replyClose of [false, true]) {
    describe(replyClose ? "client answers the close frame" : "client just ends the TCP connection", () => {
      for (const c of cases) {
        it(`${c.name} → ${c.code}`, async () => {
          const raw = await upgraded();
          for (const [i, chunk] of c.send.entries()) {
            if (i > 0) await new Promise((r) => setTimeout(r, 20));
            raw.send(chunk);
          }
          const frames = await raw.waitClose(3000);
          const closes = closesIn(frames);
          expect(closes).toHaveLength(1);
          expect(closeOf(closes[0]).code).toBe(c.code);
          expect(closes[0].masked).toBe(false);
          // nothing but the expected echoes before it, nothing after it
          expect(frames.indexOf(closes[0])).toBe(c.echoes ?? 0);
          if (replyClose) raw.send(clientClose(c.code));
          expect(await raw.waitEnd(3000)).toBe(true); // the server ended the TCP connection
          await new Promise((r) => setTimeout(r, 30)); // let any late frame arrive
          expect(closesIn(raw.frames())).toHaveLength(1);
          expect(raw.frames().length).toBe(frames.length);
          expect(decodeFrames(raw.bytes()).rest.length).toBe(0);
          raw.destroy();
        });
      }
    });
  }
});

describe("server: valid edge cases are accepted", () => {
  afterEach(noLeak);

  const accepted: { name: string; frame: Uint8Array; back: number }[] = [
    { name: "64-bit length for 4 bytes", frame: cf({ opcode: OP_BIN, payload: bytes(1, 2, 3, 4), lengthBits: 64 }), back: 4 },
    { name: "64-bit length for 200 bytes", frame: cf({ opcode: OP_BIN, payload: fill(200), lengthBits: 64 }), back: 200 },
    { name: "16-bit length for 5 bytes", frame: cf({ opcode: OP_TEXT, payload: fill(5), lengthBits: 16 }), back: 5 },
    { name: "exactly 65536 bytes (64-bit length)", frame: cf({ opcode: OP_BIN, payload: fill(65536, 7) }), back: 65536 },
    { name: "ping of 125 bytes (answered by a pong)", frame: cf({ opcode: OP_PING, payload: fill(125, 9) }), back: 125 },
    { name: "unsolicited pong (ignored)", frame: cf({ opcode: OP_PONG, payload: bytes(1) }), back: -1 },
  ];
  for (const a of accepted) {
    it(a.name, async () => {
      const raw = await upgraded();
      raw.send(a.frame);
      if (a.back >= 0) {
        await raw.waitFor(() => raw.frames().length >= 1, 3000);
        const f = raw.frames()[0];
        expect(f.payload.length).toBe(a.back);
        expect(f.fin).toBe(true);
        expect(f.masked).toBe(false);
      }
      raw.send(clientClose(1000));
      const frames = await raw.waitClose(3000);
      expect(frames).toHaveLength(a.back >= 0 ? 2 : 1);
      expect(closeOf(frames[frames.length - 1]).code).toBe(1000);
      expect(await raw.waitEnd(3000)).toBe(true);
      raw.destroy();
    });
  }

  it("the server's echo of 65536 bytes uses a 64-bit length; of 65535 a 16-bit one", async () => {
    const raw = await upgraded();
    raw.send(cf({ opcode: OP_BIN, payload: fill(65535) }));
    raw.send(cf({ opcode: OP_BIN, payload: fill(65536) }));
    await raw.waitFor(() => raw.frames().length >= 2, 3000);
    const b = raw.bytes();
    expect(Array.from(b.subarray(0, 4))).toEqual([0x82, 126, 0xff, 0xff]);
    expect(Array.from(b.subarray(4 + 65535, 4 + 65535 + 10))).toEqual([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    raw.send(clientClose(1000));
    await raw.waitEnd(3000);
    raw.destroy();
  });

  it("interleaved pings inside a fragmented text message cut in a UTF-8 character", async () => {
    const raw = await upgraded();
    const t = encodeUtf8("h€llo"); // 68 E2 82 AC 6C 6C 6F
    raw.send(cf({ opcode: OP_TEXT, fin: false, payload: t.subarray(0, 2) }));
    raw.send(cf({ opcode: OP_PING, payload: encodeUtf8("p1") }));
    raw.send(cf({ opcode: OP_CONT, fin: false, payload: t.subarray(2, 3) }));
    raw.send(cf({ opcode: OP_PING, payload: encodeUtf8("p2") }));
    raw.send(cf({ opcode: OP_CONT, payload: t.subarray(3) }));
    await raw.waitFor(() => raw.frames().length >= 3, 3000);
    const frames = raw.frames();
    expect(frames.map((f) => f.opcode)).toEqual([OP_PONG, OP_PONG, OP_TEXT]);
    expect(Buffer.from(frames[2].payload).toString()).toBe("h€llo");
    raw.send(clientClose(4000, "done"));
    const all = await raw.waitClose(3000);
    expect(closeOf(all[all.length - 1])).toEqual({ code: 4000, reason: "" });
    await raw.waitEnd(3000);
    raw.destroy();
  });

  it("an empty close frame is answered with an empty close frame", async () => {
    const raw = await upgraded();
    raw.send(cf({ opcode: OP_CLOSE }));
    const frames = await raw.waitClose(3000);
    expect(frames).toHaveLength(1);
    expect(frames[0].payload.length).toBe(0);
    expect(await raw.waitEnd(3000)).toBe(true);
    raw.destroy();
  });

  it("frames sent right behind the upgrade request (same segment) are not lost", async () => {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const head = `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const raw = new RawClient(server.port, Buffer.concat([Buffer.from(head), cf({ opcode: OP_TEXT, payload: encodeUtf8("early") })]));
    expect((await raw.head).headers.get("sec-websocket-accept")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    await raw.waitFor(() => raw.frames().length >= 1, 3000);
    expect(Buffer.from(raw.frames()[0].payload).toString()).toBe("early");
    raw.send(clientClose(1000));
    await raw.waitEnd(3000);
    raw.destroy();
  });

  it("a client that drops the TCP connection mid-frame leaves nothing behind", async () => {
    const raw = await upgraded();
    raw.send(cf({ opcode: OP_BIN, payload: fill(5000) }).subarray(0, 100));
    await new Promise((r) => setTimeout(r, 20));
    raw.destroy();
  });

  it("50 bad connections at once: none crashes the server, none leaks", async () => {
    const pick = (prefix: string) => cases.find((c) => c.name.startsWith(prefix))!;
    const bad = [pick("RSV1"), pick("unmasked"), pick("a 65537"), pick("invalid UTF-8 split"), pick("close frame with invalid code 1005")];
    const clients = await Promise.all(Array.from({ length: 50 }, () => upgraded()));
    try {
      clients.forEach((c, i) => bad[i % bad.length].send.forEach((chunk) => c.send(chunk)));
      const results = await Promise.all(clients.map((c) => c.waitClose(5000)));
      expect(results.map((frames) => closesIn(frames).map((f) => closeOf(f).code))).toEqual(
        clients.map((_, i) => [bad[i % bad.length].code]),
      );
      expect((await Promise.all(clients.map((c) => c.waitEnd(5000)))).every(Boolean)).toBe(true);
    } finally {
      clients.forEach((c) => c.destroy());
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("server: HTTP-level answers before the upgrade", () => {
  afterEach(noLeak);

  async function answer(path: string, headers: Record<string, string | null>, method?: string) {
    let c: RawClient;
    if (method) {
      const lines = [
        `${method} ${path} HTTP/1.1`,
        `Host: x`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        "Content-Length: 0",
      ];
      c = new RawClient(server.port, lines.join("\r\n") + "\r\n\r\n");
    } else c = RawClient.upgrade(server.port, path, headers);
    const head = await c.head;
    // a refusal thrown as HttpError closes the connection; requireBasic's 401 keeps it alive
    // (a client may retry with credentials), so the raw client hangs up itself
    if (head.status !== 101) expect(await c.waitEnd(head.status === 401 ? 50 : 3000)).toBe(head.status !== 401);
    else {
      c.send(clientClose(1000));
      await c.waitEnd(3000);
    }
    c.destroy();
    return head;
  }

  it("missing Sec-WebSocket-Key → 400", async () => {
    expect((await answer("/ws", { "Sec-WebSocket-Key": null })).status).toBe(400);
  });

  it("short Sec-WebSocket-Key (8 bytes) → 400; not base64 → 400", async () => {
    expect((await answer("/ws", { "Sec-WebSocket-Key": Buffer.alloc(8).toString("base64") })).status).toBe(400);
    expect((await answer("/ws", { "Sec-WebSocket-Key": "not a key!!!" })).status).toBe(400);
  });

  it("an upgrade with POST → 400", async () => {
    expect((await answer("/ws", {}, "POST")).status).toBe(400);
  });

  it("Sec-WebSocket-Version 8 → 426", async () => {
    expect((await answer("/ws", { "Sec-WebSocket-Version": "8" })).status).toBe(426);
  });

  // RFC 6455 §4.4: the 426 names the version the server speaks.
  it("Sec-WebSocket-Version 8 → 426 carries Sec-WebSocket-Version: 13", async () => {
    const head = await answer("/ws", { "Sec-WebSocket-Version": "8" });
    expect(head.status).toBe(426);
    expect(head.headers.get("sec-websocket-version")).toBe("13");
  });

  it("Origin refused → 403; allowed → 101", async () => {
    expect((await answer("/origin", { Origin: "http://evil.example" })).status).toBe(403);
    expect((await answer("/origin", {})).status).toBe(403); // no Origin at all
    expect((await answer("/origin", { Origin: "http://good.example" })).status).toBe(101);
  });

  it("Basic auth missing or wrong → 401 with a challenge; right → 101", async () => {
    for (const auth of [null, `Basic ${Buffer.from("admin:wrong").toString("base64")}`, "Basic !!!", "Bearer abc"]) {
      const head = await answer("/auth", { Authorization: auth });
      expect(head.status).toBe(401);
      expect(head.headers.get("www-authenticate")).toBe('Basic realm="cosock"');
    }
    expect((await answer("/auth", { Authorization: `Basic ${Buffer.from("admin:s3cret").toString("base64")}` })).status).toBe(101);
  });

  it("cookie check: missing or wrong session → 403; valid → 101", async () => {
    expect((await answer("/cookie", {})).status).toBe(403);
    expect((await answer("/cookie", { Cookie: "session=stolen" })).status).toBe(403);
    expect((await answer("/cookie", { Cookie: "theme=dark; session=valid-session" })).status).toBe(101);
  });

  it("subprotocols: the server picks its preferred of those offered", async () => {
    const pick = async (offer: string | null, path = "/proto") => {
      const h = await answer(path, { "Sec-WebSocket-Protocol": offer });
      return { status: h.status, protocol: h.headers.get("sec-websocket-protocol") };
    };
    expect(await pick("chat.v1, chat.v3")).toEqual({ status: 101, protocol: "chat.v1" });
    expect(await pick("chat.v1, chat.v2")).toEqual({ status: 101, protocol: "chat.v2" });
    expect(await pick("other")).toEqual({ status: 101, protocol: undefined });
    expect(await pick(null)).toEqual({ status: 101, protocol: undefined });
    expect(await pick("other", "/proto-required")).toEqual({ status: 400, protocol: undefined });
    expect(await pick(null, "/proto-required")).toEqual({ status: 400, protocol: undefined });
    expect(await pick("chat.v1", "/proto-required")).toEqual({ status: 101, protocol: "chat.v1" });
  });

  it("our client gets the chosen subprotocol on the WebSocket", async () => {
    const crt = new Runtime(nodeHost());
    try {
      const ws = await wsConnect(crt, `ws://127.0.0.1:${server.port}/proto`, { protocols: ["chat.v3", "chat.v1"] });
      expect(ws.protocol).toBe("chat.v1");
      await ws.write("hi");
      expect(Buffer.from((await ws.readMessage(3000))!.data).toString()).toBe("hi");
      await ws.close();
      await until(crt, () => crt.stat().activeCons === 0, 3000);
    } finally {
      crt.shutdown();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("client: a raw server's bad handshakes and frames", () => {
  let crt: Runtime;
  let srv: Awaited<ReturnType<typeof rawServer>> | undefined;
  let clogs: string[];
  beforeEach(() => {
    clogs = [];
    crt = new Runtime(nodeHost(), { log: (m) => clogs.push(m) });
  });
  afterEach(async () => {
    try {
      await until(crt, () => crt.stat().activeCons === 0, 5000, "client connections to end");
      expect(clogs).toEqual([]);
    } finally {
      crt.shutdown();
      await srv?.close();
      srv = undefined;
    }
  });

  /** A server that answers with `head(key)` and then ends its side once the client ended. */
  async function answering(head: (key: string) => string, after?: Uint8Array) {
    srv = await answeringServer(head, after);
    return `ws://127.0.0.1:${srv.port}/`;
  }

  const refused: [string, (key: string) => string, string[]?][] = [
    ["a wrong Sec-WebSocket-Accept", () => switching("dGhlIHNhbXBsZSBub25jZQ==")],
    ["a missing Sec-WebSocket-Accept", () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"],
    ["an accept for the key with a different case", (k) => switching(k.toLowerCase())],
    ["status 200", () => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"],
    ["status 403", () => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"],
    ["no Upgrade field", (k) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(k)}\r\n\r\n`],
    ["a subprotocol that was not offered", (k) => switching(k, ["Sec-WebSocket-Protocol: chat.evil"]), ["chat.v1"]],
    ["a subprotocol when none was offered", (k) => switching(k, ["Sec-WebSocket-Protocol: chat.v1"])],
    ["an extension that was not offered", (k) => switching(k, ["Sec-WebSocket-Extensions: permessage-deflate"])],
  ];
  for (const [name, head, protocols] of refused) {
    it(`${name} → invalidsocketcon`, async () => {
      const url = await answering(head);
      await expect(wsConnect(crt, url, { protocols, timeout: 3000 })).rejects.toMatchObject({ code: "invalidsocketcon" });
    });
  }

  it("the offered subprotocol is accepted", async () => {
    const url = await answering((k) => switching(k, ["Sec-WebSocket-Protocol: chat.v1"]));
    const ws = await wsConnect(crt, url, { protocols: ["chat.v0", "chat.v1"] });
    expect(ws.protocol).toBe("chat.v1");
    expect(srv!.conns[0].request.headers.get("sec-websocket-protocol")).toBe("chat.v0, chat.v1");
    await ws.close(1000);
  });

  const badServerFrames: [string, Uint8Array, number][] = [
    ["a masked server frame", maskedFrame(OP_TEXT, encodeUtf8("masked!")), 1002],
    ["RSV1 on a server frame", Uint8Array.from([0xc1, 0x01, 0x61]), 1002],
    ["a 65537-byte server frame", Uint8Array.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 1]), 1009],
    ["invalid UTF-8 from the server", serverFrame(OP_TEXT, bytes(0xc3, 0x28)), 1007],
    ["a continuation without a start", serverFrame(OP_CONT, bytes(1)), 1002],
    ["a close with code 1006", serverFrame(OP_CLOSE, closePayload(1006)), 1002],
  ];
  for (const [name, frame, code] of badServerFrames) {
    it(`${name} → our client closes with ${code}`, async () => {
      const url = await answering((k) => switching(k), frame);
      const ws = await wsConnect(crt, url);
      const err = await ws.readMessage(3000).catch((e) => e);
      expect(err).toBeInstanceOf(WebSocketError);
      expect(err.closeCode).toBe(code);
      const conn = srv!.conns[0];
      await conn.ended; // we ended the TCP connection after our close frame
      const frames = decodeFrames(conn.bytes()).frames;
      expect(frames).toHaveLength(1);
      expect(frames[0].opcode).toBe(OP_CLOSE);
      expect(frames[0].masked).toBe(true);
      expect(closeOf(frames[0]).code).toBe(code);
      await ws.close(); // a no-op now
    });
  }

  it("a server that never answers our close: close() gives up after closeTimeout and ends the connection", async () => {
    srv = await rawServer((c) => c.sock.write(switching(c.key))); // answers the upgrade, then stays silent
    const ws = await wsConnect(crt, `ws://127.0.0.1:${srv.port}/`, { closeTimeout: 300 });
    const t0 = Date.now();
    expect(await ws.close(1001)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(ws.closed).toBe(true);
    const frames = decodeFrames(await new Promise<Uint8Array>((r) => srv!.conns[0].ended.then(() => r(srv!.conns[0].bytes())))).frames;
    expect(frames.map((f) => [f.opcode, closeOf(f).code])).toEqual([[OP_CLOSE, 1001]]);
  });

  it("every frame we send is masked, each with its own key; the handshake key is fresh per connection", async () => {
    const url = await answering((k) => switching(k));
    const ws = await wsConnect(crt, url, { maxFrame: 100 });
    const messages = ["one", "two", "three", "", "x".repeat(130), "y".repeat(250)];
    for (const m of messages) await ws.write(m);
    await ws.write(new Uint8Array([1, 2, 3]), false);
    const reading = ws.read(200).catch(() => null); // takes in the pong below
    const pinged = ws.ping("p", 2000);
    const conn = srv!.conns[0];
    await until(crt, () => decodeFrames(conn.bytes()).frames.some((f) => f.opcode === OP_PING), 3000);
    conn.sock.write(serverFrame(OP_PONG, encodeUtf8("p")));
    await pinged;
    await reading;
    conn.sock.write(serverFrame(OP_CLOSE, closePayload(1000)));
    expect(await ws.readMessage(3000)).toBeNull();
    await until(crt, () => ws.closed, 3000);

    const frames = decodeFrames(conn.bytes()).frames;
    // 6 text messages (130 → 2 frames, 250 → 3 frames at maxFrame 100), 1 binary, ping, close
    expect(frames.map((f) => f.opcode)).toEqual([1, 1, 1, 1, 1, 0, 1, 0, 0, 2, 9, 8]);
    expect(frames.every((f) => f.masked && f.key !== undefined)).toBe(true);
    const keys = new Set(frames.map((f) => Buffer.from(f.key!).toString("hex")));
    expect(keys.size).toBe(frames.length);
    expect(Buffer.concat(frames.slice(4, 6).map((f) => f.payload)).toString()).toBe("x".repeat(130));
    expect(closeOf(frames[frames.length - 1]).code).toBe(1000);

    const ws2 = await wsConnect(crt, url);
    await ws2.close();
    expect(srv!.conns[1].key).not.toBe(conn.key);
    expect(Buffer.from(conn.key, "base64")).toHaveLength(16);
  });
});
