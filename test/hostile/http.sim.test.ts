/**
 * Hostile and slow peers against the HTTP server and client, on the simulated network (virtual
 * time: the deadlines pass in milliseconds). Each attack asserts bounds that a leak cannot hide
 * behind (connections held, bytes drained, pool workers busy and jobs queued) and that a normal
 * client is served after it.
 */
import { SocketError, type Socket } from "../../src/index.js";
import { httpDefaults } from "../../src/options.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { httpRequest } from "../../src/http/client.js";
import { HttpError } from "../../src/http/head.js";
import type { LinkOptions } from "../../hosts/sim/index.js";
import { SIM_SERVER, simEnv } from "../support/sim-env.js";
import type { Env } from "../support/env.js";
import { until } from "../support/util.js";

let env: Env;
let server: HttpServer | undefined;

const handler: Handler = async (req, res) => {
  if (req.path === "/echo") return res.send(await req.body());
  return res.send("hello"); // the body, if any, is left unread
};

async function start(link?: LinkOptions): Promise<void> {
  env = simEnv({ link, rt: { log: () => undefined } });
  server = await HttpServer.listen(env.server, handler);
}

afterEach(async () => {
  server?.close();
  server = undefined;
  await env?.done();
});

const latin1 = (d: Uint8Array) => String.fromCharCode(...d);

/** A raw attacker: sends what it is told, at its pace, and keeps what the server answers. */
class Peer {
  got = "";
  ended = false;
  written = 0;
  private constructor(readonly sock: Socket) {}

  static async open(head: string, port: number): Promise<Peer> {
    const p = new Peer(await env.client.connect(SIM_SERVER, port));
    void p.pump();
    await p.send(head);
    return p;
  }

  private async pump(): Promise<void> {
    try {
      for (let d; (d = await this.sock.read()); ) this.got += latin1(d);
    } catch {
      // a reset ends it too
    }
    this.ended = true;
  }

  async send(data: string | Uint8Array): Promise<boolean> {
    try {
      await this.sock.write(data);
      this.written += data.length;
      return true;
    } catch {
      return false;
    }
  }

  /** One byte every `every` ms until the server closes (or `text` runs out). */
  async drip(text: string, every: number): Promise<void> {
    for (const ch of text) {
      await env.client.sleep(every);
      if (this.ended || !(await this.send(ch))) return;
    }
  }
}

