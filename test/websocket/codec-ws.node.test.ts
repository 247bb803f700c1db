/**
 * Cross-check of the codec against the real `ws` package: frames built by ws's Sender parse with
 * our parser, frames built by our writer are accepted by ws's Receiver, and both hold over a real
 * loopback connection with a ws server and a ws client (the upgrade done by hand in the test).
 */
import WsWebSocket, { WebSocketServer } from "ws";
import { createHash, randomBytes as cryptoRandom } from "node:crypto";
import type { EventEmitter } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { FrameParser } from "../../src/websocket/frame-parser.js";
import type { FrameSink } from "../../src/websocket/frame-parser.js";
import { MessageAssembler } from "../../src/websocket/assemble.js";
import { encodeClose, encodeFrame, encodePing, encodePong, fragment, frameBytes } from "../../src/websocket/frame-writer.js";
import type { EncodedFrame } from "../../src/websocket/frame-writer.js";
import { OP_BINARY, OP_CONTINUATION, OP_TEXT } from "../../src/websocket/opcodes.js";
import { byteByByte, concatAll, feed, prng, randomBytes, randomChunks, sameBytes, utf8, whole } from "./codec-helpers.js";
import type { Event } from "./codec-helpers.js";

// ws does not type its Sender and Receiver; these are the parts used here.
interface WsSender {
  send(data: Buffer, options: { binary?: boolean; fin?: boolean; mask?: boolean }, cb?: (err?: Error) => void): void;
  ping(data: Buffer, mask: boolean, cb?: (err?: Error) => void): void;
  pong(data: Buffer, mask: boolean, cb?: (err?: Error) => void): void;
  close(code: number | undefined, data: string | undefined, mask: boolean, cb?: (err?: Error) => void): void;
}
interface WsReceiver extends EventEmitter {
  write(chunk: Uint8Array): boolean;
}
const { Sender, Receiver } = WsWebSocket as unknown as {
  Sender: new (socket: unknown) => WsSender;
  Receiver: new (options: { isServer?: boolean; maxPayload?: number }) => WsReceiver;
};

/** A stand-in for the socket ws's Sender writes to. */
function senderInto(out: Buffer[]): WsSender {
  return new Sender({
    cork() {},
    uncork() {},
    write(chunk: Buffer | string, cb?: () => void) {
      out.push(Buffer.from(chunk));
      cb?.();
      return true;
    },
  });
}

const MULTIBYTE = "héllo wörld € 𝄞 日本語 😀";
const SIZES = [0, 1, 125, 126, 65535, 65536];

/** Messages and controls from the parser's events (messages assembled under a large cap). */
function summarize(events: Event[]): unknown[] {
  const m = new MessageAssembler(1 << 22);
  const out: unknown[] = [];
  for (const e of events) {
    if (e.type === "data") {
      const r = m.push(e.piece);
      if (r)
        out.push(r.ok ? { isText: r.isText, length: r.data.length, text: r.isText ? new TextDecoder().decode(r.data) : undefined } : r);
    } else if (e.type === "ping" || e.type === "pong") out.push({ [e.type]: Buffer.from(e.payload).toString() });
    else out.push(e);
  }
  return out;
}

describe("ws Sender → our parser", () => {
  for (const masked of [true, false]) {
    const role = masked ? "server" : "client";
    it(`${masked ? "masked (ws as client)" : "unmasked (ws as server)"} frames parse under any chunking`, () => {
      const out: Buffer[] = [];
      const s = senderInto(out);
      const rand = prng(masked ? 1 : 2);
      const binaries = SIZES.map((n) => Buffer.from(randomBytes(n, rand)));
      s.send(Buffer.from(MULTIBYTE), { binary: false, fin: true, mask: masked });
      for (const b of binaries) s.send(b, { binary: true, fin: true, mask: masked });
      // a fragmented text message cut inside a character, with a ping between fragments
      const t = Buffer.from(MULTIBYTE);
      s.send(t.subarray(0, 2), { binary: false, fin: false, mask: masked });
      s.ping(Buffer.from("are you there"), masked);
      s.send(t.subarray(2, 21), { binary: false, fin: false, mask: masked });
      s.pong(Buffer.from(""), masked);
      s.send(t.subarray(21), { binary: false, fin: true, mask: masked });
      s.send(Buffer.alloc(0), { binary: true, fin: true, mask: masked });
      s.close(4001, "done ✓", masked);
      const stream = new Uint8Array(Buffer.concat(out));

      const expected = [
        { isText: true, length: t.length, text: MULTIBYTE },
        ...SIZES.map((n) => ({ isText: false, length: n, text: undefined })),
        { ping: "are you there" },
        { pong: "" },
        { isText: true, length: t.length, text: MULTIBYTE },
        { isText: false, length: 0, text: undefined },
        { type: "close", code: 4001, reason: "done ✓" },
      ];
      for (const chunking of [whole, byteByByte, randomChunks(3), randomChunks(4, 20000)]) {
        const { rec, parser } = feed(stream, { role }, chunking);
        expect(rec.errors()).toEqual([]);
        expect(summarize(rec.events)).toEqual(expected);
        expect(parser.closed).toEqual({ code: 4001, reason: "done ✓" });
        // the binary payloads are byte-exact
        const m = new MessageAssembler(1 << 22);
        const got = rec.events.flatMap((e) => (e.type === "data" ? [m.push(e.piece)] : [])).filter((r) => r?.ok && !r.isText);
        got.forEach((r, i) => i < binaries.length && expect(r!.ok && sameBytes(r!.data, binaries[i])).toBe(true));
      }
    });
  }
});

