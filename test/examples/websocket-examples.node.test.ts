/**
 * The seed's WebSocket examples 2, 14 and 15 as programs, run against real sockets on loopback
 * (our example 5 echo server and a `ws` server as peers), and example 15 also on the simulated
 * network, where a frame is cut into many segments.
 */
import { request as httpRequestNode } from "node:http";
import type { AddressInfo } from "node:net";
import WsWebSocket, { WebSocketServer, type RawData } from "ws";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { HttpServer } from "../../src/http/server.js";
import { req2sock, wsConnect } from "../../src/websocket/handshake.js";
import { WebSocket } from "../../src/websocket/connection.js";
import { example2, formField, escapeHtml } from "../../examples/02-websocket-rpc.js";
import { example5 } from "../../examples/05-websocket-server.js";
import { example14, openWebSocketCon } from "../../examples/14-websocket-client.js";
import { detectFrames, example15, wsread } from "../../examples/15-websocket-frames.js";
import { until } from "../support/util.js";

let rt: Runtime;
let lines: string[];
let logs: string[];
const log = (s: string) => lines.push(s);

beforeEach(() => {
  lines = [];
  logs = [];
  rt = new Runtime(nodeHost(), { poolSize: 2, maxRead: 16384, log: (m) => logs.push(m) }); // 16 KiB reads: big frames come in pieces
});
afterEach(() => rt.shutdown());

/** Our runtime has no connection left (listeners aside) and logged nothing. */
async function settled(): Promise<void> {
  await until(rt, () => rt.stat().activeCons === 0, 5000, "connections to end");
  expect(logs).toEqual([]);
}

