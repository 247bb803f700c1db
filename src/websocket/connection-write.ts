/**
 * Writing a WebSocket: `write` (a message, fragmented over `maxFrame`, under the socket's flow
 * control), `trywrite`, `ping`, and the pong that answers a peer's ping.
 */
import { SocketError } from "../errors.js";
import { toBytes, type Payload } from "../bytes.js";
import { encodeFrame, encodeFrameBytes, encodePing, encodePong, fragment, frameBytes, type EncodedFrame } from "./frame-writer.js";
import { OP_BINARY, OP_TEXT } from "./opcodes.js";
import { CLOSE_NO_STATUS } from "./close.js";
import { RESOLVED_TRUE } from "../waiter.js";
import { CLOSE_SENT, EOF, PONG_BUSY, WATCHED, WebSocketError } from "./connection-base.js";
import { WebSocketReading } from "./connection-read.js";

/** Frames with payloads up to this size are joined with their header into one write. */
const JOIN_LIMIT = 4096;

export abstract class WebSocketWriting extends WebSocketReading {
  /**
   * Sends a message: text when `isText` (strings default to text), else binary. A message over
   * `maxFrame` is fragmented. Suspends under the socket's flow control.
   */
  write(data: Payload, isText: boolean = typeof data === "string"): Promise<true> {
    if (this._f & CLOSE_SENT || this._x?.failure) return Promise.reject(this._closedError());
    if (this._f & WATCHED) this._active = this.sock.rt.host.now();
    const bytes = toBytes(data);
    if (bytes.length <= this.maxFrame) {
      // one frame: header and payload go into the queue together, nothing can come between
      const opcode = isText ? OP_TEXT : OP_BINARY;
      if (bytes.length <= JOIN_LIMIT) return this.sock.write(encodeFrameBytes(opcode, true, bytes, this._mask()));
      return this._sendFrame(encodeFrame({ opcode, payload: bytes, mask: this._mask() }));
    }
    // several frames: no other message may interleave (control frames may)
    const x = (this._x ??= {});
    const done = (x.writeLock ?? Promise.resolve()).then(async () => {
      for (const spec of fragment(bytes, isText, this.maxFrame)) {
        spec.mask = this._mask();
        await this._sendFrame(encodeFrame(spec));
      }
      return true as const;
    });
    x.writeLock = done.catch(() => undefined);
    return done;
  }

  /**
   * Sends a message without ever suspending: true when queued, or the socket's queued byte count
   * when its queue is full (nothing is taken). The message's frames go into the queue together
   * (joined: one copy), so nothing can come between them.
   */
  trywrite(data: Payload, isText: boolean = typeof data === "string"): true | number {
    if (this._f & CLOSE_SENT || this._x?.failure) throw this._closedError();
    const sock = this.sock;
    if (sock.queued > 0 && sock.queued >= sock.queuelen()) return sock.queued;
    if (this._f & WATCHED) this._active = sock.rt.host.now();
    const bytes = toBytes(data);
    const frames: Uint8Array[] = [];
    let total = 0;
    for (const spec of fragment(bytes, isText, this.maxFrame)) {
      const f = encodeFrame({ ...spec, mask: this._mask() });
      frames.push(f.header, f.payload);
      total += f.header.length + f.payload.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    return sock.trywrite(all);
  }

  /**
   * Sends a ping; resolves when a pong comes back, throws `timeout` after `timeout` ms. While it
   * waits it reads on behalf of the connection, so the caller may be the only reader (data
   * that arrives meanwhile stays queued for `read`).
   */
  async ping(data: Payload = new Uint8Array(0), timeout = this.closeTimeout): Promise<void> {
    let ponged = false;
    const onPong = () => (ponged = true);
    ((this._x ??= {}).pongWaiters ??= []).push(onPong);
    try {
      await this._sendFrame(encodePing(toBytes(data), this._mask()));
      const end = this.sock.rt.host.now() + timeout;
      while (!ponged) {
        const failure = this._x?.failure;
        if (failure) throw failure;
        if (this.closeCode !== undefined || this._f & EOF) throw new SocketError("socketclosed", "closed before the pong");
        const left = end - this.sock.rt.host.now();
        if (left <= 0) throw new SocketError("timeout", "no pong");
        await this._pull(left);
      }
    } finally {
      const waiters = this._x?.pongWaiters;
      const i = waiters ? waiters.indexOf(onPong) : -1;
      if (i >= 0) waiters!.splice(i, 1);
    }
  }

  /** Why a write cannot go out: the failure, or the close frame that was sent. */
  _closedError(): WebSocketError {
    const x = this._x;
    if (x?.failure) return x.failure;
    // RFC 6455 §5.5.1: after sending a close frame, an endpoint sends no more data
    const code = this.closeCode ?? x?.sentCode ?? CLOSE_NO_STATUS;
    return new WebSocketError("closed", code, "the WebSocket is closing", "socketwritefailed");
  }

  _sendFrame(frame: EncodedFrame): Promise<true> {
    const { header, payload } = frame;
    // A small frame goes out as one write (one host write, one TCP segment): joining costs less
    // than a second write. A masked frame is already one buffer; a large payload is not copied.
    if (payload.length <= JOIN_LIMIT || (header.buffer === payload.buffer && header.byteOffset + header.length === payload.byteOffset))
      return this.sock.write(frameBytes(frame));
    return this.sock.writeParts(header, payload); // one writer: nothing comes between them
  }

  /**
   * Answers a ping. One pong at a time is on its way out: pings that arrive meanwhile only
   * replace the payload waiting to be answered (RFC 6455 5.5.3 allows answering the most recent
   * ping only), so a peer that pings and never reads costs one pong, not one per ping.
   */
  _pong(payload: Uint8Array): void {
    if (this._f & CLOSE_SENT || this.sock.closed) return;
    if (this._f & PONG_BUSY) {
      (this._x ??= {}).pong = payload;
      return;
    }
    const p = this._sendFrame(encodePong(payload, this._mask()));
    if (p === RESOLVED_TRUE) return; // accepted at once (sent, or queued below suspendAt)
    this._f |= PONG_BUSY;
    const sent = () => {
      this._f &= ~PONG_BUSY;
      const x = this._x;
      const next = x?.pong;
      if (next) {
        x!.pong = undefined;
        this._pong(next);
      }
    };
    p.then(sent, sent);
  }
}
