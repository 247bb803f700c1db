/**
 * A real browser as the WebSocket client: headless Chromium (Debian's, driven by
 * playwright-core with a fresh profile) opens pages served by our HTTP server that connect back
 * over WebSocket.
 *
 * 1. A test page (below) against the scripted echo (test/support/ws-scripted.ts): text,
 *    multibyte, empty, every frame size, our ping, a message over the frame cap (we close 1009),
 *    a message our writer fragments, our close 1001.
 * 2. The demo's web console (examples/web-console.ts): it connects, shows live statistics, and
 *    a message typed into its form comes back through the echo service.
 */
import { connect } from "node:net";
import type { Browser } from "playwright-core";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { HttpServer } from "../../src/http/server.js";
import { webConsole } from "../../examples/web-console.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { until } from "../support/util.js";
import { itChromium, launchChromium } from "../support/chromium.js";
import { scriptedHandler, type ServerEvent } from "../support/ws-scripted.js";

let browser: Browser | undefined;
async function launch(): Promise<Browser> {
  browser ??= await launchChromium();
  return browser;
}
afterAll(async () => {
  await browser?.close();
});

const TEST_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>ws test</title></head><body>
<pre id="out"></pre>
<script>
window.results = { log: [], done: false };
const log = (x) => { results.log.push(x); document.getElementById("out").textContent += JSON.stringify(x) + "\\n"; };
const url = (path) => "ws://" + location.host + path;
function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url(path));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("WebSocket error on " + path));
  });
}
const next = (ws) => new Promise((resolve) => { ws.onmessage = (e) => resolve(e.data); });
const closed = (ws) => new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
const pattern = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 13 + n) & 255; return b; };
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
async function run() {
  const ws = await open("/ws");
  const end = closed(ws);
  for (const t of ["hello from chromium", "h\\u00e9llo w\\u00f6rld \\u20ac \\ud834\\udd1e", ""]) {
    ws.send(t);
    const got = await next(ws);
    log({ kind: "text", length: t.length, ok: got === t });
  }
  for (const n of [0, 1, 125, 126, 65535, 65536]) {
    ws.send(pattern(n));
    const got = await next(ws);
    log({ kind: "binary", n, ok: got instanceof ArrayBuffer && same(new Uint8Array(got), pattern(n)) });
  }
  ws.send("cmd:ping");
  log({ kind: "our ping", ok: (await next(ws)) === "pong received" });
  ws.send(new Uint8Array(70000)); // one frame over the 65536-byte cap
  log({ kind: "over the cap", ...(await end) });

  const f = await open("/frag");
  f.send("cmd:text:30000"); // 90000 bytes, sent in 1000-byte frames
  log({ kind: "fragmented by us", ok: (await next(f)) === "\\u20ac".repeat(30000) });
  const fend = closed(f);
  f.send("cmd:close1001");
  log({ kind: "we close", ...(await fend) });
}
run().catch((e) => log({ kind: "error", error: String(e) })).finally(() => { results.done = true; });
</script></body></html>`;

describe("headless Chromium", () => {
  itChromium("exchanges messages with our WebSocket server from a page it served", async () => {
    const logs: string[] = [];
    const rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
    const events: ServerEvent[] = [];
    const ws = scriptedHandler(events);
    const server = await HttpServer.listen(
      rt,
      (req, res) => (req.path === "/" ? res.header("Content-Type", "text/html; charset=utf-8").send(TEST_PAGE) : ws(req, res)),
      { intf: "127.0.0.1" },
    );
    const page = await (await launch()).newPage();
    try {
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitForFunction("window.results && window.results.done", null, { timeout: 20000 });
      const results = (await page.evaluate("window.results.log")) as Record<string, unknown>[];
      expect(results).toEqual([
        { kind: "text", length: 19, ok: true },
        { kind: "text", length: 16, ok: true },
        { kind: "text", length: 0, ok: true },
        ...[0, 1, 125, 126, 65535, 65536].map((n) => ({ kind: "binary", n, ok: true })),
        { kind: "our ping", ok: true },
        { kind: "over the cap", code: 1009, reason: expect.any(String), wasClean: true },
        { kind: "fragmented by us", ok: true },
        { kind: "we close", code: 1001, reason: "server going away", wasClean: true },
      ]);
      expect(events).toEqual([
        expect.objectContaining({ path: "/ws", kind: "error", code: 1009 }),
        { path: "/frag", kind: "we-closed", code: 1001 },
      ]);
      // Chromium keeps its HTTP connection for the page alive; closing the server ends it, and
      // the WebSocket connections (no longer the server's) are already gone
      server.close();
      await until(rt, () => rt.stat().activeCons === 0, 5000, "no connections");
      expect(logs).toEqual([]);
    } finally {
      await page.close();
      server.close();
      rt.shutdown();
    }
  });

  itChromium("the demo's web console connects, shows live statistics and echoes a message", async () => {
    const logs: string[] = [];
    const rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
    const echo = await example9(rt, 0, "127.0.0.1");
    const server = await webConsole(rt, { echo: { host: "127.0.0.1", port: echo.sockname()!.port }, statEvery: 100 });
    const page = await (await launch()).newPage();
    try {
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitForFunction(`document.getElementById("state").textContent === "connected"`, null, { timeout: 10000 });
      // statistics arrive, and they are live: a connection we open shows up, and goes away
      await page.waitForSelector("#s-activeCons", { timeout: 10000 });
      const openIs = (n: number) => `Number(document.getElementById("s-activeCons")?.textContent) === ${n}`;
      const before = Number(await page.textContent("#s-activeCons"));
      expect(before).toBeGreaterThanOrEqual(1); // the page's own WebSocket
      const extra = connect(echo.sockname()!.port, "127.0.0.1");
      await page.waitForFunction(openIs(before + 1), null, { timeout: 10000 });
      extra.destroy();
      await page.waitForFunction(openIs(before), null, { timeout: 10000 });
      // a message through the echo service
      const message = "hello from headless Chromium — ünïcödé ✓";
      await page.fill("#msg", message);
      await page.click("#f button");
      await page.waitForFunction(`document.getElementById("log").textContent.includes(${JSON.stringify(`echo: ${message}`)})`, null, {
        timeout: 10000,
      });
      expect(await page.textContent("#log")).toMatch(/^echo: hello from headless Chromium — ünïcödé ✓ \([\d.]+ ms\)\n$/);
      await page.close();
      // closing the page closes its WebSocket: both cosockets end, nothing stays open
      await until(rt, () => rt.stat().activeCons === 0, 5000, "the console's connection to end");
      expect(logs).toEqual([]);
    } finally {
      if (!page.isClosed()) await page.close();
      server.close();
      echo.close();
      rt.shutdown();
    }
  });
});