/** A `ws` echo server; `keys` collects the Sec-WebSocket-Key of each upgrade request. */
async function wsEcho() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const keys: string[] = [];
  wss.on("connection", (sock, req) => {
    keys.push(String(req.headers["sec-websocket-key"]));
    sock.on("error", () => undefined);
    sock.on("message", (d: RawData, isBinary: boolean) => sock.send(d as Buffer, { binary: isBinary }));
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    keys,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

/** One HTTP request on its own connection (Connection: close); the status and the body. */
function fetchPage(port: number, path: string, body?: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequestNode(
      {
        host: "127.0.0.1",
        port,
        path,
        method: body === undefined ? "GET" : "POST",
        agent: false,
        headers: body === undefined ? {} : { "Content-Type": "application/x-www-form-urlencoded" },
      },
      (res) => {
        let b = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (b += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: b, type: String(res.headers["content-type"]) }));
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const echoOf = (html: string) => /<b id="echo">([^<]*)<\/b>/.exec(html)?.[1];

// ---------------------------------------------------------------------------------------------

describe("example 2: a request handler in the worker pool makes a WebSocket RPC", () => {
  it("shows the form, then renders the echo of a submitted message (our echo server, same runtime)", async () => {
    const echo = await example5(rt, 0);
    const page = await example2(rt, `ws://127.0.0.1:${echo.port}/ws`);
    const form = await fetchPage(page.port, "/");
    expect(form.status).toBe(200);
    expect(form.type).toBe("text/html; charset=utf-8");
    expect(form.body).toContain('<form method="post"><input name="message"');
    expect(echoOf(form.body)).toBeUndefined();

    const message = "hello wörld <b>&\"'";
    const posted = await fetchPage(page.port, "/", `message=${encodeURIComponent(message).replace(/%20/g, "+")}`);
    expect(posted.status).toBe(200);
    expect(echoOf(posted.body)).toBe(escapeHtml(message)); // escaped: the page is not injectable
    expect(posted.body).toContain(`value="${escapeHtml(message)}"`);
    // GET with a query does the same
    expect(echoOf((await fetchPage(page.port, "/?message=via+query")).body)).toBe("via query");
    expect(rt.stat().pool.done).toBeGreaterThanOrEqual(3); // the handlers ran as pool jobs
    page.close();
    echo.close();
    await settled();
  });

  it("against a ws echo server, 8 submissions at once through a pool of 2", async () => {
    const ws = await wsEcho();
    try {
      const page = await example2(rt, ws.url);
      let maxBusy = 0;
      const sample = setInterval(() => (maxBusy = Math.max(maxBusy, rt.stat().pool.busy)), 1);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => fetchPage(page.port, "/", `message=msg+${i}`)));
      clearInterval(sample);
      expect(answers.map((a) => echoOf(a.body))).toEqual(Array.from({ length: 8 }, (_, i) => `msg ${i}`));
      expect(maxBusy).toBeLessThanOrEqual(2);
      expect(ws.keys).toHaveLength(8);
      expect(new Set(ws.keys).size).toBe(8); // a fresh Sec-WebSocket-Key per connection
      page.close();
      await settled();
    } finally {
      await ws.close();
    }
  });

  it("tells when the echo server cannot be reached", async () => {
    const gone = await example5(rt, 0);
    const port = gone.port;
    gone.close();
    const page = await example2(rt, `ws://127.0.0.1:${port}/ws`);
    const r = await fetchPage(page.port, "/", "message=anyone");
    expect(r.status).toBe(200);
    expect(/<b id="error">([^<]*)<\/b>/.exec(r.body)?.[1]).toBe("cannotconnect");
    page.close();
    await settled();
  });

  it("formField reads urlencoded fields", () => {
    expect(formField("a=1&message=h%C3%A9llo+there&b", "message")).toBe("héllo there");
    expect(formField("b", "b")).toBe("");
    expect(formField("a=1", "message")).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

describe("example 14: a WebSocket client from an HTTP request and http2sock", () => {
  it("upgrades (101), sends in a cosocket and prints the echoes (our server)", async () => {
    const echo = await example5(rt, 0);
    const ws = await example14(rt, `ws://127.0.0.1:${echo.port}/ws`, ["hello", "wörld €", ""], log);
    expect(ws).toBeInstanceOf(WebSocket);
    expect(ws!.role).toBe("client");
    await until(rt, () => lines.includes("closed"), 5000);
    expect(lines).toEqual(["received: hello", "received: wörld €", "received: ", "closed"]);
    echo.close();
    await settled();
  });

  it("works with a ws server, with a fresh key per connection", async () => {
    const peer = await wsEcho();
    try {
      await example14(rt, peer.url, ["one"], log);
      await example14(rt, peer.url, ["two"], log);
      await until(rt, () => lines.filter((l) => l === "closed").length === 2, 5000);
      expect(lines.filter((l) => l.startsWith("received")).sort()).toEqual(["received: one", "received: two"]);
      expect(peer.keys[0]).not.toBe(peer.keys[1]);
      await settled();
    } finally {
      await peer.close();
    }
  });

  it("a server that does not switch protocols gives null and a message", async () => {
    const echo = await example5(rt, 0);
    expect(await openWebSocketCon(rt, `ws://127.0.0.1:${echo.port}/`, log)).toBeNull(); // "/" is a plain page
    expect(lines).toEqual(["not a WebSocket server: 200 OK"]);
    echo.close();
    await settled();
  });
});

// ---------------------------------------------------------------------------------------------

describe("example 15: frames as they trickle in", () => {
  /** A ws client to example 15's server, collecting the summaries it sends back. */
  async function reporterClient(port: number) {
    const c = new WsWebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    c.on("error", () => undefined);
    const answers: string[] = [];
    c.on("message", (d: RawData) => answers.push(String(d)));
    const closed = new Promise<number>((r) => c.on("close", (code) => r(code)));
    await new Promise<void>((r) => c.once("open", () => r()));
    const send = (data: string | Buffer, opts: { binary?: boolean; fin?: boolean } = {}) =>
      new Promise<void>((resolve, reject) => c.send(data, opts, (e) => (e ? reject(e) : resolve())));
    const waitAnswers = (n: number) => until(rt, () => answers.length >= n, 5000, `${n} answers`);
    return { c, answers, closed, send, waitAnswers };
  }

  it("wsread assembles whole frames and tells text from binary", async () => {
    const server = await example15(rt, 0, log);
    const client = await reporterClient(server.port);
    await client.send("hello");
    await client.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.send("€".repeat(3000)); // 9000 bytes of UTF-8
    await client.send(Buffer.alloc(65536, 7), { binary: true }); // more than one read's worth (16 KiB)
    await client.send("", {});
    await client.send("frag", { fin: false }); // a fragmented message: two frames
    await client.send("ment", { fin: true });
    await client.waitAnswers(7);
    expect(client.answers.slice(0, 3)).toEqual([
      "text 5 bytes in 1 piece: hello",
      "binary 3 bytes in 1 piece",
      expect.stringMatching(/^text 9000 bytes in \d+ pieces?: €{20}$/),
    ]);
    const big = /^binary 65536 bytes in (\d+) pieces$/.exec(client.answers[3]);
    expect(big).not.toBeNull();
    expect(Number(big![1])).toBeGreaterThanOrEqual(4); // reads return at most 16 KiB: it came in pieces
    expect(client.answers.slice(4)).toEqual([
      "text 0 bytes in 1 piece: ",
      "text 4 bytes in 1 piece: frag",
      "text 4 bytes in 1 piece: ment",
    ]);
    expect(lines[0]).toBe("Received UTF-8 frame: 5 bytes in 1 piece");
    expect(lines[1]).toBe("Received binary frame: 3 bytes in 1 piece");
    expect(lines[5]).toBe("Received UTF-8 frame: 4 bytes in 1 piece (more to come)");
    client.c.close(1000);
    expect(await client.closed).toBe(1000);
    server.close();
    await settled();
  });

  it("detectFrames prints every piece with bytesRead/frameLen", async () => {
    const server = await HttpServer.listen(
      rt,
      async (req, res) => {
        const ws = await req2sock(req, res);
        if (ws instanceof WebSocket) ws.event(detectFrames, "s", log);
      },
      { intf: "127.0.0.1" },
    );
    const client = await reporterClient(server.port);
    await client.send("hi");
    await client.send(Buffer.alloc(40000), { binary: true });
    await until(rt, () => lines.some((l) => l.endsWith("(40000/40000)")), 5000);
    expect(lines[0]).toBe("Received UTF-8 frame (2/2)");
    const pieces = lines.slice(1);
    expect(pieces.length).toBeGreaterThanOrEqual(3); // 40000 bytes, at most 16 KiB per read
    for (const l of pieces) expect(l).toMatch(/^Received binary frame \(\d+\/40000\)$/);
    const counts = pieces.map((l) => Number(/\((\d+)\//.exec(l)![1]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b)); // bytesRead grows
    client.c.close();
    await client.closed;
    server.close();
    await settled();
  });

  it("on the simulated network a frame cut into 100-byte segments is assembled whole", async () => {
    const sim = new SimNetwork({ seed: 3, link: { mss: 100, latency: 2 } });
    const srt = new Runtime(sim.host("10.0.0.1"));
    const crt = new Runtime(sim.host("10.0.0.2"));
    try {
      const server = await example15(srt, 80, log, "10.0.0.1");
      const ws = await wsConnect(crt, "ws://10.0.0.1/");
      const payload = new Uint8Array(5000).map((_, i) => i & 0xff);
      await ws.write(payload, false);
      const answer = await ws.readMessage(60000);
      const m = /^binary 5000 bytes in (\d+) pieces$/.exec(new TextDecoder().decode(answer!.data));
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(40); // ~50 segments of ≤100 bytes
      // and our own client's reads: wsread on the client side over the same link
      await ws.write("€".repeat(1000)); // 3000 bytes
      const f = await wsread(ws, 60000);
      expect(f!.isText).toBe(true);
      expect(new TextDecoder().decode(f!.data)).toMatch(/^text 3000 bytes in \d+ pieces: €{20}$/);
      await ws.close();
      server.close();
      await until(srt, () => srt.stat().activeCons === 0 && crt.stat().activeCons === 0, 10000);
    } finally {
      srt.shutdown();
      crt.shutdown();
    }
  });
});
