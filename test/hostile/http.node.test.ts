/**
 * Hostile peers over real sockets (127.0.0.1): raw node:net attackers against the HTTP server and
 * example 3 (HTTPS on the worker pool), and a raw malicious node:net server against the HTTP
 * client. Each attack gets its answer at once (no deadline is waited for), leaks no connection
 * slot or worker, and a normal client is served during and after it.
 */
import { connect, createServer, type Server, type Socket as NetSocket } from "node:net";
import { get as httpsGet } from "node:https";
import { Runtime, SocketError } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { httpDefaults } from "../../src/options.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { httpRequest } from "../../src/http/client.js";
import { HttpError } from "../../src/http/head.js";
import { example3 } from "../../examples/03-https-hello.js";
import { itWithPeer } from "../support/peers.js";
import { usePKI, type PKI } from "../tls/pki.js";
import { until } from "../support/util.js";

let rt: Runtime;
let server: HttpServer | undefined;
const opened: NetSocket[] = [];

const handler: Handler = async (req, res) => {
  if (req.path === "/echo") return res.send(await req.body());
  return res.send(`hello ${req.path}`); // a body, if any, is left unread
};

async function start(options: ConstructorParameters<typeof Runtime>[1] = {}): Promise<void> {
  rt = new Runtime(nodeHost(), { log: () => undefined, ...options });
  server = await HttpServer.listen(rt, handler, { intf: "127.0.0.1" });
}

afterEach(() => {
  for (const c of opened.splice(0)) c.destroy();
  server?.close();
  server = undefined;
  rt?.shutdown();
});

/** A raw attacker: what it sent, and what the server answered until it closed. */
function attacker(port: number, text: string | Buffer = "") {
  const c = connect(port, "127.0.0.1");
  opened.push(c);
  const state = { got: "", ended: false, closed: new Promise<void>((r) => c.on("close", () => r())) };
  c.on("data", (d) => (state.got += d.toString("latin1")));
  c.on("end", () => (state.ended = true));
  c.on("error", () => undefined);
  if (text.length) c.write(text);
  return Object.assign(state, { sock: c });
}

/** Sends `text` (the connection stays open) and resolves with the answer once the server closes. */
async function answer(text: string): Promise<string> {
  const a = attacker(server!.port, text);
  await a.closed;
  return a.got;
}

async function get(path = "/ok"): Promise<number> {
  const r = await httpRequest(rt, `http://127.0.0.1:${server!.port}${path}`);
  await r.body();
  return r.status;
}

