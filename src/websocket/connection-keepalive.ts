/**
 * The idle timeout and keepalive of a WebSocket (`idleTimeout`, `pingInterval`, `pongTimeout`):
 * the runtime's watchdog calls `watchTick` on a watched connection; silence past `idleTimeout`
 * closes it with 1001, a keepalive ping unanswered past `pongTimeout` aborts it (1006).
 */
import { encodePing } from "./frame-writer.js";
import { CLOSE_ABNORMAL, CLOSE_GOING_AWAY } from "./close.js";
import { CLOSED } from "./codes.js";
import { CLOSE_OUT, CLOSE_SENT, EOF, INFLIGHT, noop, WATCHED, WebSocketError } from "./connection-base.js";
import { WebSocketClosing } from "./connection-close.js";

const EMPTY = new Uint8Array(0);

export abstract class WebSocketKeepalive extends WebSocketClosing {
  /** @internal The watchdog's check (watchdog.ts): false when the connection leaves the watch. */
  watchTick(now: number): boolean {
    if (!(this._f & WATCHED)) return false;
    if (!(this._f & INFLIGHT)) {
      // bytes that wait in the socket are traffic too: take them in, unless the reader has
      // not taken what it was given (then the silence is the application's, not the peer's)
      if (this._pieces?.length) this._active = now;
      else if (!this.sock.closed && this._fill(undefined)) this._wakePullers();
    }
    const x = this._x;
    if (this.sock.closed || this._f & (CLOSE_SENT | EOF) || x?.failure || this.closeCode !== undefined) {
      this._f &= ~WATCHED;
      return false; // closing: the closing handshake has its own bound
    }
    const pingAt = x?.pingAt;
    if (pingAt !== undefined && now - pingAt >= this.pongTimeout) {
      this._dead();
      return false;
    }
    const quiet = now - this._active;
    if (this.idleTimeout > 0 && quiet >= this.idleTimeout) {
      const why = `nothing received or sent for ${this.idleTimeout} ms (idleTimeout)`;
      this._fail(new WebSocketError("idletimeout", CLOSE_GOING_AWAY, why));
      this._sendClose(CLOSE_GOING_AWAY, "idle");
      this._x!.closing = this._finish(false);
      return false;
    }
    if (this.pingInterval > 0 && pingAt === undefined && quiet >= this.pingInterval) {
      (this._x ??= {}).pingAt = now;
      this._sendFrame(encodePing(EMPTY, this._mask())).catch(noop);
    }
    return true;
  }

  /** The peer did not answer a keepalive ping: it is gone. Abort; reads fail with 1006. */
  _dead(): void {
    this._unwatch();
    const why = `no answer to a keepalive ping within ${this.pongTimeout} ms (pongTimeout)`;
    this._fail(new WebSocketError("pongtimeout", CLOSE_ABNORMAL, why));
    this._f |= CLOSE_SENT | CLOSE_OUT;
    this._x!.closing = Promise.resolve();
    this.sock.abort();
    this._enter(CLOSED);
  }

  _unwatch(): void {
    if (!(this._f & WATCHED)) return;
    this._f &= ~WATCHED;
    this.sock.rt.watchdog.unwatch(this);
  }
}
