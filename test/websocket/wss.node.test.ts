/**
 * wss:// and https: the WebSocket and HTTP layers over TLS, against `ws`, Node's https and a
 * browser. Certificates come from test/tls/pki.ts (a test CA and a localhost leaf).
 */
import { createServer as createHttpsServer, get as httpsGet } from "node:https";
import type { AddressInfo } from "node:net";
import WsLib, { WebSocketServer } from "ws";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { example5 } from "../../examples/05-websocket-server.js";
import { wsConnect } from "../../src/websocket/handshake.js";
import { httpRequest } from "../../src/http/client.js";
import { HttpServer } from "../../src/http/server.js";
import { webConsole } from "../../examples/web-console.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { usePKI, type PKI } from "../tls/pki.js";
import { itWithPeer } from "../support/peers.js";
import { itChromium, launchChromium } from "../support/chromium.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");

let pki: PKI | undefined;
let rt: Runtime;
usePKI((made) => (pki = made));
beforeEach(() => (rt = new Runtime(nodeHost(), { log: () => undefined })));
afterEach(() => rt.shutdown());

describe("wss:// and https", () => {
  itOpenssl("our wss:// server echoes to the ws client, which verifies it with the test CA", async () => {
    const server = await example5(rt, 0, { intf: "127.0.0.1", tls: { cert: pki!.server.cert, key: pki!.server.key } });
    const c = new WsLib(`wss://localhost:${server.port}/ws`, { ca: pki!.ca.cert });
    await new Promise((r, j) => (c.once("open", r), c.once("error", j)));
    const got = new Promise<string>((r) => c.once("message", (d) => r(d.toString())));
    c.send("over tls");
    expect(await got).toBe("over tls");
    const closed = new Promise<number>((r) => c.once("close", (code) => r(code)));
    c.close(1000);
    expect(await closed).toBe(1000);
    server.close();
  });

  itOpenssl("our wss:// client talks to a ws server over https, and refuses it without the CA", async () => {
    const https = createHttpsServer({ cert: pki!.server.cert, key: pki!.server.key });
    const wss = new WebSocketServer({ server: https });
    wss.on("connection", (s) => s.on("message", (d, isBinary) => s.send(d, { binary: isBinary })));
    await new Promise<void>((r) => https.listen(0, "127.0.0.1", () => r()));
    const port = (https.address() as AddressInfo).port;
    try {
      const ws = await wsConnect(rt, `wss://localhost:${port}/`, { tls: { ca: pki!.ca.cert } });
      expect(ws.sock.trusted()).toBe(true);
      await ws.write(new Uint8Array(65536).fill(3));
      const m = await ws.readMessage(5000);
      expect(m!.data.length).toBe(65536);
      expect(m!.isText).toBe(false);
      await ws.close();
      await expect(wsConnect(rt, `wss://localhost:${port}/`)).rejects.toMatchObject({ code: "sslnottrusted" });
    } finally {
      wss.close();
      await new Promise<void>((r) => https.close(() => r()));
    }
  });

  itOpenssl("https: our server answers Node's https client; our client reads Node's https server", async () => {
    const server = await HttpServer.listen(rt, (req, res) => res.send(`secure ${req.path}`), {
      intf: "127.0.0.1",
      tls: { cert: pki!.server.cert, key: pki!.server.key },
    });
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet({ host: "127.0.0.1", servername: "localhost", port: server.port, path: "/x", ca: pki!.ca.cert }, (res) => {
        let b = "";
        res.on("data", (d) => (b += d));
        res.on("end", () => resolve(b));
      }).on("error", reject);
    });
    expect(body).toBe("secure /x");
    const r = await httpRequest(rt, `https://localhost:${server.port}/y`, { tls: { ca: pki!.ca.cert } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("secure /y");
    server.close();
  });

  itChromium(
    "Chromium loads the web console over https and talks to it over wss://",
    async () => {
      if (!pki) throw new Error("openssl is needed to make the test certificate");
      const echo = await example9(rt, 0);
      const console = await webConsole(rt, {
        echo: { host: "127.0.0.1", port: echo.sockname()!.port },
        tls: { cert: pki.server.cert, key: pki.server.key },
        statEvery: 100,
      });
      const browser = await launchChromium(["--ignore-certificate-errors"]);
      try {
        const page = await browser.newPage();
        await page.goto(`https://localhost:${console.port}/`);
        await page.waitForFunction(`document.getElementById("state").textContent === "connected"`, null, { timeout: 10000 });
        await page.waitForSelector("#s-activeCons");
        await page.fill("#msg", "hello over wss");
        await page.click("#f button");
        await page.waitForFunction(`document.getElementById("log").textContent.includes("echo: hello over wss")`, null, { timeout: 10000 });
        expect(await page.evaluate("location.protocol")).toBe("https:");
      } finally {
        await browser.close();
        console.close();
      }
    },
    30000,
  );
});
