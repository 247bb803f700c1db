/**
 * Example 9: the echo server with cosockets ("s"): reads and writes both suspend; writes queue and
 * the coroutine waits only while its peer cannot keep up.
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

export function example9(rt: Runtime, port = 0, intf?: string): Promise<Socket> {
  return listen(rt, port, (s) => s.event(echoCoroutine, "s"), intf);
}
