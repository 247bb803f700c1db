/**
 * The accept coroutine of example 3.b, shared by the server examples: a listening socket's
 * coroutine accepts connections and hands each to `onConnection` until the listener closes.
 */
import type { Runtime, Socket } from "../src/index.js";

export async function listen(rt: Runtime, port: number, onConnection: (s: Socket) => void, intf = "127.0.0.1"): Promise<Socket> {
  const listener = await rt.bind(port, { intf });
  return listener.event(async (l: Socket) => {
    for (;;) {
      const s = await l.accept();
      if (!s) break; // the listener was closed
      onConnection(s);
    }
  });
}
