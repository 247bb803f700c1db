/**
 * HOOKS FOR THE WEBSOCKET ROWS (issue 3: src/websocket and src/http are being written).
 *
 * The `ws` baseline side of every WebSocket row already runs (see ws-baseline.ts); the "ours"
 * side of a row runs as soon as its hook below is filled in, and the row shows "pending" until
 * then. Nothing else in bench/ needs to change:
 *
 * - `startEchoServer`: used by server.ts (role `ws-echo-ours`) for "WebSocket echo" and for
 *   "WebSocket idle connections". Start our WebSocket server on 127.0.0.1, port 0, answering the
 *   upgrade on any path, and send every message back as received (same opcode). Count open
 *   connections. Typical body:
 *
 *       const rt = new Runtime(nodeHost());
 *       const server = await ...our HTTP server with a WebSocket upgrade handler on rt...;
 *       // per connection: for (let m; (m = await ws.read()); ) await ws.write(m.data, m.isText);
 *       return { port: ..., connections: () => rt.stat().activeCons, close: () => rt.shutdown() };
 *
 * - `connectClient`: used by loadgen.ts (command `wsEcho`, side "ours") for "WebSocket echo".
 *   Connect our client (its own Runtime on a nodeHost, created once per load generator) to `url`;
 *   `roundTrip(payload)` sends one binary message and resolves when the echo has arrived whole.
 *
 * - `createParser`: used by parse.ts for "WebSocket frame parsing". Wrap our frame parser
 *   (src/websocket/frame-parser.ts, role "server"); call `onMessage(bytes)` once per complete
 *   message. The input holds masked binary frames; the parser may unmask in place (the ws
 *   Receiver does too), the bench feeds the same buffers again and again.
 */

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

/** Fill these in when the WebSocket server, client and parser land. */
export const oursWs: OursWs = {};

/** Why a WebSocket row has no "ours" figure yet, or undefined when its hook is in place. */
export function pendingReason(hook: keyof OursWs): string | undefined {
  return oursWs[hook] ? undefined : `pending: bench/ws-hooks.ts \`${hook}\` (issue 3)`;
}