describe("our writer → ws Receiver", () => {
  interface Received {
    messages: { data: Buffer; isBinary: boolean }[];
    pings: string[];
    pongs: string[];
    close?: [number, string];
    errors: Error[];
  }

  async function receive(isServer: boolean, frames: EncodedFrame[], chunkSeed: number): Promise<Received> {
    const r = new Receiver({ isServer, maxPayload: 0 });
    const got: Received = { messages: [], pings: [], pongs: [], errors: [] };
    r.on("message", (data: Buffer, isBinary: boolean) => got.messages.push({ data: Buffer.from(data), isBinary }));
    r.on("ping", (d: Buffer) => got.pings.push(d.toString()));
    r.on("pong", (d: Buffer) => got.pongs.push(d.toString()));
    r.on("conclude", (code: number, reason: Buffer) => (got.close = [code, reason.toString()]));
    r.on("error", (e: Error) => got.errors.push(e));
    const stream = concatAll(frames.map(frameBytes));
    const chunking = randomChunks(chunkSeed, 5000);
    let at = 0;
    for (const k of chunking.cuts(stream.length)) {
      r.write(stream.slice(at, at + k));
      at += k;
    }
    await new Promise((r) => setImmediate(r)); // stream errors are emitted on a later tick
    return got;
  }

  for (const isServer of [true, false]) {
    it(`${isServer ? "masked frames to a ws server" : "unmasked frames to a ws client"}: every size, fragments, controls, close`, async () => {
      const rand = prng(isServer ? 10 : 11);
      const mask = () => (isServer ? randomBytes(4, rand) : undefined);
      const frames: EncodedFrame[] = [];
      const binaries = SIZES.map((n) => randomBytes(n, rand));
      frames.push(encodeFrame({ opcode: OP_TEXT, payload: utf8(MULTIBYTE), mask: mask() }));
      for (const b of binaries) frames.push(encodeFrame({ opcode: OP_BINARY, payload: b, mask: mask() }));
      // a 200000-byte message fragmented at the 65536 cap, and a text one cut every 5 bytes with pings between
      const big = randomBytes(200000, rand);
      for (const spec of fragment(big, false, 65536)) frames.push(encodeFrame({ ...spec, mask: mask() }));
      let i = 0;
      const pings: string[] = [];
      for (const spec of fragment(utf8(MULTIBYTE), true, 5)) {
        frames.push(encodeFrame({ ...spec, mask: mask() }));
        if (i++ % 3 === 0) {
          pings.push(`p${i}`);
          frames.push(encodePing(utf8(`p${i}`), mask()));
        }
      }
      frames.push(encodePong(utf8("pong!"), mask()));
      frames.push(encodeFrame({ opcode: OP_BINARY, fin: false, payload: new Uint8Array(0), mask: mask() }));
      frames.push(encodeFrame({ opcode: OP_CONTINUATION, payload: new Uint8Array(0), mask: mask() }));
      frames.push(encodeClose(1000, "bye ✓", mask()));

      const got = await receive(isServer, frames, isServer ? 1 : 2);
      expect(got.errors).toEqual([]);
      expect(got.messages.map((m) => [m.isBinary, m.data.length])).toEqual([
        [false, utf8(MULTIBYTE).length],
        ...SIZES.map((n) => [true, n]),
        [true, 200000],
        [false, utf8(MULTIBYTE).length],
        [true, 0],
      ]);
      expect(got.messages[0].data.toString()).toBe(MULTIBYTE);
      binaries.forEach((b, k) => expect(sameBytes(got.messages[1 + k].data, b)).toBe(true));
      expect(sameBytes(got.messages[1 + SIZES.length].data, big)).toBe(true);
      expect(got.messages[2 + SIZES.length].data.toString()).toBe(MULTIBYTE);
      expect(got.pings).toEqual(pings);
      expect(pings.length).toBeGreaterThan(2);
      expect(got.pongs).toEqual(["pong!"]);
      expect(got.close).toEqual([1000, "bye ✓"]);
    });
  }

  it("ws refuses our frames when the mask does not fit its role (sanity of the check)", async () => {
    const unmasked = encodeFrame({ opcode: OP_TEXT, payload: utf8("x") });
    const got = await receive(true, [unmasked], 1);
    expect(got.errors.length).toBe(1);
  });
});

