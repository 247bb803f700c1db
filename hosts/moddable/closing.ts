/**
 * Closing a Moddable socket: `closeQuietly`, and the half-close emulation that the TCP and TLS
 * wrappers (tcp.ts, tls.ts) share. Moddable's sockets have no shutdown, only close; so `end()`
 * takes what the platform socket still holds (lwIP answers a close with unread data by RST, and
 * the runtime may still want those bytes), closes it, hands the taken bytes out through `read()`
 * and reports end-of-stream once they were read.
 *
 * `HalfClosing` is the base class of both wrappers (one per connection on the device): its fields
 * are theirs, not extra ones, and its methods are on the prototype (docs/contributing.md).
 */
import type { TCPCallbacks } from "../../src/host.js";

// flag bits both wrappers use (each adds its own above WRITE_DEAD)
/** `end()` was called: no more writes; the platform socket is closed. */
export const ENDED = 2;
/** `close()` was called: no callback any more. */
export const CLOSED = 4;
/** onEnd or onError was delivered (or is on its way). */
export const FINISHED = 8;
/** The platform will not accept writes any more (peer closed, reset, or failed). */
export const WRITE_DEAD = 16;

const EMPTY = new Uint8Array(0);

/** Closes a platform object; one that failed or closed already throws, which changes nothing. */
export function closeQuietly(platformObject: { close(): void } | undefined): void {
  if (platformObject)
    try {
      platformObject.close();
    } catch {
      /* already closed */
    }
}

/**
 * Takes what the platform socket still holds (when `read`), so that closing does not reset the
 * connection, then closes the socket. Returns the bytes taken, if any.
 */
export function takeAndClose(socket: { read(): ArrayBuffer | undefined; close(): void }, read: boolean): Uint8Array | undefined {
  let rest: ArrayBuffer | undefined;
  if (read)
    try {
      rest = socket.read();
    } catch {
      rest = undefined;
    }
  closeQuietly(socket);
  return rest && rest.byteLength > 0 ? new Uint8Array(rest) : undefined;
}

export abstract class HalfClosing {
  /** The owner's callbacks and their `this`. */
  protected cb: TCPCallbacks;
  protected readonly defer: (fn: () => void) => void;
  /** Unread bytes in the platform socket, as last reported (minus what was read since). */
  protected available = 0;
  /** Bytes taken out of the platform socket by `end()`, still to be read. */
  protected held: Uint8Array | undefined = undefined;
  protected flags = 0;

  constructor(callbacks: TCPCallbacks, defer: (fn: () => void) => void) {
    this.cb = callbacks;
    this.defer = defer;
  }

  /**
   * `read()` from the platform object: up to `max` of the bytes it announced (asking it for more
   * than it holds throws), `undefined` when it has none.
   */
  protected readAvailable(source: { read(count: number): ArrayBuffer | undefined }, max: number | undefined): Uint8Array | undefined {
    let n = this.available;
    if (n <= 0) return undefined;
    if (max !== undefined && max < n) n = Math.floor(max);
    if (n <= 0) return EMPTY;
    const data = source.read(n);
    if (data === undefined) {
      this.available = 0;
      return undefined;
    }
    this.available -= data.byteLength;
    return new Uint8Array(data);
  }

  /** `read()` after `end()` took bytes: up to `max` of them; end-of-stream follows the last. */
  protected readHeld(held: Uint8Array, max: number | undefined): Uint8Array {
    if (max !== undefined && max < held.length) {
      const n = max > 0 ? Math.floor(max) : 0;
      this.held = held.subarray(n);
      return held.subarray(0, n);
    }
    this.held = undefined;
    this.endSoon();
    return held;
  }

  /**
   * `end()`'s half-close: takes the platform socket's unread bytes (when `read`) and closes it;
   * the bytes are announced to a reader that may be waiting for them, or, with none, end-of-stream.
   */
  protected closeHolding(socket: { read(): ArrayBuffer | undefined; close(): void }, read: boolean): void {
    this.held = takeAndClose(socket, read);
    this.available = 0;
    if (!this.held) this.endSoon();
    else
      this.defer(() => {
        // A reader may be waiting for bytes the platform had not announced yet.
        if (!(this.flags & CLOSED) && this.held) this.cb.onReadable?.call(this.cb.target, this.held.length);
      });
  }

  /** End-of-stream, from a timer (never synchronously), unless delivered already. */
  protected endSoon(): void {
    if (this.flags & FINISHED) return;
    this.flags |= FINISHED;
    this.defer(() => {
      if (!(this.flags & CLOSED)) this.cb.onEnd?.call(this.cb.target);
    });
  }
}
