/**
 * Example 5: an HTTP request morphed into an asynchronous WebSocket connection. The request
 * handler (the LSP page) calls `req2sock`; the connection then lives on in its own cosocket,
 * outside the handler. Here the cosocket echoes every message back as it came (text or binary).
 */
import type { Runtime } from "../src/index.js";
import { HttpServer, type Handler } from "../src/http/server.js";
import { req2sock, type UpgradeOptions } from "../src/websocket/handshake.js";
import { WebSocket } from "../src/websocket/connection.js";
import type { TLSServerOptions } from "../src/tls.js";
import { desktopMain } from "./cli.js";

/** The persistent part, kept outside the request handler: echo messages until the peer closes. */
export async function echoCosocket(ws: WebSocket): Promise<void> {
  for (;;) {
    const m = await ws.readMessage();
    if (!m) break; // the peer's close frame (code in ws.closeCode)
    await ws.write(m.data, m.isText);
  }
}

/** The handler: `/ws` upgrades, anything else gets a short page. */
export function wsEchoHandler(options: UpgradeOptions = {}): Handler {
  return async (req, res) => {
    if (req.path !== "/ws") return res.header("Content-Type", "text/plain").send("WebSocket echo at /ws\n");
    const ws = await req2sock(req, res, options);
    if (ws instanceof WebSocket) ws.event(echoCosocket, "s");
  };
}

/** Serves the echo on `port`; with `tls` (certificate and key) it is https:// and wss://. */
export function example5(
  rt: Runtime,
  port = 0,
  options: UpgradeOptions & { intf?: string; tls?: TLSServerOptions } = {},
): Promise<HttpServer> {
  return HttpServer.listen(rt, wsEchoHandler(options), { port, intf: options.intf ?? "127.0.0.1", tls: options.tls });
}

// run directly on the desktop (the peer of the device's WebSocket client, manifests/wsclient):
//   npx tsx examples/05-websocket-server.ts [--port 8080] [--intf 0.0.0.0] [--cert FILE --key FILE]
// With --cert and --key (PEM files: the certificate chain and its key) it serves wss:// (and https://).
desktopMain("05-websocket-server.ts", async (rt, arg, process) => {
  const intf = arg("intf", "0.0.0.0");
  const certFile = arg("cert", "");
  const keyFile = arg("key", "");
  if (!certFile !== !keyFile) throw new Error("--cert and --key go together");
  let tls: TLSServerOptions | undefined;
  if (certFile) {
    const { readFileSync } = await import("node:fs"); // desktop only: this branch never runs on a device
    tls = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  }
  const server = await example5(rt, Number(arg("port", "8080")), { intf, tls });
  console.log(`WebSocket echo (example 5) on ${tls ? "wss" : "ws"}://${intf}:${server.port}/ws (Ctrl-C stops)`);
  process.once("SIGINT", () => {
    server.close();
    rt.shutdown();
  });
});
