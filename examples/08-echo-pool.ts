/**
 * Example 8: example 7 with each write delegated to the worker pool, so the reading coroutine
 * never waits for a write. Jobs start in FIFO order, so the echoed bytes keep their order. When
 * the pool's queue is full (`busy`), the reader waits for the last job before going on.
 */
import { isSocketError, type Runtime, type Socket } from "../src/index.js";
import { listen } from "./accept-loop.js";

export async function echoCoroutine(sock: Socket): Promise<void> {
  const pool = sock.rt.pool;
  let last: Promise<unknown> = Promise.resolve();
  for (;;) {
    const data = await sock.read();
    if (!data) break;
    for (;;) {
      try {
        last = pool.run(() => sock.write(data));
        last.catch(() => undefined); // a failed write ends the read loop below
        break;
      } catch (e) {
        if (!isSocketError(e, "busy")) throw e;
        await last;
      }
    }
  }
  await last; // let the last echoes leave before the coroutine closes the socket
}

export function example8(rt: Runtime, port = 0): Promise<Socket> {
  return listen(rt, port, (s) => s.event(echoCoroutine));
}
