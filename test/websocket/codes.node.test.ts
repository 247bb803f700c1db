/**
 * Every WebSocket failure's stable code (`wsCode`) and close code, over real sockets, and the
 * `readyState` transitions.
 *
 * Server side: a raw node:net client sends malformed.cases.ts's frames (the table the close-frame
 * tests use) to a handler that records what `readMessage` threw; it also sends refused upgrade
 * requests, and the handler records the `WebSocketUpgradeError` that `req2sock` threw.
 * Client side: a raw node:net server answers `wsConnect` with bad handshakes and bad frames.
 */
import { Runtime, encodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { req2sock, wsConnect, WebSocketUpgradeError } from "../../src/websocket/handshake.js";
import { WebSocket, WebSocketError } from "../../src/websocket/connection.js";
import { CLOSED, CLOSING, CONNECTING, OPEN, type WsCode } from "../../src/websocket/codes.js";
import { until } from "../support/util.js";
import {
  RawClient,
  answeringServer,
  clientClose,
  closeOf,
  maskedFrame,
  rawServer,
  serverFrame,
  switching,
  wsAccept,
} from "../support/ws-raw.js";
import { OP_CLOSE, OP_CONT, OP_TEXT, bytes, cases, closePayload } from "./malformed.cases.js";

/** What the server's handler saw: a failure with the readyState at that moment, or the peer's close. */
interface Seen {
  ws?: WebSocket;
  error?: { wsCode: WsCode; closeCode: number; code: string; status?: number };
  stateAtError?: number;
  peerClose?: { code: number | undefined; state: number };
}

let rt: Runtime;
let server: HttpServer;
let seen: Seen[];

function record(e: unknown): Seen["error"] {
  if (e instanceof WebSocketError) return { wsCode: e.wsCode, closeCode: e.closeCode, code: e.code };
  if (e instanceof WebSocketUpgradeError) return { wsCode: e.wsCode, closeCode: e.closeCode, code: "http", status: e.status };
  throw e;
}

/** Echoes messages; records the failure `readMessage` throws or the peer's close. */
async function recorder(ws: WebSocket, s: Seen): Promise<void> {
  try {
    for (;;) {
      const m = await ws.readMessage();
      if (!m) {
        s.peerClose = { code: ws.closeCode, state: ws.readyState };
        return;
      }
      await ws.write(m.data, m.isText);
    }
  } catch (e) {
    s.stateAtError = ws.readyState;
    s.error = record(e);
  }
}

const handler: Handler = async (req, res) => {
  const s: Seen = {};
  seen.push(s);
  let ws;
  try {
    ws = await req2sock(req, res, {
      origin: (o) => o !== "http://evil.example",
      protocols: ["chat"],
      requireProtocol: req.header("x-require-protocol") === "1",
    });
  } catch (e) {
    s.error = record(e);
    throw e; // the server answers it
  }
  if (!(ws instanceof WebSocket)) return;
  s.ws = ws;
  expect(ws.readyState).toBe(OPEN);
  ws.event(recorder, "s", s);
};

beforeAll(async () => {
  rt = new Runtime(nodeHost());
  server = await HttpServer.listen(rt, handler, { intf: "127.0.0.1", limits: { maxWebSockets: 1 } });
});
afterAll(() => {
  server.close();
  rt.shutdown();
});
beforeEach(() => {
  seen = [];
});
afterEach(async () => {
  await until(rt, () => rt.stat().activeCons === 0 && server.connections === 0, 5000, "connections to end");
});

async function upgraded(): Promise<RawClient> {
  const c = RawClient.upgrade(server.port, "/rec");
  const head = await c.head;
  expect(head.status).toBe(101);
  expect(head.headers.get("sec-websocket-accept")).toBe(wsAccept(c.key));
  return c;
}

describe("the codes' constants", () => {
  it("readyState values are the WHATWG numbers, on the class too", () => {
    expect([CONNECTING, OPEN, CLOSING, CLOSED]).toEqual([0, 1, 2, 3]);
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
  });
});

describe("server: the handler sees each protocol failure's wsCode and close code", () => {
  for (const c of cases) {
    it(`${c.name} → ${c.wsCode} ${c.code}`, async () => {
      const raw = await upgraded();
      for (const [i, chunk] of c.send.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        raw.send(chunk);
      }
      const frames = await raw.waitClose(3000);
      const close = frames.find((f) => f.opcode === OP_CLOSE)!;
      expect(closeOf(close).code).toBe(c.code);
      await until(rt, () => seen[0]?.error !== undefined, 3000, "the handler's failure");
      expect(seen[0].error).toEqual({ wsCode: c.wsCode, closeCode: c.code, code: "socketreadfailed" });
      expect(seen[0].stateAtError).toBe(CLOSING); // our close frame is out, the TCP connection not closed yet
      expect(await raw.waitEnd(3000)).toBe(true);
      await until(rt, () => seen[0].ws!.readyState === CLOSED, 3000, "CLOSED");
      raw.destroy();
    });
  }

  it("a client that drops the TCP connection → abnormalclosure 1006", async () => {
    const raw = await upgraded();
    raw.send(maskedFrame(OP_TEXT, encodeUtf8("x".repeat(50)), false)); // a message left unfinished
    await until(rt, () => seen[0]?.ws !== undefined, 3000);
    raw.destroy();
    await until(rt, () => seen[0].error !== undefined, 3000, "the handler's failure");
    expect(seen[0].error).toEqual({ wsCode: "abnormalclosure", closeCode: 1006, code: "socketreadfailed" });
    await until(rt, () => seen[0].ws!.readyState === CLOSED, 3000, "CLOSED");
  });

  it("the peer's close: readMessage gives null, readyState CLOSING, then CLOSED; a write then fails with `closed`", async () => {
    const raw = await upgraded();
    raw.send(clientClose(4001, "bye"));
    await until(rt, () => seen[0]?.peerClose !== undefined, 3000, "the peer's close");
    expect(seen[0].peerClose).toEqual({ code: 4001, state: CLOSING });
    const ws = seen[0].ws!;
    const err = await ws.write("late").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebSocketError);
    expect(err).toMatchObject({ wsCode: "closed", closeCode: 4001, code: "socketwritefailed" });
    const frames = await raw.waitClose(3000);
    expect(closeOf(frames[frames.length - 1]).code).toBe(4001); // echoed
    expect(await raw.waitEnd(3000)).toBe(true);
    await until(rt, () => ws.readyState === CLOSED, 3000, "CLOSED");
    raw.destroy();
  });
});

