/**
 * The demo device's web console: one page that connects back over WebSocket and shows the
 * runtime at work — its statistics, one row per open socket, plots of the last five minutes —
 * sends a person's message through the echo service, and runs the flow-control demos
 * (examples/flow-demo.ts) so that the queue filling and the writers suspending can be watched.
 *
 * Per browser connection two cosockets run: one reads the page's requests (an echo, a sort
 * order for the socket table, a demo to start), one pushes the statistics every `statEvery` ms:
 * `rt.stat()` and the first `rows` sockets of `rt.socketStats()` by the page's sort key, so a
 * message stays small however many sockets are open. Both write to the same WebSocket; its
 * flow control keeps their messages whole and in order.
 *
 * `goAway()` is how the console stops like a good server: it stops listening, tells every page
 * "going away" (close code 1001) and waits, bounded, for the closing handshakes. The page shows
 * the close code it got and reconnects by itself (with a growing pause) when the device is back.
 */
import { SocketError, type Runtime, type Socket, type SocketSortKey } from "../src/index.js";
import { HttpServer } from "../src/http/server.js";
import { req2sock } from "../src/websocket/handshake.js";
import { WebSocket } from "../src/websocket/connection.js";
import { CLOSE_GOING_AWAY } from "../src/websocket/close.js";
import { decodeUtf8 } from "../src/base/utf8.js";
import type { TLSServerOptions } from "../src/tls.js";
import { flowDemo, queueFullDemo, type DemoReport, type FlowDemoOptions, type QueueFullOptions } from "./flow-demo.js";

export interface ConsoleOptions {
  port?: number;
  intf?: string;
  /** The echo service messages are sent through. */
  echo: { host: string; port: number };
  /** How often statistics are pushed (ms). */
  statEvery?: number;
  /** Socket rows per statistics message (default 20; a page may ask for up to `maxRows`). */
  rows?: number;
  /** Most socket rows a page may ask for (default 100). */
  maxRows?: number;
  /** Timings of the flow-control demos (ms). */
  flow?: FlowDemoOptions;
  trywrite?: QueueFullOptions;
  /**
   * Also accept pages whose Origin is the Host they asked for (a device reached by its LAN
   * address). Off by default: on the desktop only loopback origins are accepted, which keeps a
   * page from a DNS-rebound name off the console.
   */
  sameHostOrigin?: boolean;
  /** Serve the console over HTTPS / wss:// with this certificate and key. */
  tls?: TLSServerOptions;
}

const SORT_KEYS: readonly SocketSortKey[] = ["queued", "writers", "bytesIn", "bytesOut", "bytes", "age"];

/** What one page sees of the socket table: its sort key and row count. */
interface View {
  sort: SocketSortKey;
  limit: number;
}