// ------------------------------------------------------------------------------------------------
// real connections over loopback

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const acceptFor = (key: string) =>
  createHash("sha1")
    .update(key + GUID)
    .digest("base64");

/** Our codec on one side of a raw TCP connection: events from the parser, frames out. */
class CodecPeer {
  events: Event[] = [];
  messages: { data: Uint8Array; isText: boolean }[] = [];
  parser: FrameParser;
  private assembler = new MessageAssembler(1 << 22);
  private waiters: (() => void)[] = [];

  constructor(
    readonly sock: net.Socket,
    readonly role: "server" | "client",
    onEvent?: (peer: CodecPeer, e: Event) => void,
  ) {
    const push = (e: Event) => {
      this.events.push(e);
      onEvent?.(this, e);
      this.waiters.splice(0).forEach((w) => w());
    };
    const sink: FrameSink = {
      onData: (piece) => {
        const r = this.assembler.push(piece);
        if (r?.ok) this.messages.push({ data: r.data.slice(), isText: r.isText });
        push({ type: "data", piece });
      },
      onPing: (payload) => push({ type: "ping", payload }),
      onPong: (payload) => push({ type: "pong", payload }),
      onClose: (code, reason) => push({ type: "close", code, reason }),
      onError: (code, reason) => push({ type: "error", code, reason }),
    };
    this.parser = new FrameParser(sink, { role });
  }

  push(chunk: Uint8Array): void {
    this.parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
  }

  mask(): Uint8Array | undefined {
    return this.role === "client" ? new Uint8Array(cryptoRandom(4)) : undefined;
  }

  send(frame: EncodedFrame): void {
    this.sock.write(frame.header);
    if (frame.payload.length) this.sock.write(frame.payload);
  }

  sendMessage(data: Uint8Array, isText: boolean, maxFrame = 65536): void {
    for (const spec of fragment(data, isText, maxFrame)) this.send(encodeFrame({ ...spec, mask: this.mask() }));
  }

  async until(test: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!test()) {
      if (Date.now() > end) throw new Error("timed out waiting");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

/** Reads an HTTP head from `sock`; resolves with it and the bytes after it. */
function readHead(sock: net.Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      resolve({ head: buf.subarray(0, end).toString("latin1"), rest: buf.subarray(end + 4) });
    };
    sock.on("data", onData);
    sock.once("error", reject);
  });
}