describe("server: refused upgrades carry a wsCode (WebSocketUpgradeError)", () => {
  const refusals: [string, Record<string, string | null>, WsCode, number, string?][] = [
    ["Sec-WebSocket-Version 8", { "Sec-WebSocket-Version": "8" }, "badversion", 426],
    ["a missing Sec-WebSocket-Key", { "Sec-WebSocket-Key": null }, "badkey", 400],
    ["a short Sec-WebSocket-Key", { "Sec-WebSocket-Key": Buffer.alloc(8).toString("base64") }, "badkey", 400],
    ["an Origin refused", { Origin: "http://evil.example" }, "badorigin", 403],
    ["no common subprotocol where one is required", { "X-Require-Protocol": "1", "Sec-WebSocket-Protocol": "other" }, "nosubprotocol", 400],
    ["an upgrade with POST", {}, "badmethod", 400, "POST"],
  ];
  for (const [name, headers, wsCode, status, method] of refusals) {
    it(`${name} → ${wsCode} (${status})`, async () => {
      let c: RawClient;
      if (method) {
        const lines = [`${method} /rec HTTP/1.1`, "Host: x", "Upgrade: websocket", "Connection: Upgrade"];
        lines.push("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "Content-Length: 0");
        c = new RawClient(server.port, lines.join("\r\n") + "\r\n\r\n");
      } else c = RawClient.upgrade(server.port, "/rec", headers);
      expect((await c.head).status).toBe(status);
      expect(seen[0].error).toEqual({ wsCode, closeCode: 1006, code: "http", status });
      await c.waitEnd(3000);
      c.destroy();
    });
  }

  it("over maxWebSockets → toomany (503)", async () => {
    const first = await upgraded();
    const second = RawClient.upgrade(server.port, "/rec");
    expect((await second.head).status).toBe(503);
    expect(seen[1].error).toEqual({ wsCode: "toomany", closeCode: 1006, code: "http", status: 503 });
    second.destroy();
    first.send(clientClose(1000));
    await first.waitEnd(3000);
    first.destroy();
  });
});

describe("client: wsConnect and readMessage", () => {
  let crt: Runtime;
  let srv: Awaited<ReturnType<typeof rawServer>> | undefined;
  beforeEach(() => {
    crt = new Runtime(nodeHost());
  });
  afterEach(async () => {
    try {
      await until(crt, () => crt.stat().activeCons === 0, 5000, "client connections to end");
    } finally {
      crt.shutdown();
      await srv?.close();
      srv = undefined;
    }
  });

  async function answering(head: (key: string) => string, after?: Uint8Array) {
    srv = await answeringServer(head, after);
    return `ws://127.0.0.1:${srv.port}/`;
  }

  const big = "X-Padding: " + "p".repeat(600);
  const refused: [string, (key: string) => string, WsCode, string[]?][] = [
    ["status 403", () => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "badstatus"],
    [
      "no Upgrade field",
      (k) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(k)}\r\n\r\n`,
      "badupgrade",
    ],
    [
      "no Connection field",
      (k) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${wsAccept(k)}\r\n\r\n`,
      "badupgrade",
    ],
    ["a wrong Sec-WebSocket-Accept", () => switching("dGhlIHNhbXBsZSBub25jZQ=="), "badaccept"],
    ["an extension that was not offered", (k) => switching(k, ["Sec-WebSocket-Extensions: permessage-deflate"]), "badextension"],
    ["a subprotocol that was not offered", (k) => switching(k, ["Sec-WebSocket-Protocol: chat.evil"]), "badsubprotocol", ["chat.v1"]],
    ["a head over maxHeaderBytes", (k) => switching(k, [big]), "badresponse"],
    ["a bad status line", () => "HTTP/1.1 abc\r\n\r\n", "badresponse"],
  ];
  for (const [name, head, wsCode, protocols] of refused) {
    it(`${name} → ${wsCode}, invalidsocketcon, 1006`, async () => {
      const url = await answering(head);
      const err = await wsConnect(crt, url, { protocols, timeout: 3000, limits: { maxHeaderBytes: 512 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WebSocketError);
      expect(err).toMatchObject({ wsCode, closeCode: 1006, code: "invalidsocketcon" });
    });
  }

  it("a server that never answers → handshaketimeout, timeout, 1006", async () => {
    srv = await rawServer(() => undefined);
    const err = await wsConnect(crt, `ws://127.0.0.1:${srv.port}/`, { timeout: 200 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ wsCode: "handshaketimeout", closeCode: 1006, code: "timeout" });
  });

  const badServerFrames: [string, Uint8Array, WsCode, number][] = [
    ["a masked server frame", maskedFrame(OP_TEXT, encodeUtf8("masked!")), "maskedframe", 1002],
    ["RSV1 on a server frame", Uint8Array.from([0xc1, 0x01, 0x61]), "rsvbits", 1002],
    ["a reserved opcode", Uint8Array.from([0x83, 0x00]), "badopcode", 1002],
    ["a 65537-byte server frame", Uint8Array.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 1]), "frametoobig", 1009],
    ["invalid UTF-8 from the server", serverFrame(OP_TEXT, bytes(0xc3, 0x28)), "invalidutf8", 1007],
    ["a continuation without a start", serverFrame(OP_CONT, bytes(1)), "unexpectedcontinuation", 1002],
    ["a ping of 126 bytes", Uint8Array.from([0x89, 126, 0, 126, ...new Uint8Array(126)]), "controltoolong", 1002],
    ["a fragmented ping", Uint8Array.from([0x09, 0x00]), "fragmentedcontrol", 1002],
    ["a close with code 1006", serverFrame(OP_CLOSE, closePayload(1006)), "badclosecode", 1002],
    ["a close with a 1-byte payload", serverFrame(OP_CLOSE, bytes(3)), "badclosepayload", 1002],
    ["a message over maxMessage", serverFrame(2, new Uint8Array(2000)), "messagetoobig", 1009],
  ];
  for (const [name, frame, wsCode, code] of badServerFrames) {
    it(`${name} → ${wsCode} ${code}`, async () => {
      const url = await answering((k) => switching(k), frame);
      const ws = await wsConnect(crt, url, { maxMessage: 1000 });
      expect(ws.readyState).toBe(OPEN);
      const err = await ws.readMessage(3000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WebSocketError);
      expect(err).toMatchObject({ wsCode, closeCode: code, code: "socketreadfailed" });
      expect(ws.readyState).toBe(CLOSING);
      const conn = srv!.conns[0];
      await conn.ended;
      await until(crt, () => ws.readyState === CLOSED, 3000, "CLOSED");
    });
  }

  it("close by us: OPEN → CLOSING at once → CLOSED; a write then fails with `closed` and our code", async () => {
    const url = `ws://127.0.0.1:${server.port}/rec`;
    const ws = await wsConnect(crt, url);
    expect(ws.readyState).toBe(OPEN);
    await ws.write("ping?");
    expect(Buffer.from((await ws.readMessage(3000))!.data).toString()).toBe("ping?");
    const closing = ws.close(4002, "done");
    expect(ws.readyState).toBe(CLOSING);
    expect(await closing).toBe(true);
    expect(ws.readyState).toBe(CLOSED);
    await expect(ws.write("late")).rejects.toMatchObject({ wsCode: "closed", closeCode: 4002, code: "socketwritefailed" });
    // the server's handler saw our close
    await until(rt, () => seen[0]?.peerClose !== undefined, 3000);
    expect(seen[0].peerClose).toEqual({ code: 4002, state: CLOSING });
    await until(rt, () => server.connections === 0, 3000);
  });

  it("close by the peer: null, CLOSING, then CLOSED", async () => {
    const url = await answering((k) => switching(k), serverFrame(OP_CLOSE, closePayload(4003, encodeUtf8("bye"))));
    const ws = await wsConnect(crt, url);
    expect(await ws.readMessage(3000)).toBeNull();
    expect([ws.closeCode, ws.closeReason]).toEqual([4003, "bye"]);
    expect(ws.readyState).toBe(CLOSING);
    await until(crt, () => ws.readyState === CLOSED, 3000, "CLOSED");
  });

  it("a server that drops the TCP connection → abnormalclosure 1006; close() then ends at CLOSED", async () => {
    srv = await rawServer((c) => {
      c.sock.write(switching(c.key));
      setTimeout(() => c.sock.end(), 20);
    });
    const ws = await wsConnect(crt, `ws://127.0.0.1:${srv.port}/`);
    expect(ws.readyState).toBe(OPEN);
    const err = await ws.readMessage(3000).catch((e: unknown) => e);
    expect(err).toMatchObject({ wsCode: "abnormalclosure", closeCode: 1006, code: "socketreadfailed" });
    expect(ws.readyState).toBe(CLOSING);
    await ws.close();
    expect(ws.readyState).toBe(CLOSED);
  });

  it("idleTimeout → idletimeout 1001; no pong within pongTimeout → pongtimeout 1006", async () => {
    srv = await rawServer((c) => c.sock.write(switching(c.key))); // answers the upgrade, then stays silent
    const url = `ws://127.0.0.1:${srv.port}/`;
    const idle = await wsConnect(crt, url, { idleTimeout: 100, closeTimeout: 200 });
    await expect(idle.readMessage()).rejects.toMatchObject({ wsCode: "idletimeout", closeCode: 1001 });
    const dead = await wsConnect(crt, url, { pingInterval: 100, pongTimeout: 100 });
    await expect(dead.readMessage()).rejects.toMatchObject({ wsCode: "pongtimeout", closeCode: 1006 });
    expect(dead.readyState).toBe(CLOSED); // aborted
    await until(crt, () => idle.readyState === CLOSED, 3000, "CLOSED");
  });
});
