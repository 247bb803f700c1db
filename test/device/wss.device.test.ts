/**
 * `wss:` on the device host: hosts/moddable with the device defaults over the lwIP emulation
 * (1436-byte send buffer) and the emulation of Moddable's TLSSocket (test/device/ecma419-tls.ts,
 * real TLS 1.2 by node:tls), against a real `ws` WebSocketServer on a node `https` server on
 * 127.0.0.1 with certificates from test/tls/pki.ts. First `wsConnect` itself (echo of text and
 * binary messages, one over the device's 4096-byte frame cap cut into frames, ping/pong both
 * ways, a clean close; untrusted certificates and wrong names refused before anything is sent;
 * `verify: false`), then the device's WebSocket client app (examples/ws-client.ts) with a `wss:`
 * URL, trusting the CA from its `tls` option or a CA built into the app.
 * Emulated in Node, not flashed: what Moddable's own TLS code does on a board is not exercised.
 */
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { WebSocketServer, type RawData, type WebSocket as WsSocket } from "ws";
import { Runtime, decodeUtf8, encodeUtf8 } from "../../src/index.js";
import { wsConnect } from "../../src/websocket/handshake.js";
import type { WebSocket } from "../../src/websocket/connection.js";
import { moddableHost } from "../../hosts/moddable/index.js";
import { deviceOptions } from "../../device/defaults.js";
import type { PlatformTLS } from "../../hosts/moddable/platform.js";
import { wsClientApp, type WsClientApp } from "../../examples/ws-client.js";
import { itWithPeer } from "../support/peers.js";
import { equalBytes, randomBytes, until } from "../support/util.js";
import { socketFailure as failure } from "../support/util.js";
import { usePKI, type Credentials, type PKI } from "../tls/pki.js";
import { ecma419, type Emulation, type EmulationOptions } from "./ecma419.js";
import { DEVICE_MSS } from "./moddable-env.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");

let pki: PKI;
usePKI((made) => (pki = made));

/** The device's frame cap (cosock.ws.maxFrame): the server echoes in frames no larger. */
const FRAME_CAP = deviceOptions().ws.maxFrame!;

/** A frame the client sent, as it crossed the wire (read from the server's decrypted bytes). */
interface WireFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  length: number;
}

interface Conn {
  sock: WsSocket;
  messages: { data: Buffer; isBinary: boolean }[];
  frames: WireFrame[];
  pongs: string[];
  closeCode?: number;
}

interface Peer {
  port: number;
  conns: Conn[];
  /** TLS handshakes the server completed, and HTTP requests/upgrades it received. */
  tlsConnections: number;
  requests: number;
  close(): Promise<void>;
}

/** Follows the client's frames in the decrypted byte stream after the upgrade. */
function frameReader(out: WireFrame[]): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (masked) at += 4;
      if (buf.length < at + len) return;
      out.push({ fin: (buf[0]! & 0x80) !== 0, opcode: buf[0]! & 0x0f, masked, length: len });
      buf = buf.subarray(at + len);
    }
  };
}

/**
 * `ws` on an `https` server on 127.0.0.1 (a free port) with `cert`: echoes every message, a
 * message over the device's frame cap in frames of at most the cap (the `ws` sender's `fin: false`).
 */
