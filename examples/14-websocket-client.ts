/**
 * Example 14: a WebSocket client started with the HTTP client. The upgrade request is an
 * ordinary HTTP request carrying the WebSocket header fields; when the server answers 101
 * (Switching Protocols), `http2sock` turns the response's connection into a client WebSocket,
 * which then lives on in its own cosocket.
 */
import { decodeUtf8, type Runtime } from "../src/index.js";
import { encodeBase64 } from "../src/base64.js";
import { httpRequest } from "../src/http/client.js";
import { http2sock } from "../src/websocket/handshake.js";
import type { WebSocket } from "../src/websocket/connection.js";
import { print, type Log } from "./log.js";

/** Opens the connection: the WebSocket, or null when the server did not switch protocols. */
export async function openWebSocketCon(rt: Runtime, url: string, log: Log = print): Promise<WebSocket | null> {
  const h = await httpRequest(rt, url, {
    headers: {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": encodeBase64(rt.host.randomBytes(16)), // fresh per connection
      "Sec-WebSocket-Version": "13",
    },
  });
  if (h.status === 101) return http2sock(h); // 101 switching protocol; checks Sec-WebSocket-Accept
  log(`not a WebSocket server: ${h.status} ${h.reason}`);
  h.close();
  return null;
}

/** The connection's cosocket: sends each message, prints each answer, then closes. */
export async function clientCosocket(ws: WebSocket, messages: string[], log: Log): Promise<void> {
  for (const m of messages) {
    await ws.write(m);
    const answer = await ws.readMessage(5000);
    if (!answer) {
      log(`closed by the server (${ws.closeCode})`);
      return;
    }
    log(`received: ${answer.isText ? decodeUtf8(answer.data) : `${answer.data.length} binary bytes`}`);
  }
  await ws.close();
  log("closed");
}

export async function example14(rt: Runtime, url: string, messages: string[], log: Log = print): Promise<WebSocket | null> {
  const ws = await openWebSocketCon(rt, url, log);
  if (ws) ws.event(clientCosocket, "s", messages, log);
  return ws;
}