/** Requests from the page: `{ "echo": "text" }`, `{ "sort": key, "rows": n }`, `{ "demo": "flow" | "trywrite" }`. */
async function pageReader(ws: WebSocket, con: WebConsole, echo: ConsoleOptions["echo"], view: View, maxRows: number): Promise<void> {
  for (;;) {
    const m = await ws.readMessage();
    if (!m) return;
    let req: { echo?: unknown; sort?: unknown; rows?: unknown; demo?: unknown };
    try {
      req = JSON.parse(decodeUtf8(m.data));
      if (typeof req !== "object" || req === null) throw new Error();
    } catch {
      await ws.write(JSON.stringify({ error: 'expected {"echo": "text"}, {"sort": key} or {"demo": "flow" | "trywrite"}' }));
      continue;
    }
    if (req.sort !== undefined || req.rows !== undefined) {
      if (SORT_KEYS.includes(req.sort as SocketSortKey)) view.sort = req.sort as SocketSortKey;
      const n = Number(req.rows);
      if (n >= 1) view.limit = Math.min(Math.floor(n), maxRows);
      continue;
    }
    if (req.demo !== undefined) {
      const started = con.startDemo(String(req.demo));
      if (started !== true) await ws.write(JSON.stringify({ error: started }));
      continue;
    }
    const text = String(req.echo ?? "");
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
async function statPusher(me: Socket, ws: WebSocket, every: number, view: View): Promise<void> {
  const rt = me.rt;
  while (!ws.closing) {
    const msg = JSON.stringify({ t: Math.round(rt.host.now()), stat: rt.stat(), sockets: { sort: view.sort, ...rt.socketStats(view) } });
    // a write refused because the WebSocket started closing meanwhile ends the pusher too
    if (!(await ws.write(msg).catch(() => false))) return;
    await me.read(every).catch(() => undefined); // sleep (an unconnected cosocket's read)
  }
}

/** The running console: its HTTP server and the pages connected over WebSocket. */
export class WebConsole {
  readonly rt: Runtime;
  readonly server!: HttpServer;
  /** The console WebSockets whose page reader still runs (it ends when the page closes). */
  readonly sockets = new Set<WebSocket>();
  /** The demo running now, if any (one at a time). */
  demo: Promise<DemoReport> | undefined;
  private leaving = false;
  private options!: ConsoleOptions;

  private constructor(rt: Runtime) {
    this.rt = rt;
  }

  /** Serves the console page on `/` and its WebSocket on `/ws`. */
  static async listen(rt: Runtime, options: ConsoleOptions): Promise<WebConsole> {
    const me = new WebConsole(rt);
    me.options = options;
    const every = options.statEvery ?? 500;
    (me as { server: HttpServer }).server = await HttpServer.listen(
      rt,
      async (req, res) => {
        if (req.path === "/ws") {
          // pages from this console only, so that another site cannot open its WebSocket: an
          // Origin on the loopback address, or (sameHostOrigin) the host the browser asked for
          const host = options.sameHostOrigin ? req.header("host") : undefined;
          const origin = (o: string | undefined) =>
            o === undefined ||
            /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(o) ||
            (host !== undefined && (o === `http://${host}` || o === `https://${host}`));
          const ws = await req2sock(req, res, { origin });
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
   * Starts a flow-control demo ("flow" or "trywrite"); its reports go to every page. True, or
   * why not (one demo runs at a time).
   */
  startDemo(name: string): true | string {
    if (this.demo) return "a demo is running already";
    const report = (r: DemoReport) => this.broadcast(JSON.stringify(r));
    let run: Promise<DemoReport>;
    if (name === "flow") run = flowDemo(this.rt, report, this.options.flow);
    else if (name === "trywrite") run = queueFullDemo(this.rt, report, this.options.trywrite);
    else return `no demo "${name}" (flow, trywrite)`;
    this.demo = run;
    run
      .catch((e) => report({ demo: name as DemoReport["demo"], phase: `failed: ${e instanceof SocketError ? e.code : String(e)}` }))
      .finally(() => (this.demo = undefined));
    return true;
  }

  /** Sends `text` to every page (a page that cannot take it now misses it). */
  private broadcast(text: string): void {
    for (const ws of this.sockets) ws.write(text).catch(() => undefined);
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
    const maxRows = this.options.maxRows ?? 100;
    const view: View = { sort: "queued", limit: Math.min(this.options.rows ?? 20, maxRows) };
    ws.event(async (w: WebSocket) => {
      try {
        await pageReader(w, this, echo, view, maxRows);
      } finally {
        this.sockets.delete(w);
      }
    });
    this.rt.event(statPusher, ws, every, view);
  }
}

export function webConsole(rt: Runtime, options: ConsoleOptions): Promise<WebConsole> {
  return WebConsole.listen(rt, options);
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cosock console</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;max-width:76em;color:#222}
h1{font-size:1.3em;margin:.2em 0} h2{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse} td,th{padding:.15em .8em .15em 0;text-align:left}
td.v,th.v{font-variant-numeric:tabular-nums;text-align:right}
#stat td.v,#pool td.v{min-width:5em}
.stale td.v{color:#999}
.row{display:flex;gap:3em;flex-wrap:wrap;align-items:flex-start}
#plots{display:grid;grid-template-columns:repeat(3,1fr);gap:.8em}
#plots canvas{width:100%;height:130px;border:1px solid #ddd;background:#fcfcfc}
#sockets{font-size:13px;width:100%}
#sockets th{border-bottom:1px solid #bbb;white-space:nowrap}
#sockets th.sort{cursor:pointer;color:#036}
#sockets th.on{text-decoration:underline}
#sockets tr.demo{background:#fff4d6}
.bar{display:inline-block;width:5em;height:.7em;background:#eee;vertical-align:middle;margin-left:.4em}
.bar i{display:block;height:100%;background:#d9822b}
#log{font-family:monospace;white-space:pre-wrap;background:#f4f4f4;padding:.5em;min-height:3em}
#state{font-weight:bold}
#demo-status{font-family:monospace}
button{margin-right:.6em}
</style></head>
<body>
<h1>cosock demo device</h1>
<p>WebSocket: <span id="state">connecting…</span> <span id="closed"></span></p>
<div class="row">
<div><h2>Runtime</h2><table id="stat"></table></div>
<div><h2>Worker pool</h2><table id="pool"></table></div>
<div><h2>Flow control you can watch</h2>
<p><button id="flow-btn">Fast writer → slow reader</button><button id="trywrite-btn">trywrite: queue full</button></p>
<p id="demo-status">no demo running</p>
<h2>Echo service</h2>
<form id="f"><input id="msg" value="hello, device" size="24"> <button>Send</button></form>
<div id="log"></div></div>
</div>
<h2>Last five minutes</h2>
<div id="plots">
<canvas id="p-io"></canvas><canvas id="p-queued"></canvas><canvas id="p-writers"></canvas>
<canvas id="p-cons"></canvas><canvas id="p-turns"></canvas><canvas id="p-pool"></canvas>
</div>
<h2>Open sockets <span id="sock-caption"></span></h2>
<table id="sockets"><thead><tr></tr></thead><tbody></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
const labels = { totalCons: "connections (total)", activeCons: "connections (open)", listeners: "listeners",
  queuedBytes: "queued bytes", suspendedWriters: "suspended writers", timers: "timers", turns: "dispatcher turns",
  deferredTurns: "deferred turns", bytesIn: "bytes in", bytesOut: "bytes out" };
const poolLabels = { size: "workers", busy: "busy", queued: "queued jobs", done: "jobs done" };
const rows = (figures, names, prefix) => Object.keys(names).map((k) =>
  "<tr><td>" + names[k] + '</td><td class="v" id="' + prefix + k + '">' + figures[k] + "</td></tr>").join("");
const esc = (v) => String(v).replace(/[&<>"]/g, (c) => "&#" + c.charCodeAt(0) + ";");
function fmt(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n * 10) / 10);
}
// what the page saw, for people and for tests: the close code of the last connection that was
// open (a failed reconnect attempt does not count), connections made, statistics since the last
// one, the last socket table, the last demo report, and the plotted samples
window.consoleState = { lastCloseCode: null, connects: 0, statsSinceOpen: 0, sockets: null, demo: null, samples: [] };

// ---- plots: one sample per statistics message, rates from the counters' differences
const SPAN = 300000; // ms kept; the plots show at least one minute, then all that is kept
const plots = [
  { id: "p-io", title: "throughput (bytes/s)", lines: [["inRate", "in", "#2b7bd9"], ["outRate", "out", "#d9822b"]] },
  { id: "p-queued", title: "queued bytes", lines: [["queuedBytes", "queued", "#c0392b"]] },
  { id: "p-writers", title: "suspended writers", lines: [["suspendedWriters", "writers", "#8e44ad"]] },
  { id: "p-cons", title: "open connections", lines: [["activeCons", "open", "#27ae60"]] },
  { id: "p-turns", title: "dispatcher turns/s", lines: [["turnRate", "turns", "#2c3e50"], ["deferredRate", "deferred", "#e67e22"]] },
  { id: "p-pool", title: "worker pool", lines: [["poolBusy", "busy", "#16a085"], ["poolQueued", "queued", "#c0392b"]] },
];
let prev = null;
function addSample(t, st) {
  const s = { t, queuedBytes: st.queuedBytes, suspendedWriters: st.suspendedWriters, activeCons: st.activeCons,
    poolBusy: st.pool.busy, poolQueued: st.pool.queued, inRate: 0, outRate: 0, turnRate: 0, deferredRate: 0 };
  if (prev && t > prev.t) {
    const dt = (t - prev.t) / 1000;
    s.inRate = Math.max(0, st.bytesIn - prev.st.bytesIn) / dt;
    s.outRate = Math.max(0, st.bytesOut - prev.st.bytesOut) / dt;
    s.turnRate = Math.max(0, st.turns - prev.st.turns) / dt;
    s.deferredRate = Math.max(0, st.deferredTurns - prev.st.deferredTurns) / dt;
  }
  prev = { t, st };
  const all = consoleState.samples;
  if (all.length && t < all[all.length - 1].t) all.length = 0; // another device (restarted): a new clock
  all.push(s);
  while (all.length && all[0].t < t - SPAN) all.shift();
  for (const p of plots) draw(p, all);
}
function niceMax(v) {
  if (v <= 0) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * e) return m * e;
  return 10 * e;
}
function draw(p, all) {
  const c = $(p.id);
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const top = 30, bottom = h - 6, left = 6, right = w - 6;
  let max = 0;
  for (const s of all) for (const l of p.lines) max = Math.max(max, s[l[0]]);
  max = niceMax(max);
  g.strokeStyle = "#e4e4e4"; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) { const y = Math.round(top + (bottom - top) * i / 4) + 0.5; g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke(); }
  g.font = "12px system-ui,sans-serif"; g.fillStyle = "#333"; g.textBaseline = "top";
  g.fillText(p.title, left, 2);
  g.fillStyle = "#888"; g.textAlign = "right"; g.fillText("max " + fmt(max), right, 2); g.textAlign = "left";
  const last = all[all.length - 1];
  const span = last ? Math.min(SPAN, Math.max(60000, last.t - all[0].t)) : SPAN;
  g.fillStyle = "#888"; g.textAlign = "right"; g.fillText(Math.round(span / 1000) + " s", right, 16); g.textAlign = "left";
  let x0 = left;
  for (const l of p.lines) {
    const label = l[1] + " " + (last ? fmt(last[l[0]]) : "–");
    g.fillStyle = l[2]; g.fillText(label, x0, 16); x0 += g.measureText(label).width + 14;
  }
  if (!last) return;
  for (const l of p.lines) {
    g.strokeStyle = l[2]; g.lineWidth = 1.5; g.beginPath();
    all.forEach((s, i) => {
      const x = right - (last.t - s.t) / span * (right - left);
      const y = bottom - s[l[0]] / max * (bottom - top);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
}
window.addEventListener("resize", () => { for (const p of plots) draw(p, consoleState.samples); });

// ---- the socket table: the device sends the first rows by the sort key it was asked for
const columns = [["kind", "kind"], ["mode", "mode"], ["local", "local"], ["peer", "peer"], ["state", "state"],
  ["bytesIn", "bytes in", "v"], ["bytesOut", "bytes out", "v"], ["queued", "queued / queuelen", "v"], ["writers", "writers", "v"], ["age", "age", "v"]];
const sortable = { bytesIn: 1, bytesOut: 1, queued: 1, writers: 1, age: 1 };
let sortKey = "queued";
let demoPort = null;
function header() {
  $("sockets").tHead.rows[0].innerHTML = columns.map((c) => '<th data-k="' + c[0] + '" class="' + (c[2] || "") +
    (sortable[c[0]] ? " sort" : "") + (c[0] === sortKey ? " on" : "") + '">' + c[1] + (c[0] === sortKey ? " ▾" : "") + "</th>").join("");
}
header();
$("sockets").tHead.onclick = (e) => {
  const k = e.target.closest("th") && e.target.closest("th").dataset.k;
  if (!sortable[k]) return;
  sortKey = k;
  header();
  if (ws) ws.send(JSON.stringify({ sort: k }));
};
const age = (ms) => ms < 60000 ? ms / 1000 + " s" : ms < 3600000 ? Math.floor(ms / 60000) + " min" : (ms / 3600000).toFixed(1) + " h";
function socketRows(sk) {
  const isDemo = (r) => demoPort !== null && (r.local.endsWith(":" + demoPort) || r.peer.endsWith(":" + demoPort));
  $("sockets").tBodies[0].innerHTML = sk.rows.map((r) => {
    const fill = r.queuelen > 0 ? Math.min(100, Math.round(r.queued / r.queuelen * 100)) : 0;
    return '<tr class="' + (isDemo(r) ? "demo" : "") + '" data-local="' + esc(r.local) + '" data-peer="' + esc(r.peer) + '">' +
      "<td>" + (r.wrapped ? "websocket" : r.kind) + "</td><td>" + r.mode + "</td><td>" + esc(r.local) + "</td><td>" + esc(r.peer) +
      "</td><td>" + r.state + '</td><td class="v">' + r.bytesIn + '</td><td class="v">' + r.bytesOut + '</td><td class="v">' +
      r.queued + " / " + r.queuelen + '<span class="bar"><i style="width:' + fill + '%"></i></span></td><td class="v">' + r.writers +
      '</td><td class="v">' + age(r.age) + "</td></tr>";
  }).join("");
  $("sock-caption").textContent = "(" + sk.rows.length + " of " + sk.total + ", by " + sk.sort + ")";
}

// ---- the demos
function demoReport(m) {
  consoleState.demo = m;
  if (m.port) demoPort = m.port;
  let text = m.demo + ": " + m.phase;
  if (m.demo === "flow") text += " — sent " + fmt(m.sent || 0) + " B" + (m.received !== undefined ? ", received " + fmt(m.received) + " B" : "");
  else text += " — trywrite accepted " + (m.accepted || 0) + ", refused " + (m.refused || 0) +
    (m.full !== undefined ? " (last answer " + m.full + ": bytes queued, of queuelen " + m.queuelen + ")" : "");
  $("demo-status").textContent = text;
  $("flow-btn").disabled = $("trywrite-btn").disabled = m.phase !== "done" && !m.phase.startsWith("failed");
}
$("flow-btn").onclick = () => ws && ws.send(JSON.stringify({ demo: "flow" }));
$("trywrite-btn").onclick = () => ws && ws.send(JSON.stringify({ demo: "trywrite" }));

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
    if (sortKey !== "queued") s.send(JSON.stringify({ sort: sortKey }));
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
    $("stat").className = $("pool").className = $("sockets").className = "stale";
    prev = null;
    setTimeout(connect, pause);
  };
  s.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.stat) {
      consoleState.statsSinceOpen++;
      $("stat").innerHTML = rows(m.stat, labels, "s-");
      if (m.stat.pool) $("pool").innerHTML = rows(m.stat.pool, poolLabels, "s-pool-");
      $("stat").className = $("pool").className = $("sockets").className = "";
      if (m.sockets) { consoleState.sockets = m.sockets; socketRows(m.sockets); }
      if (m.t !== undefined) addSample(m.t, m.stat);
    } else if (m.demo) {
      demoReport(m);
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
