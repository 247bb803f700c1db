/**
 * Raw WebSocket peers over node:net for tests that must see (or send) exact bytes: an
 * independent frame decoder, a client that performs the opening handshake by hand, and a server
 * that answers an upgrade with whatever head the test chooses. Nothing here uses src/.
 */
import { connect, createServer, type Server, type Socket as NetSocket, type AddressInfo } from "node:net";
import { createHash, randomBytes as cryptoRandom } from "node:crypto";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export function wsAccept(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

export function newKey(): string {
  return cryptoRandom(16).toString("base64");
}

/** A frame as it was on the wire. `payload` is unmasked; `key` is the masking key if any. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Uint8Array | undefined;
  payload: Uint8Array;
}

/** Decodes whole frames from `bytes`; `rest` is an unfinished frame at the end. */
export function decodeFrames(bytes: Uint8Array): { frames: WireFrame[]; rest: Uint8Array } {
  const frames: WireFrame[] = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < 2) break;
    const b0 = bytes[at];
    const b1 = bytes[at + 1];
    let len = b1 & 0x7f;
    let p = at + 2;
    if (len === 126) {
      if (bytes.length - p < 2) break;
      len = (bytes[p] << 8) | bytes[p + 1];
      p += 2;
    } else if (len === 127) {
      if (bytes.length - p < 8) break;
      len = 0;
      for (let i = 0; i < 8; i++) len = len * 256 + bytes[p + i];
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Uint8Array | undefined;
    if (masked) {
      if (bytes.length - p < 4) break;
      key = bytes.slice(p, p + 4);
      p += 4;
    }
    if (bytes.length - p < len) break;
    const payload = bytes.slice(p, p + len);
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, key, payload });
    at = p + len;
  }
  return { frames, rest: bytes.subarray(at) };
}

/** The code and reason of a close frame's payload (1005 when empty). */
export function closeOf(f: WireFrame): { code: number; reason: string } {
  if (f.payload.length < 2) return { code: 1005, reason: "" };
  return { code: (f.payload[0] << 8) | f.payload[1], reason: Buffer.from(f.payload.subarray(2)).toString("utf8") };
}

/** A masked close frame as a client sends it. */
export function clientClose(code: number, reason = ""): Uint8Array {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  return maskedFrame(0x8, payload);
}

/** A well-formed masked frame (a client's). */
export function maskedFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const key = cryptoRandom(4);
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 255);
  else head.push(0x80 | 127, 0, 0, 0, 0, (len >>> 24) & 255, (len >> 16) & 255, (len >> 8) & 255, len & 255);
  const out = Buffer.alloc(head.length + 4 + len);
  Buffer.from(head).copy(out, 0);
  key.copy(out, head.length);
  for (let i = 0; i < len; i++) out[head.length + 4 + i] = payload[i] ^ key[i & 3];
  return out;
}

/** An unmasked frame (a server's). */
export function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push(len);
  else if (len < 65536) head.push(126, len >> 8, len & 255);
  else head.push(127, 0, 0, 0, 0, (len >>> 24) & 255, (len >> 16) & 255, (len >> 8) & 255, len & 255);
  return Buffer.concat([Buffer.from(head), Buffer.from(payload)]);
}

export interface HttpHead {
  statusLine: string;
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
}

export function parseHead(text: string): HttpHead {
  const lines = text.split("\r\n");
  const statusLine = lines[0];
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(":");
    if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  return { statusLine, status: Number(/^HTTP\/1\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0), headers };
}

/**
 * A raw client connection: sends a request head, then collects everything the server sends.
 * `head` resolves with the response head; `bytes()` is what came after it; `ended` resolves
 * when the server ended its side (FIN) and `closed` when the TCP connection is fully gone.
 */
export class RawClient {
  readonly sock: NetSocket;
  readonly head: Promise<HttpHead>;
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
  /** The body bytes of a non-101 answer, or the frames' bytes after a 101. */
  private after: Buffer[] = [];
  private headBuf = Buffer.alloc(0);
  private gotHead = false;
  private waiters: (() => void)[] = [];
  endedFlag = false;
  error: Error | undefined;

