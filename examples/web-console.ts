/**
 * The demo device's web console: one page that connects back over WebSocket, shows the
 * dispatcher's live statistics, and sends a person's message through the echo service.
 *
 * Per browser connection two cosockets run: one reads the page's requests (and, for each,
 * makes a TCP round trip through the echo service), one pushes `rt.stat()` twice a second.
 * Both write to the same WebSocket; its flow control keeps their messages whole and in order.
 *
 * `goAway()` is how the console stops like a good server: it stops listening, tells every page
 * "going away" (close code 1001) and waits, bounded, for the closing handshakes. The page shows
 * the close code it got and reconnects by itself (with a growing pause) when the device is back.
 */
import { SocketError, type Runtime, type Socket } from "../src/index.js";
import { HttpServer } from "../src/http/server.js";
import { req2sock } from "../src/websocket/handshake.js";
import { WebSocket } from "../src/websocket/connection.js";
import { CLOSE_GOING_AWAY } from "../src/websocket/close.js";
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
    // a write refused because the WebSocket started closing meanwhile ends the pusher too
    if (!(await ws.write(JSON.stringify({ stat: me.rt.stat() })).catch(() => false))) return;
    await me.read(every).catch(() => undefined); // sleep (an unconnected cosocket's read)
  }
}

/** The running console: its HTTP server and the pages connected over WebSocket. */
export class WebConsole {
  readonly rt: Runtime;
  readonly server!: HttpServer;
  /** The console WebSockets whose page reader still runs (it ends when the page closes). */
  readonly sockets = new Set<WebSocket>();
  private leaving = false;

  private constructor(rt: Runtime) {
    this.rt = rt;
  }

  /** Serves the console page on `/` and its WebSocket on `/ws`. */
  static async listen(rt: Runtime, options: ConsoleOptions): Promise<WebConsole> {
    const me = new WebConsole(rt);
    const every = options.statEvery ?? 500;
    (me as { server: HttpServer }).server = await HttpServer.listen(
      rt,
      async (req, res) => {
        if (req.path === "/ws") {
          const ws = await req2sock(req, res, { origin: (o) => o === undefined || /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(o) });
          if (ws instanceof WebSocket) me.accept(ws, options.echo, every);
          return;
        }
        if (req.path === "/" || req.path === "/index.html") return res.header("Content-Type", "text/html; charset=utf-8").send(PAGE);
        res.status(404).send("not found\n");
      },
      { port: options.port ?? 0, intf: options.intf ?? "127.0.0.1", tls: options.tls },
    );
    return me;
  }

  get port(): number {
    return this.server.port;
  }

  /** Stops listening and closes the HTTP connections (the WebSockets are no longer the server's). */
  close(): void {
    this.server.close();
  }

  /**
   * Stops like a good server: stops listening (so a page cannot reconnect to a console that is
   * leaving), sends every console WebSocket a close frame with 1001 "going away", and waits until
   * their closing handshakes are done, at most `limit` ms (on the runtime's clock). Resolves with
   * how many WebSockets were told.
   */
  async goAway(limit = 1000): Promise<number> {
    this.leaving = true;
    this.close();
    const all = [...this.sockets];
    if (all.length === 0) return 0;
    let cancel: (() => void) | undefined;
    const timeUp = new Promise<void>((resolve) => (cancel = this.rt.dispatcher.timer(limit, resolve)));
    const closed = Promise.all(all.map((ws) => ws.close(CLOSE_GOING_AWAY, "going away").catch(() => false)));
    await Promise.race([closed, timeUp]);
    cancel!();
    return all.length;
  }

  /** A page connected: its reader (the WebSocket's coroutine) and its statistics pusher. */
  private accept(ws: WebSocket, echo: ConsoleOptions["echo"], every: number): void {
    if (this.leaving) {
      ws.close(CLOSE_GOING_AWAY, "going away").catch(() => undefined);
      return;
    }
    this.sockets.add(ws);
    ws.event(async (w: WebSocket) => {
      try {
        await pageReader(w, echo);
      } finally {
        this.sockets.delete(w);
      }
    });
    this.rt.event(statPusher, ws, every);
  }
}

export function webConsole(rt: Runtime, options: ConsoleOptions): Promise<WebConsole> {
  return WebConsole.listen(rt, options);
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cosock console</title>
<style>
body{font:15px system-ui,sans-serif;margin:2em;max-width:44em;color:#222}
h1{font-size:1.3em} h2{font-size:1.1em} table{border-collapse:collapse} td{padding:.2em 1em .2em 0}
td.v{font-variant-numeric:tabular-nums;text-align:right;min-width:5em}
.stale td.v{color:#999}
#log{font-family:monospace;white-space:pre-wrap;background:#f4f4f4;padding:.5em;min-height:4em}
#state{font-weight:bold}
</style></head>
<body>
<h1>cosock demo device</h1>
<p>WebSocket: <span id="state">connecting…</span> <span id="closed"></span></p>
<table id="stat"></table>
<h2>Worker pool</h2>
<table id="pool"></table>
<h2>Echo service</h2>
<form id="f"><input id="msg" value="hello, device" size="30"> <button>Send</button></form>
<div id="log"></div>
<script>
const $ = (id) => document.getElementById(id);
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
const labels = { totalCons: "connections (total)", activeCons: "connections (open)", listeners: "listeners",
  queuedBytes: "queued bytes", suspendedWriters: "suspended writers", timers: "timers", turns: "dispatcher turns" };
const poolLabels = { size: "workers", busy: "busy", queued: "queued jobs", done: "jobs done" };
const rows = (figures, names, prefix) => Object.keys(names).map((k) =>
  "<tr><td>" + names[k] + '</td><td class="v" id="' + prefix + k + '">' + figures[k] + "</td></tr>").join("");
// what the page saw, for people and for tests: the close code of the last connection that was
// open (a failed reconnect attempt does not count), connections made, statistics since the last one
window.consoleState = { lastCloseCode: null, connects: 0, statsSinceOpen: 0 };
let ws = null;
let retries = 0;
function connect() {
  const s = new WebSocket(url);
  let opened = false;
  s.onopen = () => {
    opened = true;
    ws = s;
    retries = 0;
    consoleState.connects++;
    consoleState.statsSinceOpen = 0;
    $("state").textContent = "connected";
  };
  s.onclose = (e) => {
    if (ws === s) ws = null;
    if (opened) {
      consoleState.lastCloseCode = e.code;
      $("closed").textContent = "(last close: " + e.code + (e.code === 1001 ? " going away" : "") + ")";
    }
    // retry with a growing pause: 0.5 s, 1 s, 2 s, then every 4 s
    const pause = Math.min(500 * 2 ** retries++, 4000);
    $("state").textContent = "disconnected — retrying in " + pause / 1000 + " s";
    $("stat").className = $("pool").className = "stale";
    setTimeout(connect, pause);
  };
  s.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.stat) {
      consoleState.statsSinceOpen++;
      $("stat").innerHTML = rows(m.stat, labels, "s-");
      if (m.stat.pool) $("pool").innerHTML = rows(m.stat.pool, poolLabels, "s-pool-");
      $("stat").className = $("pool").className = "";
    } else if (m.echo !== undefined) {
      $("log").textContent += "echo: " + m.echo + " (" + m.ms + " ms)\\n";
    } else if (m.error) {
      $("log").textContent += "error: " + m.error + "\\n";
    }
  };
}
connect();
$("f").onsubmit = (e) => {
  e.preventDefault();
  if (ws) ws.send(JSON.stringify({ echo: $("msg").value }));
  else $("log").textContent += "not connected\\n";
};
</script>
</body></html>
`;
