/**
 * Reading a WebSocket: `read` (pieces as they arrive), `readFrame`, `readMessage`, and the one
 * socket read they share with `ping` and the closing handshake. What a socket read brings goes
 * through the frame parser; a ping, the peer's close frame and a protocol error are handed to the
 * layers above (`_pong`, `_answerClose`, `_protocolError`) once the parser has returned.
 *
 * No async functions and no promise per chunk: the socket hands each chunk to `readDone` (the
 * WebSocket is its `ReadConsumer`), and a waiting reader costs one promise and its resolve
 * function. (On 32-bit XS an `async` function suspended in `await` costs about 1 KB, a `then`
 * about 400 B plus its functions.)
 */
import { SocketError } from "../errors.js";
import type { ReadOutcome } from "../socket/socket.js";
import type { FramePiece } from "./frame-parser.js";
import { FrameAssembler, MessageAssembler, type Frame } from "./assemble.js";
import { CLOSE_ABNORMAL } from "./close.js";
import {
  CLOSE_SENT,
  EOF,
  FRAME,
  INFLIGHT,
  MESSAGE,
  PIECE,
  WANT_BITS,
  WANT_SHIFT,
  WATCHED,
  WebSocketBase,
  WebSocketError,
  type Message,
  type ReadResult,
  type Want,
} from "./connection-base.js";

/** A read that has no result yet: a socket read is in flight. */
const WAIT = 0;

export abstract class WebSocketReading extends WebSocketBase {
  /**
   * The next piece of a data frame as it arrives: `{ data, isText, fin, bytesRead, frameLen }`
   * (a frame is complete when `bytesRead === frameLen`; a message when also `fin`). Null after
   * the peer's close frame (see `closeCode`). Throws `timeout` (the connection stays usable) or a
   * `WebSocketError` after a protocol error or a dropped connection.
   */
  read(timeout?: number): Promise<FramePiece | null> {
    return this._next(PIECE, timeout) as Promise<FramePiece | null>;
  }

  /**
   * The loop of `read`, `readFrame` and `readMessage`: takes the pieces the parser delivered and
   * hands each to `what` until it makes a result; with none left, waits for the socket. Each
   * wait gets the whole `timeout`, counted from the last piece taken.
   */
  _next(what: Want, timeout: number | undefined): Promise<ReadResult | null> {
    if (this._resume) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this WebSocket"));
    this._f = (this._f & ~WANT_BITS) | (what << WANT_SHIFT);
    this._timeout = timeout;
    this._deadline = timeout === undefined ? undefined : this.sock.rt.host.now() + timeout;
    let r: ReadResult | null | typeof WAIT;
    try {
      r = this._step();
    } catch (e) {
      return Promise.reject(e);
    }
    if (r !== WAIT) return Promise.resolve(r);
    return new Promise<ReadResult | null>((resolve) => (this._resume = resolve));
  }

  /** Makes progress on the waiting read: its result, or WAIT (a socket read is in flight). */
  _step(): ReadResult | null | typeof WAIT {
    for (;;) {
      const p = this._pieces?.shift();
      if (p) {
        const r = this._take(((this._f & WANT_BITS) >> WANT_SHIFT) as Want, p);
        if (r !== undefined) return r;
        if (this._timeout !== undefined) this._deadline = this.sock.rt.host.now() + this._timeout;
        continue;
      }
      const failure = this._x?.failure;
      if (failure) throw failure;
      if (this.closeCode !== undefined || this._f & EOF) return null;
      const left = this._deadline === undefined ? undefined : this._deadline - this.sock.rt.host.now();
      if (left !== undefined && left <= 0) throw new SocketError("timeout");
      if (!this._fill(left)) return WAIT;
    }
  }

  /** A piece for `read`, or the frame or message it completes (undefined: not yet). */
  _take(what: Want, p: FramePiece): ReadResult | undefined {
    if (what === PIECE) return p;
    if (what === FRAME) return ((this._x ??= {}).frames ??= new FrameAssembler()).push(p);
    const r = (this._messages ??= new MessageAssembler(this.maxMessage)).push(p);
    if (!r) return undefined;
    if (r.ok) return { data: r.data, isText: r.isText };
    this._protocolError(r.wsCode, r.code, r.reason);
    throw this._x!.failure!;
  }

