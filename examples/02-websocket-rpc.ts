/**
 * Example 2: a blocking WebSocket client in a request handler (RPC message style). The page
 * shows a form; when a person submits a message, the handler — running in the worker pool, like
 * the seed's Lua Server Page in a thread of the HTTP thread pool — opens a WebSocket to an echo
 * server, sends the message, waits for the echo and renders the answer as HTML.
 */
import { SocketError, decodeUtf8, type Runtime } from "../src/index.js";
import { HttpServer, type Handler } from "../src/http/server.js";
import { wsConnect } from "../src/websocket/handshake.js";

/** One round trip: connect, send `message` as a text frame, wait for one message back, close. */
export async function wsRpc(rt: Runtime, url: string, message: string, timeout = 5000): Promise<string> {
  const ws = await wsConnect(rt, url, { timeout });
  try {
    await ws.write(message); // a text frame
    const m = await ws.readMessage(timeout);
    if (!m) throw new SocketError("socketclosed", `the echo server closed (${ws.closeCode})`);
    return m.isText ? decodeUtf8(m.data) : `(${m.data.length} binary bytes)`;
  } finally {
    await ws.close(); // close handshake: 1000, then the TCP connection
  }
}

/** A field of an application/x-www-form-urlencoded body. */
export function formField(body: string, name: string): string | undefined {
  for (const pair of body.split("&")) {
    const eq = pair.indexOf("=");
    const k = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " "));
    if (k === name) return eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " "));
  }
  return undefined;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(message: string, answer: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>WebSocket RPC</title></head><body>
<h1>WebSocket RPC</h1>
<form method="post"><input name="message" value="${escapeHtml(message)}" size="40"> <input type="submit" value="Send"></form>
${answer}
</body></html>
`;
}

/**
 * The handler (the LSP page): GET shows the form; POST (or GET with `?message=`) sends the
 * message through the echo server at `echoUrl` and shows the echo.
 */
export function wsRpcHandler(echoUrl: string, timeout = 5000): Handler {
  return async (req, res) => {
    if (req.path !== "/") return res.status(404).send("not found\n");
    const message = req.method === "POST" ? formField(await req.text(), "message") : req.param("message");
    let answer = "";
    if (message) {
      try {
        const echo = await wsRpc(req.server.rt, echoUrl, message, timeout);
        answer = `<p>The echo server answered: <b id="echo">${escapeHtml(echo)}</b></p>`;
      } catch (e) {
        const why = e instanceof SocketError ? e.code : String(e);
        answer = `<p>No answer from the echo server: <b id="error">${escapeHtml(why)}</b></p>`;
      }
    }
    await res.header("Content-Type", "text/html; charset=utf-8").send(page(message ?? "", answer));
  };
}

/** The page on an HTTP server; handlers run in the worker pool (the server's default). */
export function example2(rt: Runtime, echoUrl: string, port = 0, intf = "127.0.0.1"): Promise<HttpServer> {
  return HttpServer.listen(rt, wsRpcHandler(echoUrl), { port, intf });
}
