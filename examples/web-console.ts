/**
 * The demo device's web console: one page that connects back over WebSocket, shows the
 * dispatcher's live statistics, and sends a person's message through the echo service.
 *
 * Per browser connection two cosockets run: one reads the page's requests (and, for each,
 * makes a TCP round trip through the echo service), one pushes `rt.stat()` twice a second.
 * Both write to the same WebSocket; its flow control keeps their messages whole and in order.
 */
import { SocketError, type Runtime, type Socket } from "../src/index.js";
import { HttpServer } from "../src/http/server.js";
import { req2sock } from "../src/websocket/handshake.js";
import { WebSocket } from "../src/websocket/connection.js";
import { decodeUtf8 } from "../src/utf8.js";
import type { TLSServerOptions } from "../src/tls.js";

export interface ConsoleOptions {
  port?: number;
  intf?: string;
  /** The echo service messages are sent through. */
  echo: { host: string; port: number };
  /** How often statistics are pushed (ms). */
  statEvery?: number;
  /** Serve the console over HTTPS / wss:// with this certificate and key. */
  tls?: TLSServerOptions;
}

/** One request from the page: `{ "echo": "text" }`. */
async function pageReader(ws: WebSocket, echo: ConsoleOptions["echo"]): Promise<void> {
  for (;;) {
    const m = await ws.readMessage();
    if (!m) return;
    let text: string;
    try {
      text = String(JSON.parse(decodeUtf8(m.data)).echo ?? "");
    } catch {
      await ws.write(JSON.stringify({ error: "expected {\"echo\": \"text\"}" }));
      continue;
    }
    const t0 = ws.sock.rt.host.now();
    let reply: string;
    try {
      const sock: Socket = await ws.sock.rt.connect(echo.host, echo.port, { timeout: 2000 });
      try {
        await sock.write(text + "\n");
        reply = (await sock.readLine({ timeout: 2000 })) ?? "";
      } finally {
        sock.close();
      }
    } catch (e) {
      await ws.write(JSON.stringify({ error: e instanceof SocketError ? e.code : String(e) }));
      continue;
    }
    await ws.write(JSON.stringify({ echo: reply, ms: Math.round((ws.sock.rt.host.now() - t0) * 10) / 10 }));
  }
}

/** Pushes statistics until the WebSocket closes. */
async function statPusher(me: Socket, ws: WebSocket, every: number): Promise<void> {
  while (!ws.closing) {
    await ws.write(JSON.stringify({ stat: me.rt.stat() }));
    await me.read(every).catch(() => undefined); // sleep (an unconnected cosocket's read)
  }
}

export function webConsole(rt: Runtime, options: ConsoleOptions): Promise<HttpServer> {
  const every = options.statEvery ?? 500;
  return HttpServer.listen(
    rt,
    async (req, res) => {
      if (req.path === "/ws") {
        const ws = await req2sock(req, res, { origin: (o) => o === undefined || /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(o) });
        if (!(ws instanceof WebSocket)) return;
        ws.event(pageReader, "s", options.echo);
        rt.event(statPusher, ws, every);
        return;
      }
      if (req.path === "/" || req.path === "/index.html") return res.header("Content-Type", "text/html; charset=utf-8").send(PAGE);
      res.status(404).send("not found\n");
    },
    { port: options.port ?? 0, intf: options.intf ?? "127.0.0.1", tls: options.tls },
  );
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cosock console</title>
<style>
body{font:15px system-ui,sans-serif;margin:2em;max-width:44em;color:#222}
h1{font-size:1.3em} table{border-collapse:collapse} td{padding:.2em 1em .2em 0}
td.v{font-variant-numeric:tabular-nums;text-align:right;min-width:5em}
#log{font-family:monospace;white-space:pre-wrap;background:#f4f4f4;padding:.5em;min-height:4em}
#state{font-weight:bold}
</style></head>
<body>
<h1>cosock demo device</h1>
<p>WebSocket: <span id="state">connecting…</span></p>
<table id="stat"></table>
<h2>Echo service</h2>
<form id="f"><input id="msg" value="hello, device" size="30"> <button>Send</button></form>
<div id="log"></div>
<script>
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
const $ = (id) => document.getElementById(id);
const labels = { totalCons: "connections (total)", activeCons: "connections (open)", listeners: "listeners",
  queuedBytes: "queued bytes", suspendedWriters: "suspended writers", timers: "timers", turns: "dispatcher turns" };
ws.onopen = () => { $("state").textContent = "connected"; };
ws.onclose = (e) => { $("state").textContent = "closed (" + e.code + ")"; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.stat) {
    $("stat").innerHTML = Object.keys(labels).map((k) =>
      "<tr><td>" + labels[k] + '</td><td class="v" id="s-' + k + '">' + m.stat[k] + "</td></tr>").join("");
  } else if (m.echo !== undefined) {
    $("log").textContent += "echo: " + m.echo + " (" + m.ms + " ms)\\n";
  } else if (m.error) {
    $("log").textContent += "error: " + m.error + "\\n";
  }
};
$("f").onsubmit = (e) => { e.preventDefault(); ws.send(JSON.stringify({ echo: $("msg").value })); };
</script>
</body></html>
`;
