/**
 * A WebSocket connection over a runtime `Socket`: the codec (frame parser and writer) joined to
 * the socket's reads and its flow-controlled writes. Reads deliver data as it trickles in, like
 * the seed (example 15); `readFrame` and `readMessage` assemble. Pings are answered; exactly one
 * close frame is sent per connection; after a protocol error the close frame with its code is
 * sent, then the connection is half-closed and drained. The class is built in layers, one
 * concern per `connection-*.ts` file, every method on a prototype:
 *
 * | file | what |
 * |---|---|
 * | connection-base.ts | the fields, flags, options, `readyState`, `WebSocketError`, the parser's sink |
 * | connection-read.ts | `read`, `readFrame`, `readMessage`; the socket read they share |
 * | connection-write.ts | `write`, `trywrite`, `ping`; answering pings |
 * | connection-close.ts | `close`, the peer's close frame, protocol errors, the end of the handshake |
 * | connection-keepalive.ts | `idleTimeout`, keepalive pings, `pongTimeout` |
 * | connection.ts | the coroutine (`event`), information |
 */
import type { CoMode } from "../socket/socket.js";
import { CLOSED, CLOSING, CONNECTING, OPEN } from "./codes.js";
import { CLOSE_SENT, noop } from "./connection-base.js";
import { WebSocketKeepalive } from "./connection-keepalive.js";

export { WebSocketError, type WebSocketOptions } from "./connection-base.js";

/** A connection: per connection on the device, so it follows the XS memory rules (docs/contributing.md). */
export class WebSocket extends WebSocketKeepalive {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  /**
   * Runs `fn(ws, ...args)` as the connection's coroutine ("s" cosocket by default for a
   * WebSocket). When it returns, the close handshake is done (1000) if nobody closed yet.
   */
  event<A extends unknown[]>(fn: (ws: WebSocket, ...args: A) => unknown, mode: CoMode = "s", ...args: A): this {
    // The socket runs the coroutine for this WebSocket and calls coroutineEnded() at its end: one
    // reaction on fn's promise in all (a wrapper would cost a closure and a second reaction).
    this.sock.eventFor(this, fn as (ws: WebSocket, ...args: unknown[]) => unknown, mode, args);
    return this;
  }

  /** @internal The coroutine started by `event` ended: the close handshake (1000) unless closed already. */
  coroutineEnded(): void {
    this.close().then(noop, noop);
  }

  /** The peer's close frame arrived or ours was sent. */
  get closing(): boolean {
    return (this._f & CLOSE_SENT) !== 0 || this.closeCode !== undefined;
  }

  get closed(): boolean {
    return this.sock.closed;
  }

  peername() {
    return this.sock.peername();
  }

  sockname() {
    return this.sock.sockname();
  }

  state() {
    return this.sock.state();
  }
}
