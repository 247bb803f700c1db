/**
 * Closing: every way a socket ends — `close()`, `abort()`, the end of lingering (`drop()`) and a
 * failed host connection — goes through one method, `_end`; `_release` lets go of the host's
 * connection; `_endIfDrained` sends the orderly end (FIN) once the send queue is empty, after
 * `close()` or `shutdown()`.
 */
import { SocketError } from "../errors.js";
import type { HostErrorReason } from "../host.js";
import { settleWaiter } from "../waiter.js";
import { CLOSE_TO, CLOSED, CLOSING, ENDED, EOF, FAILED, FAILURE, OPEN, SHUTDOWN, UPGRADING } from "./base.js";
import { SocketReading } from "./read.js";
import type { Socket } from "./socket.js";

// How a socket ends (`_end`).
/** `close()`: waiters are woken; bytes accepted by non-suspended writes still leave (lingering). */
export const CLOSE = 0;
/** `abort()`: closed at once; queued bytes are dropped and the peer sees a reset. */
export const ABORT = 1;
/** Lingering ends (its timeout, `rt.shutdown()`): queued bytes dropped, the host connection closed. */
export const DROP = 2;
/** As DROP, but the host connection is reset. */
export const RESET = 3;
/** The host connection failed (`reason`): reads and writes throw from now on. */
export const FAIL = 4;

export abstract class SocketClosing extends SocketReading {
  /**
   * Closes the socket: true the first time, false after. Wakes every waiter on it with
   * `socketclosed` (a waiting accept with null). Bytes already accepted by a non-suspended write
   * are still sent (for up to `lingerTimeout`); suspended writers' bytes are dropped and those
   * writers are told.
   */
  close(): boolean {
    return this._end(CLOSE);
  }

  /**
   * Closes at once: like `close()`, but bytes still queued are dropped instead of sent, and the
   * peer sees the connection reset (TCP RST; see `TCP.reset` in host.ts), not an orderly end — so
   * a proxy can pass a failure on as a failure. A closed socket still lingering is reset too.
   */
  abort(): void {
    this._end(ABORT);
  }

  /**
   * @internal Ends lingering (the linger timeout, `rt.shutdown()`): queued bytes are dropped and
   * the host connection closed, or reset with `reset`.
   */
  drop(reset = false): void {
    this._end(reset ? RESET : DROP);
  }

  /** Half-close: queued bytes are still sent, then the peer reads end-of-stream. Reading goes on. */
  shutdown(): void {
    if (this._closed || this._has(SHUTDOWN) || this._kind !== "tcp") return;
    this._put(SHUTDOWN, true);
    this._endIfDrained();
  }

  /**
   * The one place a socket ends (`how`: CLOSE, ABORT, DROP, RESET or FAIL with the host's
   * `reason`). The first close (or failure) settles every waiter: a read with `socketclosed` or
   * the failure's error, an accept with null, a connect with `socketclosed` or `cannotconnect`, a
   * disable with `socketclosed`, suspended writers (after a failure: every queued byte), a TLS
   * handshake in progress. Then the host connection lingers (CLOSE of a connected socket) or is
   * let go. Returns false when the socket had already closed (CLOSE) or failed (FAIL).
   */
  _end(how: number, reason: HostErrorReason = "error"): boolean {
    const failing = how === FAIL;
    const first = failing ? this._failure === undefined : !this._closed;
    if (!first && (how === CLOSE || failing)) return false;
    let lingers = false;
    if (first) {
      let error: SocketError;
      if (failing) {
        this._extra().failure = reason;
        if (!this._closed) this._setLife(FAILED);
        error = this._tls?.error ?? new SocketError("socketwritefailed", FAILURE[reason]);
        settleWaiter(this._x, "connecting", new SocketError("cannotconnect", FAILURE[reason]));
        this._wq?.fail(error);
        this._wq = undefined;
      } else {
        const life = this._life;
        // a connection closed mid-handshake is dropped, not lingered on
        lingers = how === CLOSE && this._tcp !== undefined && this._connected && !this._failure && life !== UPGRADING;
        this._setLife(lingers ? CLOSING : CLOSE_TO[life]!);
        error = new SocketError("socketclosed");
        this._resume(error);
        settleWaiter(this._x, "acceptor", undefined, null);
        settleWaiter(this._x, "connecting", error);
        settleWaiter(this._x, "disabled", error);
        const q = this._wq;
        if (q) {
          q.dropSuspended(error);
          if (q.empty) this._wq = undefined;
        }
        const listener = this._x?.listener;
        if (listener) {
          this._x!.listener = undefined;
          listener.close();
        }
      }
      this._tls?.end(error, failing ? reason : undefined);
    }
    if (lingers) {
      this._extra().lingerCancel = this.rt.dispatcher.timer(this.rt.options.lingerTimeout, () => this.drop());
      this.rt.lingering.add(this as unknown as Socket);
      this._endIfDrained();
      this.rt.dispatcher.ready(this); // discard unread input so the peer's FIN is seen
    } else if (failing) {
      this._release(false);
      if (!this._closed && this._reader) this.rt.dispatcher.ready(this); // it reads the failure
    } else {
      if (how !== CLOSE) {
        this._wq?.fail(new SocketError("socketclosed"));
        this._wq = undefined;
      }
      this._release(how === ABORT || how === RESET);
    }
    if (first) this._untrack();
    return first;
  }

  /** Lets go of the host's connection (closed, or reset where the host can send one); lingering ends. */
  _release(reset: boolean): void {
    const tcp = this._tcp;
    this._tcp = undefined;
    if (tcp)
      try {
        if (reset && tcp.reset) tcp.reset();
        else tcp.close();
      } catch {
        /* already closed */
      }
    const x = this._x;
    if (x?.lingerCancel) {
      x.lingerCancel();
      x.lingerCancel = undefined;
    }
    if (this._life === CLOSING) this._setLife(CLOSED);
    this.rt.lingering.delete(this as unknown as Socket);
  }

  /** Sends the orderly end once nothing is queued, after `shutdown()` or while lingering. */
  _endIfDrained(): void {
    const tcp = this._tcp;
    if (!tcp || this._wq || this._has(ENDED)) return;
    const life = this._life;
    if (life !== CLOSING && !(life === OPEN && this._has(SHUTDOWN))) return;
    this._put(ENDED, true);
    try {
      tcp.end();
    } catch {
      // The connection failed before the host could report it (a reset on its way in): the
      // same outcome as that report.
      this._end(FAIL, "reset");
      return;
    }
    if (life === CLOSING && this._has(EOF)) this._release(false);
  }
}