describe("HTTP server against malformed requests (real sockets)", () => {
  const bad: [string, string, number][] = [
    ["a NUL in the request target", "GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["a control character in the request target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["a tab in the request target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["raw non-ASCII in the request target", "GET /\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["Transfer-Encoding: gzip, chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501],
    ["Transfer-Encoding: chunked, chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 501],
    ["more empty lines than maxEmptyLines before the request line", "\r\n".repeat(5) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    // the connection stays open and the head never ends: the answer must come at once
    ["an HTTP/0.9 request", "GET /\r\n", 400],
    ["a bad request line, head left open", "GET  / HTTP/1.1\r\n", 400],
    ["an unsupported version, head left open", "GET / HTTP/2.0\r\n", 505],
  ];
  it.each(bad)("answers %s with its status at once and closes", async (_name, text, status) => {
    await start();
    const reply = await answer(text);
    expect(reply).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    await until(rt, () => server!.connections === 0, 5000, "the connection to be released");
    expect(await get()).toBe(200);
  });

  it("tolerates maxEmptyLines empty lines before a request line", async () => {
    await start();
    const a = attacker(server!.port, "\r\n".repeat(httpDefaults.maxEmptyLines) + "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await a.closed;
    expect(a.got).toMatch(/^HTTP\/1\.1 200 [\s\S]*hello \/x$/);
  });
});

describe("HTTP server: unread bodies (real sockets)", () => {
  it("closes at once after answering a request whose unread body is over maxDrain", async () => {
    await start();
    const a = attacker(server!.port, `POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 << 20}\r\n\r\n`);
    a.sock.write(Buffer.alloc(1 << 16, 0x61));
    await a.closed; // the server closed without waiting for (or reading) 10 MiB
    expect(a.got).toMatch(/^HTTP\/1\.1 200 [\s\S]*hello \/big$/);
    await until(rt, () => server!.connections === 0, 5000, "the connection to be released");
    expect(await get()).toBe(200);
  });

  it("drops a small unread body and keeps the connection alive for the next request", async () => {
    await start();
    const body = "b".repeat(1000);
    const a = attacker(
      server!.port,
      `POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    await a.closed;
    expect(a.got).toMatch(/hello \/one[\s\S]*HTTP\/1\.1 200 [\s\S]*hello \/two$/);
  });
});

describe("HTTP server: peers that stall before a request hold no worker (real sockets)", () => {
  it("many stalled heads leave the pool free and the server serving", async () => {
    await start({ poolSize: 1, poolQueue: 0 });
    const stalled = Array.from({ length: 16 }, (_, i) => attacker(server!.port, i % 2 ? "GET / HTTP/1.1\r\nHo" : ""));
    await until(rt, () => server!.connections === stalled.length, 5000, "the stalled connections");
    expect(rt.pool.stat()).toMatchObject({ busy: 0, queued: 0 });
    expect(await get()).toBe(200);
    expect(server!.connections).toBe(stalled.length);
    for (const s of stalled) s.sock.destroy();
    await until(rt, () => server!.connections === 0, 5000, "the stalled connections to go");
    expect(await get()).toBe(200);
  });
});

describe("example 3 (HTTPS on the worker pool) against stalled TLS handshakes", () => {
  const itOpenssl = itWithPeer("openssl", "apt-get install openssl");
  let pki: PKI;
  usePKI((made) => (pki = made));

  function fetch(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      httpsGet({ host: "127.0.0.1", port, path: "/", ca: pki.ca.cert, servername: "localhost" }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      }).on("error", reject);
    });
  }

  itOpenssl("more stalled handshakes than workers: the pool stays free, clients are served", async () => {
    rt = new Runtime(nodeHost(), { log: () => undefined });
    const lines: string[] = [];
    const listener = await example3(rt, { cert: pki.server.cert, key: pki.server.key }, 0, "127.0.0.1", (s) => lines.push(s));
    const port = listener.sockname()!.port;
    // silent peers, and peers that stop inside a ClientHello
    const partialHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const stalled = Array.from({ length: 2 * rt.pool.size }, (_, i) => attacker(port, i % 2 ? partialHello : ""));
    await until(rt, () => rt.stat().activeCons >= stalled.length, 5000, "the stalled connections");
    expect(rt.pool.stat()).toMatchObject({ busy: 0, queued: 0 });
    expect(await fetch(port)).toBe("Hello World!");
    expect(rt.pool.stat()).toMatchObject({ busy: 0, queued: 0 });
    for (const s of stalled) s.sock.destroy();
    expect(await fetch(port)).toBe("Hello World!");
  });
});

describe("HTTP client against a malicious server (real sockets)", () => {
  let evil: Server;
  let sent = 0;

  /** A server that answers every connection with `script`. */
  async function serve(script: (c: NetSocket) => void): Promise<string> {
    sent = 0;
    evil = createServer((c) => {
      opened.push(c);
      c.on("error", () => undefined);
      c.on("end", () => c.destroy()); // the client closed: stop writing
      script(c);
    });
    await new Promise<void>((r) => evil.listen(0, "127.0.0.1", () => r()));
    return `http://127.0.0.1:${(evil.address() as { port: number }).port}/`;
  }

  /** Writes `piece` over and over while the client reads (until it closes). */
  function endless(c: NetSocket, first: string, piece: string): void {
    c.write(first);
    const more = () => {
      while (!c.destroyed && sent < 64 << 20) {
        sent += piece.length;
        if (!c.write(piece)) return void c.once("drain", more);
      }
    };
    more();
  }

  beforeEach(() => (rt = new Runtime(nodeHost(), { log: () => undefined })));
  afterEach(async () => {
    for (const c of opened.splice(0)) c.destroy();
    await new Promise<void>((r) => evil.close(() => r()));
  });

  async function failure(url: string): Promise<Error> {
    const e = await httpRequest(rt, url, { timeout: 60000 }).then(
      () => new Error("no error"),
      (x: Error) => x,
    );
    expect(rt.stat().activeCons).toBe(0);
    return e;
  }

  it("endless header fields: 502 at maxHeaders or maxHeaderBytes", async () => {
    const url = await serve((c) => endless(c, "HTTP/1.1 200 OK\r\n", "X-Again: and again\r\n"));
    const e = await failure(url);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.message).toMatch(/^502 response: (more than 64 header fields|head over 8192 bytes)$/);
    expect(sent).toBeLessThan(64 << 20); // the client stopped reading
  });

  it("an endless header line: 502 at maxLine", async () => {
    const url = await serve((c) => endless(c, "HTTP/1.1 200 OK\r\nX-Long: ", "y".repeat(1024)));
    const e = await failure(url);
    expect(e.message).toBe("502 response: header line over 4096 bytes");
  });

  it("an endless status line: 502 at maxLine", async () => {
    const url = await serve((c) => endless(c, "HTTP/1.1 200 ", "z".repeat(1024)));
    expect((await failure(url)).message).toBe("502 response: status line over 4096 bytes");
  });

  const statusLines = ["HTTP/1.1 99 Too Low", "HTTP/1.1 2000 OK", "ICY 200 OK", "HTTP/1.1 200 O\u0000K", "HTTP/1.1 600 Nope", "<html>"];
  it.each(statusLines)("a bad status line %j: 502 at once (the head is left open)", async (line) => {
    const url = await serve((c) => c.write(`${line}\r\n`));
    const e = await failure(url);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.message).toMatch(/^502 response: bad status line/);
  });

  it("HTTP/2.0 in a status line: 502 at once", async () => {
    const url = await serve((c) => c.write("HTTP/2.0 200 OK\r\n"));
    expect((await failure(url)).message).toBe("502 response: HTTP/2.0 is not supported");
  });

  it("Transfer-Encoding: gzip, chunked: 502 (not handed over undecoded)", async () => {
    const url = await serve((c) => c.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"));
    expect((await failure(url)).message).toMatch(/^502 unsupported Transfer-Encoding/);
  });

  it("an endless body: maxBody, then the connection closes", async () => {
    const url = await serve((c) => endless(c, "HTTP/1.1 200 OK\r\n\r\n", "w".repeat(4096)));
    const r = await httpRequest(rt, url);
    const e = await r.body().catch((x: Error) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as Error).message).toBe(`413 body over ${httpDefaults.maxBody} bytes`);
    expect(rt.stat().activeCons).toBe(0);
  });

  it("a server that never answers: timeout, not a hang", async () => {
    const url = await serve(() => undefined);
    const e = await httpRequest(rt, url, { timeout: 50 }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(SocketError);
    expect((e as SocketError).code).toBe("timeout");
  });
});