  constructor(port: number, request: string | Uint8Array, options: { autoEnd?: boolean } = {}) {
    // allowHalfOpen: the test decides when to end its side (default: at once, like a browser would after a close)
    this.sock = connect({ port, host: "127.0.0.1", allowHalfOpen: options.autoEnd === false });
    let resolveHead!: (h: HttpHead) => void;
    let rejectHead!: (e: Error) => void;
    this.head = new Promise((res, rej) => {
      resolveHead = res;
      rejectHead = rej;
    });
    this.head.catch(() => undefined);
    this.ended = new Promise((res) => this.sock.once("end", () => res()));
    this.closed = new Promise((res) => this.sock.once("close", () => res()));
    this.sock.on("end", () => {
      this.endedFlag = true;
      this.wake();
      if (!this.gotHead) rejectHead(new Error(`connection ended before a response head: ${this.headBuf.toString("latin1")}`));
    });
    this.sock.on("error", (e) => {
      this.error = e;
      this.wake();
      if (!this.gotHead) rejectHead(e);
    });
    this.sock.on("data", (d: Buffer) => {
      if (!this.gotHead) {
        this.headBuf = Buffer.concat([this.headBuf, d]);
        const end = this.headBuf.indexOf("\r\n\r\n");
        if (end < 0) return;
        this.gotHead = true;
        const rest = this.headBuf.subarray(end + 4);
        if (rest.length) this.after.push(rest);
        resolveHead(parseHead(this.headBuf.subarray(0, end).toString("latin1")));
      } else this.after.push(d);
      this.wake();
    });
    this.sock.write(request);
  }

  /** Opens a connection and sends a WebSocket upgrade request (`headers` override or add; null removes). */
  static upgrade(port: number, path = "/", headers: Record<string, string | null> = {}, options?: { autoEnd?: boolean }): RawClient {
    const key = newKey();
    const fields: Record<string, string | null> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": key,
      "Sec-WebSocket-Version": "13",
      ...headers,
    };
    const lines = [`GET ${path} HTTP/1.1`];
    for (const [k, v] of Object.entries(fields)) if (v !== null) lines.push(`${k}: ${v}`);
    const c = new RawClient(port, lines.join("\r\n") + "\r\n\r\n", options);
    c.key = fields["Sec-WebSocket-Key"] ?? key;
    return c;
  }

  key = "";

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.after);
  }

  frames(): WireFrame[] {
    return decodeFrames(this.bytes()).frames;
  }

  send(bytes: Uint8Array | string): void {
    this.sock.write(bytes);
  }

  /** Waits until `cond()` holds (checked on every arrival), the server ends, or `ms` passes. */
  waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    return new Promise((resolve) => {
      const check = () => {
        if (cond()) return resolve(true);
        if (this.endedFlag || this.error || Date.now() >= end) return resolve(cond());
        const t = setTimeout(check, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          check();
        });
      };
      check();
    });
  }

  /** Waits until the server's close frame has arrived; returns the frames so far. */
  async waitClose(ms = 5000): Promise<WireFrame[]> {
    await this.waitFor(() => this.frames().some((f) => f.opcode === 8), ms);
    return this.frames();
  }

  /** Waits for the server to end the TCP connection (FIN); false on a timeout. */
  async waitEnd(ms = 5000): Promise<boolean> {
    return this.waitFor(() => this.endedFlag, ms);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/**
 * A raw upgrade server: for each connection, reads the request head, calls `answer(request
 * head, key, socket)` which writes what it likes; everything the client sends after the head is
 * collected in `received` per connection.
 */
export interface RawServerConn {
  request: HttpHead & { target: string };
  key: string;
  sock: NetSocket;
  received: Buffer[];
  ended: Promise<void>;
  bytes(): Uint8Array;
}

export async function rawServer(
  answer: (conn: RawServerConn) => void,
): Promise<{ port: number; conns: RawServerConn[]; close(): Promise<void> }> {
  const conns: RawServerConn[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    let buf = Buffer.alloc(0);
    let conn: RawServerConn | undefined;
    const ended = new Promise<void>((r) => sock.once("end", () => r()));
    sock.on("error", () => sock.destroy());
    sock.on("data", (d: Buffer) => {
      if (conn) {
        conn.received.push(d);
        return;
      }
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const text = buf.subarray(0, end).toString("latin1");
      const head = parseHead(text);
      const target = text.split(" ")[1] ?? "/";
      const received: Buffer[] = [];
      const rest = buf.subarray(end + 4);
      if (rest.length) received.push(rest);
      conn = {
        request: { ...head, target },
        key: head.headers.get("sec-websocket-key") ?? "",
        sock,
        received,
        ended,
        bytes: () => Buffer.concat(received),
      };
      conns.push(conn);
      answer(conn);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.sock.destroy();
        server.close(() => r());
      }),
  };
}

/** The 101 answer to a client's upgrade request, with extra header lines. */
export function switching(key: string, extra: string[] = []): string {
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${wsAccept(key)}`,
    ...extra,
    "",
    "",
  ].join("\r\n");
}

/** A raw server that answers every upgrade with `head(key)` (then `after`, if given) and ends its side once the client ended. */
export function answeringServer(head: (key: string) => string, after?: Uint8Array): ReturnType<typeof rawServer> {
  return rawServer((c) => {
    c.sock.write(head(c.key));
    if (after) c.sock.write(after);
    void c.ended.then(() => c.sock.end());
  });
}
