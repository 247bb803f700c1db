/**
 * Errors the runtime throws. `code` uses the seed's vocabulary so protocol code can switch on it.
 * A `timeout` leaves the socket usable; a read at the peer's orderly close returns null instead.
 */
export type SocketErrorCode =
  | "timeout"
  | "socketclosed" // the socket was closed by this side (close() wakes waiters with it)
  | "socketreadfailed" // the connection failed while reading (reset, dropped)
  | "socketwritefailed" // the connection failed or was shut down for writing
  | "cannotconnect"
  | "cannotresolve"
  | "bind" // the port is in use, or the listener could not be created
  | "incorrectuse" // the call does not fit the socket's kind or state
  | "invalidsocketcon"
  | "toolong" // a reader limit (line length, readUntil max) was reached
  | "busy" // a bounded queue (worker pool jobs) is full
  | "sysshutdown" // the runtime was shut down
  | "sslhandshake"
  | "sslnottrusted"
  | "sslalertrecv"
  | "sslclosenotify"
  | "sslcryptoerr"
  | "sslnotenabled";

export class SocketError extends Error {
  readonly code: SocketErrorCode;
  /** For reader timeouts: the bytes already received (they stay in the socket's buffer). */
  partial?: Uint8Array;

  constructor(code: SocketErrorCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.code = code;
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "SocketError";
  }
}

export function isSocketError(e: unknown, code?: SocketErrorCode): e is SocketError {
  return e instanceof SocketError && (code === undefined || e.code === code);
}
