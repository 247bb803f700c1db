/**
 * Example 4: an asynchronous socket. 4a is the coroutine: it waits for data and prints it until
 * the peer closes. 4b connects (blocking the caller until connected) and starts 4a on the socket.
 */
import { decodeUtf8, type Runtime, type Socket } from "../src/index.js";
import { print, type Log } from "./log.js";

/** 4a: read until the connection ends; returns the bytes received. */
export async function sockCoroutine(sock: Socket, log: Log = print): Promise<number> {
  let total = 0;
  for (;;) {
    const data = await sock.read();
    if (!data) break;
    total += data.length;
    log(`received: ${decodeUtf8(data)}`);
  }
  log("connection closed");
  return total;
}

/** 4b: connect, then activate the asynchronous coroutine on the socket. */
export async function example4(rt: Runtime, address: string, port: number, log: Log = print): Promise<Socket | null> {
  try {
    const sock = await rt.connect(address, port);
    return sock.event(sockCoroutine, log);
  } catch (e) {
    log(`connect failed: ${(e as Error).message}`);
    return null;
  }
}
