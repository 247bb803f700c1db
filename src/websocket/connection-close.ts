/**
 * Closing a WebSocket (RFC 6455 §7): `close()` (our close frame, then the wait for the peer's),
 * the answer to the peer's close frame, a protocol error (its close code sent, then the
 * connection half-closed and drained), and `_finish`, where every closing handshake ends: the
 * TCP connection closed, or aborted when our close frame could not leave.
 */
import { encodeClose } from "./frame-writer.js";
import { CLOSE_ABNORMAL, CLOSE_NO_STATUS, CLOSE_NORMAL } from "./close.js";
import { CLOSED, CLOSING, type WsCode } from "./codes.js";
import { RESOLVED_TRUE } from "../waiter.js";
import { CLOSE_OUT, CLOSE_SENT, EOF, noop, WebSocketError } from "./connection-base.js";
import { WebSocketWriting } from "./connection-write.js";

export abstract class WebSocketClosing extends WebSocketWriting {
  /**
   * Starts or completes the close handshake: sends one close frame (default 1000), waits up to
   * `closeTimeout` for the peer's close, then closes the TCP connection. True the first time.
   */
  close(code: number = CLOSE_NORMAL, reason = ""): Promise<boolean> {
    if (this._f & CLOSE_SENT) return (this._x?.closing ?? Promise.resolve()).then(() => false);
    this._sendClose(code, reason);
    const closing = ((this._x ??= {}).closing = this._finish(this.closeCode !== undefined));
    return closing.then(() => true);
  }

  _sendClose(code: number | undefined, reason = ""): void {
    if (this._f & CLOSE_SENT) return;
    this._f |= CLOSE_SENT;
    this._enter(CLOSING);
    (this._x ??= {}).sentCode = code ?? CLOSE_NO_STATUS;
    if (this.sock.closed || this._x?.failure?.closeCode === CLOSE_ABNORMAL) {
      this._f |= CLOSE_OUT; // nobody to tell
      return;
    }
    const p = this._sendFrame(encodeClose(code, reason, this._mask()));
    if (p === RESOLVED_TRUE)
      this._f |= CLOSE_OUT; // accepted at once
    else p.then(() => (this._f |= CLOSE_OUT), noop);
  }

  /** The peer's close frame arrived: answer it (once) and end the connection. */
  _answerClose(code: number): void {
    if (this._f & CLOSE_SENT) return;
    this._sendClose(code === CLOSE_NO_STATUS ? undefined : code); // echo the peer's code
    (this._x ??= {}).closing = this._finishSoon(true);
  }

  _protocolError(wsCode: WsCode, code: number, reason: string): void {
    if (this._x?.failure) return;
    this._fail(new WebSocketError(wsCode, code, reason));
    const wasSent = this._f & CLOSE_SENT;
    this._sendClose(code, reason.length <= 123 ? reason : "");
    if (!wasSent) this._x!.closing = this._finishSoon(false);
  }

  /**
   * `_finish` from a promise job of its own: the answer to a close frame and a protocol error come
   * from deep in the readiness chain (host, dispatcher, socket, parser), and `_finish` goes on
   * down to a socket read and its timer before it first waits; on XS the device's stack is 384
   * slots (docs/device.md, "As strict as the device"). The job is queued before the waiting
   * reader is resumed, so it runs first, as the synchronous start did.
   */
  _finishSoon(peerClosed: boolean): Promise<void> {
    return Promise.resolve(peerClosed).then((p) => this._finish(p));
  }

  /**
   * After our close frame: half-close (the close frame is flushed first) and read until the peer
   * closes, discarding data, for at most `closeTimeout`; then close the socket.
   */
  async _finish(peerClosed: boolean): Promise<void> {
    const sock = this.sock;
    this._unwatch();
    if (sock.closed) return this._enter(CLOSED);
    const end = sock.rt.host.now() + this.closeTimeout;
    if (this.role === "server" || peerClosed || this._x?.failure) sock.shutdown();
    // wait for the peer's close frame (unless we have it) and then its TCP close
    while (!(this._f & EOF) && !sock.closed && this._x?.failure?.closeCode !== CLOSE_ABNORMAL) {
      const left = end - sock.rt.host.now();
      if (left <= 0) break;
      if (this.closeCode !== undefined && this.role === "client") sock.shutdown();
      await this._pull(left); // bounded by `left` even when a read without a timeout is in flight
    }
    // a close frame still stuck behind a full queue (a peer that does not read): abort
    if (this._f & CLOSE_OUT) sock.close();
    else sock.abort();
    this._enter(CLOSED);
  }

  /** Leaves the watchdog's watch (connection-keepalive.ts). */
  abstract _unwatch(): void;
}
