/**
 * The HTTP/1.1 server on the runtime, against real clients: Node's http client, and raw sockets
 * for malformed heads (each answered with its status; none crashes the server or leaks a connection).
 */
import { request as httpRequestNode, Agent } from "node:http";
import { connect } from "node:net";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { until } from "../support/util.js";

let rt: Runtime;
let server: HttpServer;

const handler: Handler = async (req, res) => {
  if (req.path === "/hello") return res.header("Content-Type", "text/plain").send(`hello ${req.param("name") ?? "world"}`);
  if (req.path === "/echo") return res.send(await req.body());
  if (req.path === "/stream") {
    for (let i = 0; i < 3; i++) await res.write(`part ${i};`);
    return res.end();
  }
  if (req.path === "/throw") throw new Error("handler bug (expected in this test)");
  if (req.path === "/slow") return rt.sleep(200).then(() => res.send("slow"));
  res.status(404).send("not found");
};

async function start(limits = {}, options: Partial<ConstructorParameters<typeof Runtime>[1]> = {}) {
  rt = new Runtime(nodeHost(), { log: () => undefined, ...options });
  server = await HttpServer.listen(rt, handler, { intf: "127.0.0.1", limits });
}

afterEach(() => {
  server?.close();
  rt?.shutdown();
});

function get(path: string, agent?: Agent, method = "GET", body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown>; port: number }>((resolve, reject) => {
    const r = httpRequestNode({ host: "127.0.0.1", port: server.port, path, method, agent, headers }, (res) => {
      let b = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (b += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: b, headers: res.headers, port: res.socket?.localPort ?? 0 }));
    });
    r.on("error", reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
function raw(text: string | Buffer, opts: { pauseAfterMs?: number } = {}) {
  return new Promise<string>((resolve, reject) => {
    const c = connect(server.port, "127.0.0.1");
    let got = "";
    c.on("data", (d) => (got += d.toString("latin1")));
    c.on("end", () => {
      c.destroy();
      resolve(got);
    });
    c.on("error", reject);
    c.write(text);
    if (opts.pauseAfterMs === undefined) c.end();
  });
}

describe("HTTP server", () => {
  it("answers GET, POST with a body, and a chunked stream to Node's http client", async () => {
    await start();
    const a = await get("/hello?name=cosock");
    expect(a).toMatchObject({ status: 200, body: "hello cosock" });
    expect(a.headers["content-length"]).toBe("12");
    expect(await get("/echo", undefined, "POST", "x".repeat(100000))).toMatchObject({ status: 200, body: "x".repeat(100000) });
    // a chunked request body (no Content-Length)
    const chunked = await get("/echo", undefined, "POST", "abc", { "Transfer-Encoding": "chunked" });
    expect(chunked.body).toBe("abc");
    const s = await get("/stream");
    expect(s.body).toBe("part 0;part 1;part 2;");
    expect(s.headers["transfer-encoding"]).toBe("chunked");
    expect((await get("/nope")).status).toBe(404);
  });

  it("keeps a connection alive across requests", async () => {
    await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const one = await get("/hello", agent);
    const two = await get("/hello", agent);
    expect(one.port).toBe(two.port);
    expect(server.connections).toBe(1);
    agent.destroy();
    await until(rt, () => server.connections === 0, 5000, "connection to close");
  });

  const bad: [string, string | (() => string), number][] = [
    ["garbage request line", "GARBAGE\r\n\r\n", 400],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["request line over the limit", () => `GET /${"a".repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ["header line over the limit", () => `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(5000)}\r\n\r\n`, 431],
    [
      "head over maxHeaderBytes",
      () => `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 50 }, (_, i) => `X-H${i}: ${"v".repeat(200)}\r\n`).join("")}\r\n`,
      431,
    ],
    [
      "too many header fields",
      () => `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 70 }, (_, i) => `X-${i}: 1\r\n`).join("")}\r\n`,
      431,
    ],
    ["space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
    ["obsolete line folding", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400],
    [
      "both Transfer-Encoding and Content-Length",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
      400,
    ],
    ["bad Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400],
    ["unsupported Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
    ["bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    ["body over maxBody", () => `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n${"y".repeat(2000000)}`, 413],
    ["a handler that throws", "GET /throw HTTP/1.1\r\nHost: x\r\n\r\n", 500],
  ];
  it.each(bad)("answers %s with its status and closes, leaking nothing", async (_name, text, status) => {
    await start();
    const reply = await raw(typeof text === "function" ? text() : text);
    expect(reply).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(reply).toMatch(/\r\nConnection: close\r\n/i);
    await until(rt, () => server.connections === 0, 5000, "the connection to be released");
    expect((await get("/hello")).status).toBe(200); // the server is still fine
  });

  it("answers a head that arrives too slowly with 408", async () => {
    await start({ headerTimeout: 100 });
    const reply = await raw("GET / HTTP/1.1\r\nHo", { pauseAfterMs: 1 });
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("answers 503 when the worker pool is full, and when there are too many connections", async () => {
    await start({ maxConnections: 2 }, { poolSize: 1, poolQueue: 0 });
    const slow = get("/slow");
    await until(rt, () => rt.pool.stat().busy === 1, 5000, "the slow job");
    expect((await get("/hello")).status).toBe(503);
    expect((await slow).body).toBe("slow");
    // two idle keep-alive connections fill the server; a third is turned away
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    await Promise.all([get("/slow", agent), get("/slow", agent)]);
    expect(server.connections).toBe(2);
    const third = await raw("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(third).toMatch(/^HTTP\/1\.1 503 /);
    agent.destroy();
  });
});
