/**
 * Accepted connections waiting to be adopted. The listener accepts with `pauseOnConnect`, so a
 * pending socket reads nothing until `Host.tcp({ from })` adopts it; the handle the runtime sees
 * is the `net.Socket` itself, marked here so that only a genuine, not yet adopted one is taken.
 */
import type { Socket } from "node:net";
import type { PendingConnection } from "../../src/host.js";

const pending = new WeakSet<Socket>();

/** A pending socket has no owner to tell about errors; this keeps Node from throwing them. */
function ignoreError(): void {}

export function markPending(socket: Socket): PendingConnection {
  pending.add(socket);
  socket.on("error", ignoreError);
  return socket as unknown as PendingConnection;
}

/** The socket behind `handle`, now owned by the caller. Throws if it is not a pending connection. */
export function takePending(handle: PendingConnection): Socket {
  const socket = handle as unknown as Socket;
  if (!pending.delete(socket)) throw new Error("not a pending connection (or adopted already)");
  socket.off("error", ignoreError);
  return socket;
}

/** Closes a pending connection that will never be adopted. */
export function dropPending(handle: PendingConnection): void {
  const socket = handle as unknown as Socket;
  if (pending.delete(socket)) socket.destroy();
}
