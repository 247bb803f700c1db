/**
 * Writing, by the cosocket flow-control rules (write-queue.ts, docs/api.md): `write()` suspends
 * the caller while its socket's queue is too full, bytes leave in FIFO order; `trywrite()` never
 * suspends and reports a full queue with the queued byte count. A TLS session in its STARTTLS
 * drain holds new bytes back until its handshake completed (`TlsPhase.holds`).
 */
import { SocketError } from "../errors.js";
import { toBytes, type Payload } from "../bytes.js";
import { RESOLVED_TRUE, Waiter } from "../waiter.js";
import { WriteQueue } from "../write-queue.js";
import { FAILURE, MODE_S, SHUTDOWN } from "./base.js";
import { FAIL, SocketClosing } from "./close.js";

export abstract class SocketWriting extends SocketClosing {
  /**
   * Sends `data` (strings as UTF-8), suspending the caller while the socket cannot take it:
   * on a cosocket ("s") once the queue holds more than `suspendAt` bytes, otherwise until the
   * caller's bytes have been handed to the host. Resolves true when accepted. Throws
   * `socketclosed` / `socketwritefailed`, or `busy` (nothing taken) when the write would suspend
   * while `maxWriters` writers are suspended on this socket already.
   */
  write(data: Payload): Promise<true> {
    let bytes: Uint8Array;
    try {
      bytes = toBytes(data);
    } catch (e) {
      return Promise.reject(e); // a bad argument: a rejection, never a throw
    }
    return this._write(undefined, bytes, typeof data !== "string");
  }

  /**
   * @internal `head` then `body`, back to back as one writer: nothing written meanwhile comes
   * between them and neither is copied (a WebSocket frame's header and its large payload). The
   * caller must not change either until the promise resolves.
   */
  writeParts(head: Uint8Array, body: Uint8Array): Promise<true> {
    return this._write(head, body, false);
  }

  /**
   * The write path. A writer that would suspend while `maxWriters` writers are suspended on this
   * socket already is refused with `busy` (nothing is taken): no code path can pile up an
   * unbounded number of suspended writers, and with them their bytes, on one socket.
   */
  _write(head: Uint8Array | undefined, bytes: Uint8Array, copy: boolean): Promise<true> {
    const err = this._writeError();
    if (err) return Promise.reject(err);
    const limit = this._has(MODE_S) ? this.rt.options.suspendAt : 0;
    const q0 = this._wq;
    if (q0 && q0.writers >= this.rt.options.maxWriters && q0.bytes + (head?.length ?? 0) + bytes.length > limit)
      return Promise.reject(new SocketError("busy", `${q0.writers} writers are suspended on this socket (maxWriters)`));
    let rest: Uint8Array | undefined;
    try {
      if (head) {
        const h = this._wq ? head : this._sendDirect(head);
        if (h) (this._wq ??= new WriteQueue()).push(h, null);
      }
      rest = this._wq ? bytes : this._sendDirect(bytes);
    } catch (e) {
      return Promise.reject(e); // a refused host write: a rejection, never a throw
    }
    if (!rest) return RESOLVED_TRUE;
    const q = (this._wq ??= new WriteQueue());
    if (q.bytes + rest.length <= limit) {
      q.push(copy ? rest.slice() : rest, null);
      return RESOLVED_TRUE;
    }
    const w = new Waiter<true>();
    q.push(rest, w);
    return w.promise;
  }

  /**
   * Sends `data` without ever suspending: true if accepted (sent or queued), or, when the queue
   * already holds `queuelen` bytes or more, the number of bytes queued (nothing is taken).
   * Throws `socketclosed` / `socketwritefailed`.
   */
  trywrite(data: Payload): true | number {
    const err = this._writeError();
    if (err) throw err;
    const queued = this._wq?.bytes ?? 0;
    if (queued >= this._queuelen && queued > 0) return queued;
    const bytes = toBytes(data);
    const rest = this._wq ? bytes : this._sendDirect(bytes);
    if (rest) (this._wq ??= new WriteQueue()).push(typeof data === "string" ? rest : rest.slice(), null);
    return true;
  }

  /** Writes what the host takes now; returns what is left, or undefined if all was sent. */
  _sendDirect(bytes: Uint8Array): Uint8Array | undefined {
    const tcp = this._tcp;
    if (!tcp || !this._connected || this._tls?.holds()) return bytes.length ? bytes : undefined;
    let off = 0;
    try {
      while (off < bytes.length && this._writable > 0) {
        const n = Math.min(bytes.length - off, this._writable, this._maxWrite);
        this._writable = tcp.write(n === bytes.length ? bytes : bytes.subarray(off, off + n));
        off += n;
      }
      if (off > 0) this._sent(off);
    } catch (e) {
      this._end(FAIL);
      throw new SocketError("socketwritefailed", String((e as Error)?.message ?? e));
    }
    return off === bytes.length ? undefined : off === 0 ? bytes : bytes.subarray(off);
  }

  _writeError(): SocketError | undefined {
    if (this._closed) return new SocketError("socketclosed");
    const failure = this._failure;
    if (failure) return this._tls?.error ?? new SocketError("socketwritefailed", FAILURE[failure]);
    if (this._has(SHUTDOWN)) return new SocketError("socketwritefailed", "the socket was shut down for writing");
    if (this._kind !== "tcp") return new SocketError("incorrectuse", "write on a socket that is not connected");
    return undefined;
  }

  /**
   * Hands `q` to the host while it is writable (the send queue, or a TLS session's plaintext
   * written before STARTTLS). False when the host refused: the socket has failed.
   */
  _flushQueue(q: WriteQueue): boolean {
    const tcp = this._tcp;
    if (!tcp || this._writable <= 0) return true;
    const before = q.bytes;
    try {
      this._writable = q.flush(tcp, this._writable, this._maxWrite);
    } catch {
      this._end(FAIL);
      return false;
    }
    this._sent(before - q.bytes);
    return true;
  }

  /** Moves queued bytes out (the dispatcher's service); false when the socket failed doing so. */
  _flush(): boolean {
    const q = this._wq;
    if (!q || !this._tcp || this._writable <= 0 || !this._connected || this._tls?.holds()) return true;
    if (!this._flushQueue(q)) return false;
    if (q.empty) this._wq = undefined;
    this._endIfDrained();
    return true;
  }

  /** The queue limit for non-suspending writers; sets it when `max` is given; returns the previous one. */
  queuelen(max?: number): number {
    const prev = this._queuelen;
    if (max !== undefined) {
      if (!(max >= 0)) throw new SocketError("incorrectuse", "queuelen must be >= 0");
      this._extra().queuelen = max;
    }
    return prev;
  }

  /** Most bytes per host write (the seed's send chunk size); returns the previous value. */
  maxsize(n?: number): number {
    const prev = this._maxWrite;
    if (n !== undefined) {
      if (!(n >= 1)) throw new SocketError("incorrectuse", "maxsize must be >= 1");
      this._extra().maxWrite = Math.floor(n);
    }
    return prev;
  }

  /** Bytes waiting in this socket's send queue. */
  get queued(): number {
    return this._wq?.bytes ?? 0;
  }

  /** Writers suspended on this socket. */
  get suspendedWriters(): number {
    return this._wq?.writers ?? 0;
  }
}
