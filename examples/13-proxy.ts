/**
 * Example 13: the cosocket proxy (tunnel). For each accepted connection ("server" side) a second
 * cosocket connects to the destination ("client" side); `webProxy` moves bytes one way, and the
 * two coroutines run it in opposite directions. disable/enable hand the connected client socket
 * over, and later tell each side that the other direction has finished. An orderly end on one
 * side is passed on as an orderly end (half-close); a failure (a reset, a destination that
 * cannot be reached) as a failure: the other side is aborted (`abort()`, a TCP reset).
 */
import type { Runtime, Socket } from "../src/index.js";
import { listen } from "./accept-loop.js";

export interface Target {
  host: string;
  port: number;
}

/**
 * Moves bytes from source to sink until the source ends (then half-closes the sink: an orderly
 * end is passed on as one) or either side fails. A failure is passed on as a failure: both
 * connections are aborted (reset), so that a peer never mistakes a stream cut short for a whole
 * one — an upstream reset after 300 000 bytes must not reach the client as 300 000 bytes and a
 * clean end.
 */
export async function webProxy(source: Socket, sink: Socket): Promise<void> {
  try {
    for (;;) {
      const data = await source.read();
      if (!data) {
        sink.shutdown();
        return;
      }
      await sink.write(data);
    }
  } catch (e) {
    source.abort();
    sink.abort();
    throw e;
  }
}

/** Waits until the other direction is done too; each side enables the other when it finishes. */
async function bothDone(self: Socket, other: Socket): Promise<void> {
  other.enable();
  await self.disable();
}

export async function webProxyClient(client: Socket, server: Socket, target: Target): Promise<void> {
  try {
    await client.connect(target.host, target.port);
  } catch {
    server.enable(null); // tell the server side: no destination
    return;
  }
  server.enable(client);
  await webProxy(client, server);
  await bothDone(client, server);
}

export async function webProxyServer(server: Socket, target: Target): Promise<void> {
  server.rt.event(webProxyClient, server, target);
  const [client] = (await server.disable()) as [Socket | null];
  if (!client) {
    server.abort(); // no destination: the client sees a reset, not an empty but orderly stream
    return;
  }
  await webProxy(server, client);
  await bothDone(server, client);
}

export function example13(rt: Runtime, target: Target, port = 0, intf?: string): Promise<Socket> {
  return listen(rt, port, (s) => s.event(webProxyServer, "s", target), intf);
}
