/**
 * Example 15: WebSocket frames as they trickle in. `read()` hands out pieces of a frame as the
 * bytes arrive — `data, isText, bytesRead, frameLen` — without assembling anything: the frame
 * is complete when `bytesRead === frameLen`. `isText` tells a UTF-8 (text) frame from a binary
 * one. `wsread` is the seed's helper that assembles complete frames.
 *
 * The program: a WebSocket server whose cosocket reads every frame with `wsread`, prints what
 * it got, and answers with a summary ("text 5 bytes in 1 piece").
 */
import { decodeUtf8, type Runtime } from "../src/index.js";
import { HttpServer } from "../src/http/server.js";
import { isUpgrade, req2sock } from "../src/websocket/handshake.js";
import { WebSocket } from "../src/websocket/connection.js";
import { print, type Log } from "./log.js";

/** Detecting binary/UTF-8 frames: prints one line per piece read. */
export async function detectFrames(ws: WebSocket, log: Log = print): Promise<void> {
  for (;;) {
    const p = await ws.read();
    if (!p) break; // the peer's close frame
    if (p.isText) log(`Received UTF-8 frame (${p.bytesRead}/${p.frameLen})`);
    else log(`Received binary frame (${p.bytesRead}/${p.frameLen})`);
  }
}

export interface WholeFrame {
  data: Uint8Array;
  isText: boolean;
  /** The last frame of its message. */
  fin: boolean;
  /** How many reads it took. */
  pieces: number;
}

/**
 * Assembling a WebSocket frame: reads pieces until `bytesRead === frameLen`. Null after the
 * peer's close frame; a protocol error or a dropped connection throws (`WebSocketError`).
 */
export async function wsread(ws: WebSocket, timeout?: number): Promise<WholeFrame | null> {
  let p = await ws.read(timeout);
  if (!p) return null;
  if (p.bytesRead === p.frameLen) return { data: p.data, isText: p.isText, fin: p.fin, pieces: 1 }; // not a fragment
  const t = new Uint8Array(p.frameLen); // assemble here; the length is known up front
  let pieces = 0;
  for (;;) {
    t.set(p.data, p.bytesRead - p.data.length);
    pieces++;
    if (p.bytesRead === p.frameLen) break;
    p = await ws.read(timeout);
    if (!p) return null;
  }
  return { data: t, isText: p.isText, fin: p.fin, pieces };
}

/** The server's cosocket: every frame, assembled, printed and summarised back to the peer. */
export async function frameReporter(ws: WebSocket, log: Log): Promise<void> {
  for (;;) {
    const f = await wsread(ws);
    if (!f) break;
    const what = f.isText ? "UTF-8" : "binary";
    log(`Received ${what} frame: ${f.data.length} bytes in ${f.pieces} piece${f.pieces === 1 ? "" : "s"}${f.fin ? "" : " (more to come)"}`);
    const head = f.isText ? `: ${decodeUtf8(f.data).slice(0, 20)}` : "";
    await ws.write(`${f.isText ? "text" : "binary"} ${f.data.length} bytes in ${f.pieces} piece${f.pieces === 1 ? "" : "s"}${head}`);
  }
}

export function example15(rt: Runtime, port = 0, log: Log = print, intf = "127.0.0.1"): Promise<HttpServer> {
  return HttpServer.listen(
    rt,
    async (req, res) => {
      if (!isUpgrade(req)) return res.header("Content-Type", "text/plain").send("example 15: connect with a WebSocket client\n");
      const ws = await req2sock(req, res);
      if (ws instanceof WebSocket) ws.event(frameReporter, "s", log);
    },
    { port, intf },
  );
}
