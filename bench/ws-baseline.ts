/**
 * The `ws` side of the WebSocket rows: a `ws` echo server, a `ws` client for the load generator,
 * and the `ws` Receiver for the frame-parsing row. Shaped like the hooks in ws-hooks.ts, so both
 * sides run through the same driver code.
 */
import { createRequire } from "node:module";
import { WebSocket, WebSocketServer } from "ws";
import type { WsEchoClient, WsEchoServer, WsParser } from "./ws-hooks.js";

export async function startWsEchoServer(): Promise<WsEchoServer> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  wss.on("connection", (ws) => {
    ws.on("error", () => undefined);
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  const address = wss.address();
  if (typeof address !== "object" || address === null) throw new Error("ws server has no address");
  return { port: address.port, connections: () => wss.clients.size, close: () => wss.close() };
}

export async function connectWsClient(url: string): Promise<WsEchoClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let waiting: { resolve: () => void; reject: (e: Error) => void } | undefined;
  ws.on("message", () => {
    const w = waiting;
    waiting = undefined;
    w?.resolve();
  });
  const fail = (e: Error) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(e);
  };
  ws.on("error", fail);
  ws.on("close", () => fail(new Error("closed")));
  return {
    roundTrip: (payload) =>
      new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
        ws.send(payload, { binary: true });
      }),
    close: () => ws.terminate(),
  };
}

interface Receiver {
  on(event: "message", fn: (data: Buffer) => void): void;
  on(event: "error", fn: (e: Error) => void): void;
  write(chunk: Buffer): boolean;
}

/** The `ws` Receiver as a server would use it (masked frames in, messages out). */
export function createWsReceiver(onMessage: (bytes: number) => void): WsParser {
  const ReceiverClass = createRequire(import.meta.url)("ws").Receiver as new (o: object) => Receiver;
  const r = new ReceiverClass({ isServer: true, maxPayload: 0, binaryType: "nodebuffer" });
  r.on("message", (data) => onMessage(data.length));
  r.on("error", (e) => {
    throw e;
  });
  return {
    push: (chunk) => {
      r.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    },
  };
}
