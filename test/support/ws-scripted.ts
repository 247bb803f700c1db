/**
 * A scripted WebSocket server on our runtime for the interop and browser tests: example 5's
 * echo, plus a few text commands so a peer can make our side act.
 *
 *   cmd:ping        we ping the peer; after its pong we answer "pong received"
 *   cmd:close1001   we close with 1001 "server going away"
 *   cmd:text:N      we send N euro signs as one text message (3N bytes)
 *   cmd:bin:N       we send N bytes (i & 255) as one binary message
 *
 * Paths: /ws (defaults: 64 KiB frames and messages) and /frag (maxFrame 1000, so our writer cuts
 * messages into 1000-byte frames, also inside UTF-8 sequences; maxMessage 1 MiB).
 * What happened to each connection is recorded in `events`.
 */
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { HttpServer, type Handler } from "../../src/http/server.js";
import { req2sock, type UpgradeOptions } from "../../src/websocket/handshake.js";
import { WebSocket, WebSocketError } from "../../src/websocket/connection.js";

export interface ServerEvent {
  path: string;
  /** "peer-closed": the peer's close frame came (code/reason); "we-closed"; "error": a WebSocketError. */
  kind: "peer-closed" | "we-closed" | "error";
  code?: number;
  reason?: string;
}

export function binPattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = i & 0xff;
  return out;
}

export async function scriptedCosocket(ws: WebSocket, path: string, events: ServerEvent[]): Promise<void> {
  try {
    for (;;) {
      const m = await ws.readMessage();
      if (!m) {
        events.push({ path, kind: "peer-closed", code: ws.closeCode, reason: ws.closeReason });
        return;
      }
      if (m.isText && m.data.length < 40) {
        const text = decodeUtf8(m.data);
        if (text === "cmd:ping") {
          // Not awaited: the pong is taken in by this loop's next read (ws.ping() awaited by the
          // connection's only reader never sees its pong; see the known-bug test in interop).
          ws.ping("srv", 2000).then(
            () => ws.write("pong received"),
            (e) => events.push({ path, kind: "error", reason: `ping: ${(e as Error).message}` }),
          );
          continue;
        }
        if (text === "cmd:close1001") {
          await ws.close(1001, "server going away");
          events.push({ path, kind: "we-closed", code: 1001 });
          return;
        }
        const cmd = /^cmd:(text|bin):(\d+)$/.exec(text);
        if (cmd) {
          const n = Number(cmd[2]);
          await (cmd[1] === "text" ? ws.write("€".repeat(n)) : ws.write(binPattern(n)));
          continue;
        }
      }
      await ws.write(m.data, m.isText);
    }
  } catch (e) {
    events.push({ path, kind: "error", code: e instanceof WebSocketError ? e.closeCode : undefined, reason: (e as Error).message });
    throw e;
  }
}

export function scriptedHandler(events: ServerEvent[], extra: UpgradeOptions = {}): Handler {
  return async (req, res) => {
    const options: UpgradeOptions = req.path === "/frag" ? { maxFrame: 1000, maxMessage: 1 << 20, ...extra } : extra;
    if (req.path !== "/ws" && req.path !== "/frag") return res.status(404).send("not found\n");
    const ws = await req2sock(req, res, options);
    if (ws instanceof WebSocket) ws.event(scriptedCosocket, "s", req.path, events);
  };
}

export interface ScriptedServer {
  rt: Runtime;
  server: HttpServer;
  events: ServerEvent[];
  logs: string[];
  url(path?: string): string;
  stop(): void;
}

export async function startScripted(): Promise<ScriptedServer> {
  const logs: string[] = [];
  const rt = new Runtime(nodeHost(), { log: (m) => logs.push(m) });
  const events: ServerEvent[] = [];
  const server = await HttpServer.listen(rt, scriptedHandler(events), { intf: "127.0.0.1" });
  return {
    rt,
    server,
    events,
    logs,
    url: (path = "/ws") => `ws://127.0.0.1:${server.port}${path}`,
    stop() {
      server.close();
      rt.shutdown();
    },
  };
}
