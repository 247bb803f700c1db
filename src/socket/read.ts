/**
 * Reading: `read()` suspends the caller until data, end-of-stream (null) or an error; `readInto`
 * is the same without a promise for code built on the socket; the line, exact-length and
 * delimiter readers (readers.ts) build on `read()`. A TLS session in its STARTTLS drain keeps the
 * read-ahead bytes for its handshake (`TlsPhase.holds`).
 */
import { SocketError } from "../errors.js";
import { readExactly, readLine, readUntil, type ReadOptions } from "../readers.js";
import { EOF, FAILURE, NOTCON, SocketBase } from "./base.js";
import type { ReadConsumer, ReadOutcome } from "./types.js";
import type { Socket } from "./socket.js";

export abstract class SocketReading extends SocketBase {
  /**
   * The next bytes (at most `maxRead`), or null at the peer's orderly close. With `timeout` (ms) a
   * read that waits too long throws `timeout` and the socket stays usable. On an unconnected
   * socket, `read(ms)` is a sleep that throws `timeout` when it ends.
   */
  read(timeout?: number): Promise<Uint8Array | null> {
    if (this._reader) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this socket"));
    if (this._life === NOTCON) {
      if (timeout === undefined) return Promise.reject(new SocketError("incorrectuse", "read on an unconnected socket needs a timeout"));
      return this.rt.sleep(timeout).then(() => {
        throw new SocketError("timeout");
      });
    }
    if (this._kind === "listen") return Promise.reject(new SocketError("incorrectuse", "read on a listening socket"));
    const now = this._readNow();
    if (now !== undefined) return now instanceof SocketError ? Promise.reject(now) : Promise.resolve(now);
    // A promise and its resolve function, nothing more: this is what an idle connection waits on.
    const p = new Promise<Uint8Array | null>((resolve) => (this._reader = resolve));
    this._readTimeout(timeout);
    return p;
  }

  /**
   * @internal `read()` for code built on the socket (the WebSocket), without a promise: returns
   * the outcome at once when there is one; otherwise returns undefined and later calls
   * `consumer.readDone(outcome)` once (never from inside this call). Errors are returned, not
   * thrown; a `timeout` leaves the socket usable, as for `read()`.
   */
  readInto(consumer: ReadConsumer, timeout?: number): ReadOutcome | undefined {
    if (this._reader) return new SocketError("incorrectuse", "another read is waiting on this socket");
    if (this._kind !== "tcp")
      return this._closed ? new SocketError("socketclosed") : new SocketError("incorrectuse", "readInto needs a connected socket");
    const now = this._readNow();
    if (now !== undefined) return now;
    this._reader = consumer;
    this._readTimeout(timeout);
    return undefined;
  }

  /** What a read gets without waiting: bytes, null (end-of-stream), an error, or undefined (wait). */
  _readNow(): ReadOutcome | undefined {
    return this._take() ?? this._readError();
  }

  _readTimeout(timeout: number | undefined): void {
    if (timeout !== undefined)
      this._extra().readTimer = this.rt.dispatcher.timer(timeout, () => {
        this._x!.readTimer = undefined;
        this._resume(new SocketError("timeout"));
      });
  }

  /** Resumes the waiting reader with bytes, end-of-stream (null) or an error. */
  _resume(outcome: ReadOutcome): void {
    const resume = this._reader;
    if (!resume) return;
    this._reader = undefined;
    const x = this._x;
    if (x?.readTimer) {
      x.readTimer();
      x.readTimer = undefined;
    }
    if (typeof resume === "function") resume(outcome instanceof SocketError ? Promise.reject(outcome) : outcome);
    else resume.readDone(outcome);
  }

  /** Puts bytes back in front of the read buffer; the next read returns them first. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const p = this._pushback;
    if (!p) this._pushback = bytes;
    else {
      const joined = new Uint8Array(bytes.length + p.length);
      joined.set(bytes, 0);
      joined.set(p, bytes.length);
      this._pushback = joined;
    }
  }

  /** A line without its end (LF or CRLF), decoded as UTF-8; null at end-of-stream with nothing read. */
  readLine(options?: ReadOptions): Promise<string | null> {
    return readLine(this as unknown as Socket, { max: this.rt.options.maxLine, ...options });
  }

  /** Exactly `n` bytes; null if the stream ends first (the partial bytes stay readable). */
  readExactly(n: number, options?: ReadOptions): Promise<Uint8Array | null> {
    return readExactly(this as unknown as Socket, n, options);
  }

  /** The bytes before the next `pattern` (which is consumed); null at end-of-stream. */
  readUntil(pattern: Uint8Array | string, options?: ReadOptions): Promise<Uint8Array | null> {
    return readUntil(this as unknown as Socket, pattern, options);
  }

  _take(): Uint8Array | undefined {
    if (this._tls?.holds()) return undefined; // read-ahead bytes belong to the handshake
    const p = this._pushback;
    const max = this.rt.options.maxRead;
    if (p) {
      if (p.length <= max) {
        this._pushback = undefined;
        return p;
      }
      this._pushback = p.subarray(max);
      return p.subarray(0, max);
    }
    if (!this._tcp || this._failure) return undefined;
    const b = this._tcp.read(max);
    if (b) {
      this._in += b.length;
      this.rt.traffic.in += b.length;
    }
    return b;
  }

  /** undefined: nothing to report (wait); null: end-of-stream; else the error to throw. */
  _readError(): SocketError | null | undefined {
    const failure = this._failure;
    if (failure) return this._tls?.error ?? new SocketError("socketreadfailed", FAILURE[failure]);
    if (this._closed) return new SocketError("socketclosed");
    if (this._has(EOF)) return null;
    return undefined;
  }
}