describe("over loopback with real ws peers", () => {
  let wss: WebSocketServer;
  let port: number;

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    wss.on("connection", (ws) => {
      ws.on("error", () => undefined); // a protocol error must not crash the test process
      ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    port = (wss.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => wss.close(() => r()));
  });

  async function connectClient(): Promise<CodecPeer> {
    const sock = net.connect(port, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    const key = cryptoRandom(16).toString("base64");
    sock.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const { head, rest } = await readHead(sock);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain(`Sec-WebSocket-Accept: ${acceptFor(key)}`);
    const peer = new CodecPeer(sock, "client", (p, e) => {
      if (e.type === "ping") p.send(encodePong(e.payload.slice(), p.mask()));
    });
    if (rest.length) peer.push(rest);
    sock.on("data", (d: Buffer) => peer.push(d));
    return peer;
  }

  it("our client codec ↔ ws server: echoes of every size, fragments with pings, close handshake", async () => {
    const peer = await connectClient();
    const rand = prng(31);
    const sent: { data: Uint8Array; isText: boolean }[] = [];
    const send = (data: Uint8Array, isText: boolean, maxFrame?: number) => {
      sent.push({ data, isText });
      peer.sendMessage(data, isText, maxFrame);
    };
    send(utf8(MULTIBYTE), true);
    for (const n of SIZES) send(randomBytes(n, rand), false);
    send(utf8(MULTIBYTE.repeat(20)), true, 7); // many fragments, cut inside characters
    peer.send(encodePing(utf8("hello?"), peer.mask()));
    send(randomBytes(150000, rand), false); // we fragment it at 65536; ws echoes it as one frame
    // ws echoes the 150000-byte message as a single frame: our 65536 cap refuses it with 1009
    await peer.until(() => peer.parser.done);
    expect(peer.parser.error?.code).toBe(1009);
    expect(peer.messages).toHaveLength(sent.length - 1);
    expect(peer.events.filter((e) => e.type === "pong").map((e) => e.type === "pong" && Buffer.from(e.payload).toString())).toEqual([
      "hello?",
    ]);
    for (let i = 0; i < sent.length - 1; i++) {
      expect(peer.messages[i].isText).toBe(sent[i].isText);
      expect(sameBytes(peer.messages[i].data, sent[i].data)).toBe(true);
    }
    peer.sock.destroy();
  });

  it("our client codec ↔ ws server: close handshake, and ws's 1002 answer to an unmasked frame", async () => {
    const a = await connectClient();
    a.send(encodeClose(4000, "bye", a.mask()));
    await a.until(() => a.parser.done);
    expect(a.parser.closed).toEqual({ code: 4000, reason: "bye" });
    a.sock.destroy();

    const b = await connectClient();
    b.send(encodeFrame({ opcode: OP_TEXT, payload: utf8("not masked") })); // a client must mask
    await b.until(() => b.parser.done);
    expect(b.parser.closed?.code).toBe(1002);
    b.sock.destroy();
  });

  it("ws client ↔ our server codec: messages, fragments, ping, close codes", async () => {
    const server = net.createServer(async (sock) => {
      const { head, rest } = await readHead(sock);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)![1];
      sock.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
      );
      const peer = new CodecPeer(sock, "server", (p, e) => {
        if (e.type === "ping") p.send(encodePong(e.payload.slice()));
        else if (e.type === "data") {
          const m = p.messages[p.messages.length - 1];
          if (m && e.piece.fin && e.piece.bytesRead === e.piece.frameLen) p.sendMessage(m.data, m.isText, 65536);
        } else if (e.type === "close") {
          p.send(encodeClose(e.code === 1005 ? undefined : e.code, e.reason));
          sock.end();
        } else if (e.type === "error") {
          p.send(encodeClose(e.code, e.reason));
          sock.end();
        }
      });
      if (rest.length) peer.push(rest);
      sock.on("data", (d: Buffer) => peer.push(d));
      sock.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const sport = (server.address() as AddressInfo).port;
    try {
      const c = new WsWebSocket(`ws://127.0.0.1:${sport}/`, { perMessageDeflate: false });
      const got: { data: Buffer; isBinary: boolean }[] = [];
      const pongs: string[] = [];
      let closed: [number, string] | undefined;
      c.on("error", () => undefined);
      c.on("message", (d: Buffer, isBinary: boolean) => got.push({ data: d, isBinary }));
      c.on("pong", (d: Buffer) => pongs.push(d.toString()));
      c.on("close", (code: number, reason: Buffer) => (closed = [code, reason.toString()]));
      await new Promise<void>((r) => c.once("open", () => r()));
      const rand = prng(41);
      const sent = [utf8(MULTIBYTE), ...SIZES.map((n) => randomBytes(n, rand)), randomBytes(65536 * 2 + 5, rand)];
      c.send(MULTIBYTE);
      for (const b of sent.slice(1, -1)) c.send(Buffer.from(b), { binary: true });
      c.ping(Buffer.from("ping?"));
      c.send(Buffer.from(sent[sent.length - 1]), { binary: true });
      const waitFor = async (test: () => boolean) => {
        const end = Date.now() + 5000;
        while (!test() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        expect(test()).toBe(true);
      };
      // ws sends the 131077-byte message as one frame, over our server's cap: it answers 1009 then
      await waitFor(() => closed !== undefined);
      expect(got.map((m) => m.data.length)).toEqual(sent.slice(0, -1).map((b) => b.length));
      got.forEach((m, i) => expect(sameBytes(m.data, sent[i])).toBe(true));
      expect(got[0].isBinary).toBe(false);
      expect(got[0].data.toString()).toBe(MULTIBYTE);
      expect(closed![0]).toBe(1009);

      // a clean close with a code and reason is echoed
      const c2 = new WsWebSocket(`ws://127.0.0.1:${sport}/`, { perMessageDeflate: false });
      let closed2: [number, string] | undefined;
      c2.on("error", () => undefined);
      c2.on("close", (code: number, reason: Buffer) => (closed2 = [code, reason.toString()]));
      await new Promise<void>((r) => c2.once("open", () => r()));
      c2.send("hi");
      c2.close(4321, "enough ✓");
      await waitFor(() => closed2 !== undefined);
      expect(closed2).toEqual([4321, "enough ✓"]);
      expect(pongs).toEqual(["ping?"]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
