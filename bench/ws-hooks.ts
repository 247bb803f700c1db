/**
 * The "ours" side of the WebSocket rows: our HTTP server with `req2sock` and an echo cosocket,
 * our client (`wsConnect`), and our frame parser. The `ws` side is in ws-baseline.ts.
 *
 * - `startEchoServer` (server.ts, role `ws-echo-ours`): "WebSocket echo" and "WebSocket idle
 *   connections"; every message goes back as received (same opcode); any path upgrades.
 * - `connectClient` (loadgen.ts, command `wsEcho`, side "ours"): one Runtime per load generator.
 * - `createParser` (parse.ts): our frame parser in the server role, a message counted when its
 *   last piece arrives.
 */
import { Runtime } from "../src/index.js";
import { nodeHost } from "../hosts/node/index.js";
import { HttpServer } from "../src/http/server.js";
import { req2sock } from "../src/websocket/handshake.js";
import { WebSocket } from "../src/websocket/connection.js";
import { wsConnect } from "../src/websocket/handshake.js";
import { FrameParser } from "../src/websocket/frame-parser.js";

export interface WsEchoServer {
  port: number;
  /** Connections open now (the idle-connection row waits for all of them). */
  connections(): number;
  close(): void;
}

export interface WsEchoClient {
  /** Sends one binary message; resolves when its echo has arrived whole. */
  roundTrip(payload: Uint8Array): Promise<void>;
  close(): void;
}

export interface WsParser {
  push(chunk: Uint8Array): void;
}

export interface OursWs {
  startEchoServer?: () => Promise<WsEchoServer>;
  connectClient?: (url: string) => Promise<WsEchoClient>;
  createParser?: (onMessage: (bytes: number) => void) => WsParser;
}

async function echo(ws: WebSocket): Promise<void> {
  for (let m; (m = await ws.readMessage()); ) await ws.write(m.data, m.isText);
}

let clientRt: Runtime | undefined;

export const oursWs: OursWs = {
  async startEchoServer() {
    const rt = new Runtime(nodeHost(), { log: () => undefined });
    let open = 0;
    const server = await HttpServer.listen(
      rt,
      async (req, res) => {
        const ws = await req2sock(req, res);
        if (!(ws instanceof WebSocket)) return;
        open++;
        ws.event(async (w: WebSocket) => {
          try {
            await echo(w);
          } finally {
            open--;
          }
        }, "s");
      },
      { intf: "127.0.0.1", limits: { maxConnections: 1 << 20, maxWebSockets: 1 << 20 } },
    );
    return { port: server.port, connections: () => open, close: () => (server.close(), rt.shutdown()) };
  },

  async connectClient(url: string) {
    clientRt ??= new Runtime(nodeHost(), { log: () => undefined });
    const ws = await wsConnect(clientRt, url);
    return {
      async roundTrip(payload: Uint8Array) {
        await ws.write(payload, false);
        const m = await ws.readMessage();
        if (!m || m.data.length !== payload.length) throw new Error("the echo did not come back whole");
      },
      close: () => void ws.close(),
    };
  },

  createParser(onMessage: (bytes: number) => void) {
    let size = 0;
    const parser = new FrameParser(
      {
        onData: (p) => {
          size += p.data.length;
          if (p.fin && p.bytesRead === p.frameLen) {
            onMessage(size);
            size = 0;
          }
        },
        onPing: () => undefined,
        onPong: () => undefined,
        onClose: () => undefined,
        onError: (code, reason) => {
          throw new Error(`parser error ${code}: ${reason}`);
        },
      },
      { role: "server" },
    );
    return { push: (chunk: Uint8Array) => parser.push(chunk) };
  },
};

/** Why a WebSocket row has no "ours" figure yet, or undefined when its hook is in place. */
export function pendingReason(hook: keyof OursWs): string | undefined {
  return oursWs[hook] ? undefined : `pending: bench/ws-hooks.ts \`${hook}\` (issue 3)`;
}
