/**
 * Example 12: cosocket flow control.
 * 12a: cosocket B connects to a service and prints what it sends back; cosocket A, never
 *      connected, sends a large source of bytes through B. A suspends whenever B's queue is full.
 * 12b: a non-cosocket caller writes to a cosocket until its queue is full, and is told how many
 *      bytes are queued (`trywrite` returns that number instead of true).
 * 12c: a server that receives one message and then stops reading (use with 12b).
 */
import { decodeUtf8, type Runtime, type Socket } from "../src/index.js";
import { listen } from "./accept-loop.js";
import { print, type Log } from "./log.js";

/** Gives the next piece of the "file", or null at its end. */
export type Source = () => Uint8Array | null;

export async function cosocketA(sockA: Socket, sockB: Socket, source: Source, throttleMs?: number): Promise<void> {
  for (;;) {
    const data = source();
    if (!data) break; // EOF
    await sockB.write(data); // suspends while B's queue is full
    if (throttleMs !== undefined) await sockA.read(throttleMs).catch(() => undefined); // a sleep: A is not connected
  }
  sockB.shutdown(); // tell the service the file has ended (half-close)
}

export async function cosocketB(sockB: Socket, address: string, port: number, source: Source, log: Log): Promise<void> {
  try {
    await sockB.connect(address, port);
  } catch (e) {
    log(`connect failed: ${(e as Error).message}`);
    return;
  }
  sockB.rt.event(cosocketA, sockB, source);
  for (;;) {
    const data = await sockB.read();
    if (!data) break;
    log(decodeUtf8(data));
  }
}

export function example12a(rt: Runtime, address: string, port: number, source: Source, log: Log = print): Socket {
  return rt.event(cosocketB, address, port, source, log);
}

/** 12b: returns the queued byte count reported when the queue was full. */
export async function example12b(
  rt: Runtime,
  address: string,
  port: number,
  message: string | Uint8Array = "hello",
  log: Log = print,
): Promise<{ queued: number; queuelen: number; accepted: number; socket: Socket }> {
  const sock = await rt.connect(address, port);
  // A receive cosocket is required, but not used.
  sock.event(async (s: Socket) => log(`read: ${String(await s.read())}`), "s");
  let accepted = 0;
  for (;;) {
    const status = sock.trywrite(message);
    if (status !== true) {
      log(`Socket queue full ${status} ${sock.queuelen()}`);
      return { queued: status, queuelen: sock.queuelen(), accepted, socket: sock };
    }
    accepted++;
  }
}

/** 12c: accepts connections; each receives one message, then stops reading. */
export function example12c(rt: Runtime, port = 0, log: Log = print): Promise<Socket> {
  return listen(rt, port, (s) =>
    s.event(async (sock: Socket) => {
      await sock.read();
      log("received first message; now stop");
      await sock.disable(); // never enabled: the coroutine stays, reading nothing, until closed
    }, "s"),
  );
}
