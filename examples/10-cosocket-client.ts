/**
 * Example 10: a cosocket client. `rt.event` starts the coroutine on an unconnected socket; the
 * `connect` inside it connects that same socket without blocking anything else.
 */
import { decodeUtf8, type Runtime, type Socket } from "../src/index.js";
import { print, type Log } from "./log.js";

export async function sockCoroutine(sock: Socket, address: string, port: number, greeting: string, log: Log): Promise<void> {
  let socket: Socket;
  try {
    socket = await sock.connect(address, port);
  } catch (e) {
    log(`connect failed: ${(e as Error).message}`);
    return;
  }
  if (socket !== sock) throw new Error("a cosocket has one socket");
  await socket.write(greeting);
  try {
    for (;;) {
      const data = await socket.read();
      if (!data) break;
      log(`received: ${decodeUtf8(data)}`);
    }
  } catch (e) {
    log(`socket error: ${(e as Error).message}`);
  }
}

export function example10(rt: Runtime, address: string, port: number, greeting = "hello\n", log: Log = print): Socket {
  return rt.event(sockCoroutine, address, port, greeting, log);
}