async function get(path = "/hello", timeout?: number): Promise<number> {
  const r = await httpRequest(env.client, `http://${SIM_SERVER}:${server!.port}${path}`, { timeout });
  await r.body();
  return r.status;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("HTTP server against slow peers (simulated network)", () => {
  it("a body dripped at 0.3 B/s after the answer holds its connection only until requestTimeout", async () => {
    await start();
    const { maxConnections, requestTimeout } = httpDefaults;
    const head = "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    const peers = await Promise.all(range(maxConnections).map(() => Peer.open(head, server!.port)));
    for (const p of peers) void p.drip("x".repeat(1000), 3333);
    await until(env.client, () => peers.every((p) => p.got.includes("\r\n\r\nhello")), 5000, "every answer");
    // the cap holds: every slot is taken, a normal client is turned away rather than queued
    expect(server!.connections).toBe(maxConnections);
    expect(await get()).toBe(503);
    await env.sim!.advance(requestTimeout);
    expect(server!.connections).toBe(0);
    expect(peers.every((p) => p.ended)).toBe(true);
    expect(Math.max(...peers.map((p) => p.written))).toBeLessThan(head.length + 20); // a few dripped bytes each
    expect(await get()).toBe(200);
  });

  it("a handler reading a dripped body gets 408 at requestTimeout and frees its worker", async () => {
    await start();
    const pool = env.server.pool;
    const peers = await Promise.all(
      range(pool.size).map(() => Peer.open("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", server!.port)),
    );
    for (const p of peers) void p.drip("x".repeat(1000), 3333);
    await until(env.server, () => pool.stat().busy === pool.size, 5000, "the pool to fill");
    // a body is read in the handler's worker: the drip holds each one until the deadline, no longer
    const normal = get("/hello", 2 * httpDefaults.requestTimeout);
    await until(env.server, () => pool.stat().queued === 1, 5000, "the normal request to queue");
    await env.sim!.advance(httpDefaults.requestTimeout);
    expect(await normal).toBe(200);
    expect(peers.every((p) => p.ended && /^HTTP\/1\.1 408 /.test(p.got))).toBe(true);
    expect(pool.stat()).toMatchObject({ busy: 0, queued: 0 });
    expect(server!.connections).toBe(0);
  });

  it("a head dripped byte by byte gets 408 at headerTimeout and never holds a worker", async () => {
    await start();
    const pool = env.server.pool;
    const peers = await Promise.all(range(8).map(() => Peer.open("G", server!.port)));
    for (const p of peers) void p.drip("ET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + "y".repeat(1000), 1000);
    await env.sim!.advance(httpDefaults.headerTimeout / 2);
    expect(pool.stat()).toMatchObject({ busy: 0, queued: 0 });
    expect(await get()).toBe(200); // served during the attack
    await env.sim!.advance(httpDefaults.headerTimeout / 2 + 100);
    expect(peers.every((p) => p.ended && /^HTTP\/1\.1 408 /.test(p.got))).toBe(true);
    expect(server!.connections).toBe(0);
  });

  it("an unread body is drained only up to maxDrain, then the connection closes", async () => {
    const link = { recvWindow: 4096, sendBuffer: 2048 };
    await start(link);
    const p = await Peer.open("POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", server!.port);
    const chunk = "1000\r\n" + "z".repeat(0x1000) + "\r\n";
    void (async () => {
      while (!p.ended && p.written < 4 << 20 && (await p.send(chunk)));
    })();
    await until(env.client, () => p.ended, 60000, "the server to close");
    const accepted = p.written;
    expect(p.got).toMatch(/^HTTP\/1\.1 200 /);
    // what the server read is at most maxDrain and one read; the rest sat in the window and buffers
    const slack = env.server.options.maxRead + link.recvWindow + link.sendBuffer + chunk.length;
    expect(accepted).toBeGreaterThan(httpDefaults.maxDrain);
    expect(accepted).toBeLessThan(httpDefaults.maxDrain + slack);
    expect(server!.connections).toBe(0);
    expect(await get()).toBe(200);
  });
});

describe("HTTP client against a slow server (simulated network)", () => {
  /** A server that answers every connection with `script(sock)`. */
  async function evilServer(script: (s: Socket) => Promise<void>): Promise<number> {
    env = simEnv({ rt: { log: () => undefined } });
    const l = await env.server.bind(0);
    l.event(async (listener: Socket) => {
      for (let s; (s = await listener.accept()); ) s.event(script);
    });
    return l.sockname()!.port;
  }

  async function dripForever(s: Socket, first: string): Promise<void> {
    await s.write(first);
    while (!s.closed) {
      await env.server.sleep(1000);
      await s.write("a").catch(() => undefined);
    }
  }

  it("a response head dripped forever times out at the client's timeout", async () => {
    const port = await evilServer((s) => dripForever(s, "HTTP/1.1 200 OK\r\nX-Drip: "));
    const begun = env.client.host.now();
    const e = await httpRequest(env.client, `http://${SIM_SERVER}:${port}/`, { timeout: 3000 }).catch((x) => x);
    expect(e).toBeInstanceOf(SocketError);
    expect((e as SocketError).code).toBe("timeout");
    expect(env.client.host.now() - begun).toBeLessThan(3000 + 100); // one deadline for the whole head
    expect(env.client.stat().activeCons).toBe(0);
  });

  it("a response body dripped forever ends in a timeout at requestTimeout", async () => {
    const port = await evilServer((s) => dripForever(s, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"));
    const r = await httpRequest(env.client, `http://${SIM_SERVER}:${port}/`, { limits: { requestTimeout: 20000 } });
    expect(r.status).toBe(200);
    const e = await r.body().catch((x) => x);
    expect(e).toBeInstanceOf(SocketError);
    expect((e as SocketError).code).toBe("timeout");
    expect(env.client.stat().activeCons).toBe(0);
  });

  it("endless empty lines before the status line are refused after maxEmptyLines", async () => {
    const port = await evilServer((s) => dripForever(s, "\r\n".repeat(httpDefaults.maxEmptyLines + 1)));
    const e = await httpRequest(env.client, `http://${SIM_SERVER}:${port}/`).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).message).toMatch(/^502 response: more than 4 empty lines/);
  });
});