async function wssPeer(cert: Credentials): Promise<Peer> {
  const server = https.createServer({ cert: cert.cert, key: cert.key });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const peer: Peer = {
    port: 0,
    conns: [],
    tlsConnections: 0,
    requests: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  server.on("secureConnection", () => peer.tlsConnections++);
  server.on("request", () => peer.requests++);
  server.on("upgrade", () => peer.requests++);
  server.on("tlsClientError", () => undefined);
  wss.on("connection", (sock, req) => {
    const conn: Conn = { sock, messages: [], frames: [], pongs: [] };
    peer.conns.push(conn);
    (req.socket as TLSSocket).on("data", frameReader(conn.frames));
    sock.on("error", () => undefined);
    sock.on("close", (code) => (conn.closeCode = code));
    sock.on("pong", (d) => conn.pongs.push(String(d)));
    sock.on("message", (d: RawData, isBinary: boolean) => {
      const data = d as Buffer;
      conn.messages.push({ data, isBinary });
      if (sock.readyState !== sock.OPEN) return;
      for (let at = 0; at < data.length || at === 0; at += FRAME_CAP) {
        const end = Math.min(data.length, at + FRAME_CAP);
        sock.send(data.subarray(at, end), { binary: isBinary, fin: end === data.length });
        if (end === data.length) break;
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  peer.port = (server.address() as AddressInfo).port;
  return peer;
}

const emulations: Emulation[] = [];
const runtimes: Runtime[] = [];
const peers: Peer[] = [];
let logs: string[] = [];

interface Device {
  rt: Runtime;
  emu: Emulation;
  ws: { maxFrame?: number; maxMessage?: number };
  /** Application bytes the device handed to its TLS sockets (what it sent over TLS). */
  sent(): number;
}

/** A device runtime (device defaults) over the emulation; counts what goes into its TLS sockets. */
function device(options: EmulationOptions = {}): Device {
  const emu = ecma419({ sendBuffer: DEVICE_MSS, ...options });
  emulations.push(emu);
  let sent = 0;
  const factory = emu.tls!;
  const counting: Emulation = {
    ...emu,
    tls: (o) => {
      const s = factory(o);
      return {
        read: (count?: number) => s.read(count),
        write: (data: ArrayBuffer) => {
          const left = s.write(data);
          sent += data.byteLength;
          return left;
        },
        close: () => s.close(),
      } satisfies PlatformTLS;
    },
  };
  const d = deviceOptions();
  const rt = new Runtime(moddableHost(counting), { ...d.runtime, log: (m) => logs.push(m) });
  runtimes.push(rt);
  return { rt, emu, ws: d.ws, sent: () => sent };
}

async function peerWith(cert: Credentials): Promise<Peer> {
  const p = await wssPeer(cert);
  peers.push(p);
  return p;
}

beforeEach(() => {
  logs = [];
});

afterEach(async () => {
  for (const rt of runtimes.splice(0)) rt.shutdown();
  for (const p of peers.splice(0)) await p.close();
  await new Promise((r) => setTimeout(r, 5));
  const all = emulations.splice(0);
  for (const e of all) e.shutdown();
  expect(all.flatMap((e) => e.violations)).toEqual([]); // no misuse of the device's sockets
  expect(logs).toEqual([]); // the runtime logged nothing (no coroutine failed)
});

describe("wsConnect from the device host (emulated TLS) to ws over https", () => {
  itOpenssl("verified with the right CA: text and binary echo, a message over the frame cap in frames, ping/pong, close 1000", async () => {
    const p = await peerWith(pki.server);
    const { rt, ws: limits, sent } = device();
    expect(limits.maxFrame).toBe(4096);
    const ws: WebSocket = await wsConnect(rt, `wss://localhost:${p.port}/echo`, { ...limits, tls: { ca: pki.ca.cert } });
    expect(ws.sock.secure).toBe(true);
    expect(ws.sock.trusted()).toBe(true);
    expect(ws.sock.cipher()?.protocol).toBe("TLSv1.2");
    expect(p.conns).toHaveLength(1);
    const conn = p.conns[0]!;

    await ws.write("hello over wss");
    expect(await ws.readMessage(5000)).toEqual({ data: encodeUtf8("hello over wss"), isText: true });

    const small = randomBytes(300, 7);
    await ws.write(small);
    const m2 = (await ws.readMessage(5000))!;
    expect(m2.isText).toBe(false);
    expect(equalBytes(m2.data, small)).toBe(true);

    // 6000 bytes: over the 4096-byte frame cap, under the 8192-byte message cap
    const big = randomBytes(6000, 9);
    await ws.write(big);
    const m3 = (await ws.readMessage(5000))!;
    expect(m3.isText).toBe(false);
    expect(equalBytes(m3.data, big)).toBe(true);
    // text over the cap, cut in the middle of a two-byte character ("a" + 2600 × "é": byte 4095 starts one)
    const text = "a" + "é".repeat(2600);
    await ws.write(text);
    const m4 = (await ws.readMessage(5000))!;
    expect(m4.isText).toBe(true);
    expect(decodeUtf8(m4.data)).toBe(text);

    expect(conn.messages.map((m) => [m.isBinary, m.data.length])).toEqual([
      [false, 14],
      [true, 300],
      [true, 6000],
      [false, 5201],
    ]);
    expect(equalBytes(new Uint8Array(conn.messages[2]!.data), big)).toBe(true);
    expect(sent()).toBeGreaterThan(14 + 300 + 6000 + 5201); // the count the failures below rely on
    expect(conn.messages[3]!.data.toString("utf8")).toBe(text);
    // on the wire: every client frame masked; the large messages in frames of at most 4096
    expect(conn.frames.every((f) => f.masked)).toBe(true);
    expect(conn.frames.map((f) => [f.opcode, f.fin, f.length])).toEqual([
      [1, true, 14],
      [2, true, 300],
      [2, false, 4096],
      [0, true, 1904],
      [1, false, 4096],
      [0, true, 1105],
    ]);

    // ping from the device: ws answers with a pong
    await ws.ping("device ping", 5000);
    // ping from the server: the device answers while it reads; the server writes only after the pong
    conn.sock.once("pong", () => conn.sock.send("after the pong"));
    conn.sock.ping("server ping");
    expect(await ws.readMessage(5000)).toEqual({ data: encodeUtf8("after the pong"), isText: true });
    expect(conn.pongs).toEqual(["server ping"]);
    expect(conn.frames.filter((f) => f.opcode === 9 || f.opcode === 10).map((f) => f.opcode)).toEqual([9, 10]);

    expect(await ws.close(1000, "done")).toBe(true);
    expect(ws.closeCode).toBe(1000);
    await until(rt, () => conn.closeCode !== undefined, 5000, "the server to see the close");
    expect(conn.closeCode).toBe(1000);
    expect(conn.frames[conn.frames.length - 1]).toMatchObject({ opcode: 8, fin: true, masked: true });
    expect(rt.stat().activeCons).toBe(0);
  });

  itOpenssl("a certificate the CA did not sign fails with sslnottrusted, before anything is sent", async () => {
    const p = await peerWith(pki.selfSigned);
    const d = device();
    const e = await failure(wsConnect(d.rt, `wss://localhost:${p.port}/echo`, { ...d.ws, tls: { ca: pki.ca.cert } }));
    expect(e.code).toBe("sslnottrusted");
    expect(d.sent()).toBe(0);
    expect(p.requests).toBe(0);
    expect(p.conns).toHaveLength(0);
  });

  itOpenssl("trusting another CA fails the same way", async () => {
    const p = await peerWith(pki.server);
    const d = device();
    const e = await failure(wsConnect(d.rt, `wss://localhost:${p.port}/echo`, { ...d.ws, tls: { ca: pki.selfSigned.cert } }));
    expect(e.code).toBe("sslnottrusted");
    expect(d.sent()).toBe(0);
    expect(p.requests).toBe(0);
  });

  itOpenssl("a certificate for another name fails with sslnottrusted after the handshake, before anything is sent", async () => {
    const p = await peerWith(pki.wrongName);
    const d = device();
    const e = await failure(wsConnect(d.rt, `wss://localhost:${p.port}/echo`, { ...d.ws, tls: { ca: pki.ca.cert } }));
    expect(e.code).toBe("sslnottrusted");
    expect(e.message).toMatch(/not for localhost/);
    await until(d.rt, () => p.tlsConnections === 1, 2000, "the server's side of the handshake");
    expect(d.sent()).toBe(0);
    expect(p.requests).toBe(0);
    expect(p.conns).toHaveLength(0);
  });

  itOpenssl("the name checked is the URL's host: 127.0.0.1 matches the certificate's IP address", async () => {
    const p = await peerWith(pki.server);
    const d = device();
    const ws = await wsConnect(d.rt, `wss://127.0.0.1:${p.port}/`, { ...d.ws, tls: { ca: pki.ca.cert } });
    expect(ws.sock.trusted()).toBe(true);
    await ws.write("by address");
    expect(await ws.readMessage(5000)).toEqual({ data: encodeUtf8("by address"), isText: true });
    await ws.close();
  });

  itOpenssl("verify: false connects to a self-signed server and echoes", async () => {
    const p = await peerWith(pki.selfSigned);
    const d = device();
    const ws = await wsConnect(d.rt, `wss://localhost:${p.port}/echo`, { ...d.ws, tls: { verify: false } });
    expect(ws.sock.secure).toBe(true);
    expect(ws.sock.trusted()).toBe(false);
    await ws.write("unverified");
    expect(await ws.readMessage(5000)).toEqual({ data: encodeUtf8("unverified"), isText: true });
    expect(await ws.close()).toBe(true);
    await until(d.rt, () => p.conns[0]?.closeCode !== undefined, 5000, "the server to see the close");
    expect(p.conns[0]!.closeCode).toBe(1000);
  });

  itOpenssl("without `ca`, the CA certificates built into the app decide (none: sslnottrusted)", async () => {
    const p = await peerWith(pki.server);
    const none = device();
    const e = await failure(wsConnect(none.rt, `wss://localhost:${p.port}/`, none.ws));
    expect(e.code).toBe("sslnottrusted");
    const built = device({ tls: { trusted: [pki.ca.cert] } });
    const ws = await wsConnect(built.rt, `wss://localhost:${p.port}/`, built.ws);
    expect(ws.sock.trusted()).toBe(true);
    await ws.write("trusted by a built-in CA");
    expect(await ws.readMessage(5000)).toEqual({ data: encodeUtf8("trusted by a built-in CA"), isText: true });
    await ws.close();
  });
});

describe("the WebSocket client app (examples/ws-client.ts) with a wss: URL on the device host", () => {
  let app: WsClientApp | undefined;
  let lines: string[];
  beforeEach(() => {
    app = undefined;
    lines = [];
  });
  afterEach(async () => {
    await app?.stop();
  });

  itOpenssl("with the CA in its tls option: messages echoed on the interval, stop() closes with 1001", async () => {
    const p = await peerWith(pki.server);
    const d = device();
    const url = `wss://localhost:${p.port}/ws`;
    const a = (app = wsClientApp(d.rt, { ...d.ws, url, interval: 40, retryDelay: 100, tls: { ca: pki.ca.cert } }, (l) => lines.push(l)));
    await until(d.rt, () => a.received >= 3, 5000, "three echoes");
    expect(lines[0]).toBe(`connected to ${url}`);
    expect(lines.filter((l) => l.startsWith("received: ")).slice(0, 3)).toEqual([1, 2, 3].map((n) => `received: hello ${n} from cosock`));
    expect(a.ws?.sock.secure).toBe(true);
    expect(p.conns).toHaveLength(1);
    expect(p.conns[0]!.messages.slice(0, 3).map((m) => [m.isBinary, String(m.data)])).toEqual(
      [1, 2, 3].map((n) => [false, `hello ${n} from cosock`]),
    );
    await a.stop();
    expect(lines[lines.length - 1]).toBe("closed");
    await until(d.rt, () => p.conns[0]!.closeCode !== undefined, 5000, "the server to see the close");
    expect(p.conns[0]!.closeCode).toBe(1001);
    expect(a.connections).toBe(1);
    expect(d.rt.stat().activeCons).toBe(0);
  });

  itOpenssl("ws.ca as the manifest passes it: one PEM certificate, spaces for its line breaks", async () => {
    const p = await peerWith(pki.server);
    const d = device();
    const ca = pki.ca.cert.trim().replace(/\n/g, " ");
    expect(ca).not.toContain("\n");
    const a = (app = wsClientApp(d.rt, { ...d.ws, url: `wss://localhost:${p.port}/`, interval: 40, tls: { ca } }, (l) => lines.push(l)));
    await until(d.rt, () => a.received >= 1, 5000, "an echo");
    expect(a.ws?.sock.trusted()).toBe(true);
  });

  itOpenssl("without a CA option, a CA built into the app is trusted", async () => {
    const p = await peerWith(pki.server);
    const d = device({ tls: { trusted: [pki.ca.cert] } });
    const a = (app = wsClientApp(d.rt, { ...d.ws, url: `wss://localhost:${p.port}/`, interval: 40 }, (l) => lines.push(l)));
    await until(d.rt, () => a.received >= 2, 5000, "two echoes");
    expect(p.conns[0]!.messages.map((m) => String(m.data)).slice(0, 2)).toEqual(["hello 1 from cosock", "hello 2 from cosock"]);
  });

  itOpenssl("an untrusted server: sslnottrusted is logged and tried again, nothing is sent", async () => {
    const p = await peerWith(pki.server);
    const d = device();
    const url = `wss://localhost:${p.port}/`;
    const a = (app = wsClientApp(d.rt, { ...d.ws, url, interval: 40, retryDelay: 50, tls: { ca: pki.selfSigned.cert } }, (l) =>
      lines.push(l),
    ));
    await until(d.rt, () => lines.filter((l) => l.startsWith("cannot connect")).length >= 2, 5000, "two refused attempts");
    expect(lines[0]).toMatch(new RegExp(`^cannot connect to ${url}: sslnottrusted`));
    expect(lines[1]).toBe("reconnecting in 50 ms");
    expect(a.connections).toBe(0);
    expect(d.sent()).toBe(0);
    expect(p.requests).toBe(0);
  });
});