  /**
   * Reads from the socket into the parser: true if something was read now, false if a read is
   * in flight (its outcome comes to `readDone`). One socket read at a time, shared by the user's
   * read, `ping` and the closing handshake.
   */
  _fill(timeout: number | undefined): boolean {
    if (this._f & INFLIGHT) return false;
    const outcome = this.sock.readInto(this, timeout);
    if (outcome === undefined) {
      this._f |= INFLIGHT;
      return false;
    }
    this._absorb(outcome);
    return true;
  }

  /** @internal The socket read's outcome (`ReadConsumer`). */
  readDone(outcome: ReadOutcome): void {
    this._f &= ~INFLIGHT;
    this._absorb(outcome);
    this._wakePullers();
    const resume = this._resume;
    if (!resume) return;
    let r: ReadResult | null | typeof WAIT;
    try {
      r = this._step();
    } catch (e) {
      this._resume = undefined;
      resume(Promise.reject(e));
      return;
    }
    if (r === WAIT) return;
    this._resume = undefined;
    resume(r);
  }

  /** Takes in what one socket read gave. */
  _absorb(outcome: ReadOutcome): void {
    if (outcome === null) {
      this._f |= EOF;
      if (this.closeCode === undefined && !(this._f & CLOSE_SENT))
        this._fail(new WebSocketError("abnormalclosure", CLOSE_ABNORMAL, "connection closed without a close frame"));
      return;
    }
    if (outcome instanceof SocketError) {
      if (outcome.code === "timeout") return; // the waiting reader's deadline decides
      if (outcome.code === "socketclosed" && this._f & CLOSE_SENT) {
        this._f |= EOF;
        return;
      }
      this._fail(new WebSocketError("abnormalclosure", CLOSE_ABNORMAL, `connection failed (${outcome.message})`));
      return;
    }
    if (this._f & WATCHED) {
      this._active = this.sock.rt.host.now();
      const x = this._x;
      if (x?.pingAt !== undefined) x.pingAt = undefined; // anything from the peer answers a keepalive ping
    }
    const parser = this._parser;
    if (parser.done) return;
    parser.push(outcome);
    // what the parser reported that needs an answer (see #Sink)
    const x = this._x;
    const pings = x?.pings;
    if (pings) {
      x!.pings = undefined;
      for (const p of pings) this._pong(p);
    }
    if (parser.done) {
      const error = parser.error;
      if (error) this._protocolError(error.wsCode, error.code, error.reason);
      else if (this.closeCode !== undefined) this._answerClose(this.closeCode);
    }
  }

  /**
   * Waits for one socket read (for `ping` and the closing handshake, which read on the
   * connection's behalf): resolves after the next outcome, whoever started the read, or after
   * `timeout` ms. The timer is what bounds the wait when a read is already in flight (a
   * `readMessage()` without a timeout has none of its own); the caller checks its deadline and
   * pulls again if time is left (a host's timer may fire before its own clock says the time is up).
   */
  _pull(timeout: number): Promise<void> {
    const p = new Promise<void>((resolve) => ((this._x ??= {}).pullers ??= []).push(resolve));
    if (this._fill(timeout)) this._wakePullers();
    else p.then(this.sock.rt.dispatcher.timer(timeout, () => this._wakePullers()));
    return p;
  }

  _wakePullers(): void {
    const x = this._x;
    const waiting = x?.pullers;
    if (!waiting) return;
    x.pullers = undefined;
    for (const w of waiting) w();
  }

  /** The next whole frame (`{ data, isText, fin, opcode }`), or null after the peer's close. */
  readFrame(timeout?: number): Promise<Frame | null> {
    return this._next(FRAME, timeout) as Promise<Frame | null>;
  }

  /**
   * The next whole message (`{ data, isText }`), at most `maxMessage` bytes; a larger one closes
   * the connection with 1009 and throws. Null after the peer's close.
   */
  readMessage(timeout?: number): Promise<{ data: Uint8Array; isText: boolean } | null> {
    return this._next(MESSAGE, timeout) as Promise<Message | null>;
  }
}
