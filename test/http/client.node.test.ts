/** The HTTP client (`httpc` analogue) against Node's own http server. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Runtime, SocketError } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { httpRequest, parseUrl } from "../../src/http/client.js";
import { HttpError } from "../../src/http/head.js";

let rt: Runtime;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/fixed") return res.end("fixed length body");
    if (req.url === "/chunked") {
      res.write("one,");
      res.write("two,");
      return res.end("three");
    }
    if (req.url === "/echo") {
      const parts: Buffer[] = [];
      req.on("data", (d) => parts.push(d));
      req.on("end", () =>
        res.end(
          JSON.stringify({ method: req.method, host: req.headers.host, x: req.headers["x-test"], body: Buffer.concat(parts).toString() }),
        ),
      );
      return;
    }
    if (req.url === "/big") return res.end("z".repeat(3000));
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => (rt = new Runtime(nodeHost())));
afterEach(() => rt.shutdown());

describe("HTTP client", () => {
  it("reads fixed-length and chunked bodies", async () => {
    const a = await httpRequest(rt, `${base}/fixed`);
    expect(a.status).toBe(200);
    expect(await a.text()).toBe("fixed length body");
    const b = await httpRequest(rt, `${base}/chunked`);
    expect(b.header("transfer-encoding")).toBe("chunked");
    expect(await b.text()).toBe("one,two,three");
  });

  it("sends a method, headers and a body", async () => {
    const r = await httpRequest(rt, `${base}/echo`, { method: "PUT", headers: { "X-Test": "yes" }, body: "payload" });
    expect(JSON.parse(await r.text())).toEqual({ method: "PUT", host: base.slice(7), x: "yes", body: "payload" });
  });

  it("reports statuses, refuses an over-long body, and fails clearly on a refused connection", async () => {
    const r = await httpRequest(rt, `${base}/missing`);
    expect(r.status).toBe(404);
    await r.body();
    const big = await httpRequest(rt, `${base}/big`, { limits: { maxBody: 1000 } });
    await expect(big.body()).rejects.toBeInstanceOf(HttpError);
    await expect(httpRequest(rt, "http://127.0.0.1:1/")).rejects.toMatchObject({ code: "cannotconnect" });
    await expect(httpRequest(rt, "https://127.0.0.1/")).rejects.toBeInstanceOf(SocketError);
  });

  it("parses URLs", () => {
    expect(parseUrl("http://example.com")).toEqual({ scheme: "http", host: "example.com", port: 80, target: "/" });
    expect(parseUrl("ws://10.0.0.1:8080/ws?x=1")).toEqual({ scheme: "ws", host: "10.0.0.1", port: 8080, target: "/ws?x=1" });
    expect(parseUrl("wss://h?q")).toEqual({ scheme: "wss", host: "h", port: 443, target: "/?q" });
    expect(() => parseUrl("not a url")).toThrow(SocketError);
    expect(() => parseUrl("http://h:99999/")).toThrow(SocketError);
  });
});
