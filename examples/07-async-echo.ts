/**
 * Example 7: an echo server whose connections are asynchronous sockets ("r"). Reads suspend the
 * coroutine; its writes wait until the host has taken the bytes. (In Lua such a write blocks the
 * whole dispatcher; here only this coroutine waits — but it still cannot read meanwhile.)
 */
import type { Runtime, Socket } from "../src/index.js";
import { listen } from "./accept-loop.js";

export async function echoCoroutine(sock: Socket): Promise<void> {
  for (;;) {
    const data = await sock.read();
    if (!data) break;
    await sock.write(data);
  }
}

export function example7(rt: Runtime, port = 0): Promise<Socket> {
  return listen(rt, port, (s) => s.event(echoCoroutine));
}
