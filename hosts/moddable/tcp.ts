/**
 * The seam's TCP socket over Moddable's `embedded:io/socket/tcp` (lwIP).
 *
 * How the platform's behaviour maps to the seam (src/host.ts):
 * - Reading: the platform reports the unread total in `onReadable(count)`; the host keeps that
 *   count and reads at most that many bytes (`read(count)` throws beyond what is available).
 * - Writing: never more than the writable count (the platform throws "would block"). After the
 *   platform has seen the peer's FIN or a reset it refuses writes ("not ready") or silently drops
 *   them (returns undefined); both become a thrown error here, so the runtime reports
 *   `socketwritefailed` and no byte is lost silently.
 * - End of stream: lwIP reports the peer's orderly close through `onError()`, after every unread
 *   byte was read, and a reset the same way; neither carries a reason. Once connected, `onError()`
 *   is passed on as `onEnd()`: a clean close reads as end-of-stream (never an error). A reset reads
 *   as end-of-stream too (the platform cannot tell them apart); writes after it fail.
 * - Half-close (closing.ts, shared with tls.ts): the platform has none (no shutdown, only close).
 *   `end()` therefore pulls every byte already received into the host, then closes the platform
 *   socket (lwIP sends what is queued, then FIN). The runtime can still read those bytes, then sees end-of-stream; whatever
 *   the peer sends after `end()` cannot be received (lwIP answers it with a reset).
 * - The platform socket's remote address is read once, while it is valid (reading it after a
 *   failure faults on lwIP). It has no local address: `local` is known only for accepted
 *   connections (the listener's port).
 * Callbacks to the runtime come from platform callbacks or from a timer, never from inside the
 * method that caused them.
 *
 * Memory (XS gives every field, and every `#private` method, a slot in each instance, and every
 * closure costs ~200 bytes): plain fields only, booleans in one `flags` number, methods on the
 * prototype (TypeScript `private`), and the platform callbacks are three functions shared by every
 * socket, reaching their wrapper through ECMA-419's `target` (the platform calls them with `this`
 * = the platform socket, whose `target` property is the `target` option).
 */
import type { Endpoint, PendingConnection, TCP, TCPCallbacks } from "../../src/host.js";
import type { PlatformTCP, PlatformTCPFactory } from "./platform.js";
import { CLOSED, ENDED, FINISHED, HalfClosing, WRITE_DEAD, closeQuietly } from "./closing.js";

/** A connection accepted by a listener, not yet adopted: the platform socket and the local endpoint. */
export interface ModdablePending extends PendingConnection {
  readonly socket: PlatformTCP;
  readonly local: Endpoint;
  adopted: boolean;
}

export function pending(socket: PlatformTCP, local: Endpoint): ModdablePending {
  return { __pending: true, socket, local, adopted: false };
}

// flags (ENDED, CLOSED, FINISHED, WRITE_DEAD: closing.ts)
const CONNECTED = 1;
/** The callbacks were handed to a new owner (`takeOver`). */
const TAKEN = 32;

/** What the platform calls, with `this` = the platform socket (its `target`: the wrapper). */
type Reached = { target: ModdableTCP };
function platformReadable(this: Reached, count: number): void {
  this.target.readable(count);
}
function platformWritable(this: Reached, count: number): void {
  this.target.writable(count);
}
function platformError(this: Reached): void {
  this.target.failed();
}

/**
 * Per connection on the device: follows the XS memory rules (docs/contributing.md).
 * The half-close emulation and the fields it uses (cb, defer, available, held, flags) are in closing.ts.
 */
export class ModdableTCP extends HalfClosing implements TCP {
  private socket: PlatformTCP | undefined;
  private canWrite = 0;
  private remoteEnd: Endpoint | undefined;
  private readonly localEnd: Endpoint | undefined;

  constructor(
    platform: PlatformTCPFactory,
    options: { address: string; port: number; nodelay?: boolean } | { from: ModdablePending; nodelay?: boolean },
    callbacks: TCPCallbacks,
    defer: (fn: () => void) => void,
  ) {
    super(callbacks, defer);
    if ("from" in options) {
      const from = options.from;
      if (from.adopted) throw new Error("not a pending connection (or adopted already)");
      from.adopted = true;
      this.localEnd = from.local;
      try {
        this.remoteEnd = { address: String(from.socket.remoteAddress), port: Number(from.socket.remotePort) };
      } catch {
        /* it failed already: onError follows */
      }
      // The accepted socket becomes a new one with callbacks; its first onWritable follows.
      this.socket = platform({
        from: from.socket,
        nodelay: options.nodelay,
        target: this,
        onReadable: platformReadable,
        onWritable: platformWritable,
        onError: platformError,
      });
      this.flags = CONNECTED;
      return;
    }
    this.localEnd = undefined;
    this.remoteEnd = { address: options.address, port: options.port };
    try {
      this.socket = platform({
        address: options.address,
        port: options.port,
        nodelay: options.nodelay,
        target: this,
        onReadable: platformReadable,
        onWritable: platformWritable,
        onError: platformError,
      });
    } catch {
      // "invalid address", "no socket" (every lwIP PCB in use), "connect error": a failed connect.
      this.socket = undefined;
      this.flags = FINISHED;
      defer(() => {
        if (!(this.flags & CLOSED)) this.cb.onError?.call(this.cb.target, "error");
      });
    }
  }

  read(max?: number): Uint8Array | undefined {
    const held = this.held;
    if (held) return this.readHeld(held, max);
    const socket = this.socket;
    if (!socket || this.flags & CLOSED) return undefined;
    return this.readAvailable(socket, max);
  }

  write(data: Uint8Array): number {
    const f = this.flags;
    if (f & (CLOSED | ENDED)) throw new Error("closed");
    const socket = this.socket;
    if (!socket || !(f & CONNECTED)) throw new Error("not connected");
    if (f & WRITE_DEAD) throw new Error("the connection was closed by the peer or lost");
    const n = data.byteLength;
    if (n > this.canWrite) throw new RangeError(`would block: ${n} bytes, ${this.canWrite} writable`);
    if (n === 0) return this.canWrite;
    let left: number | undefined;
    try {
      left = socket.write(data);
    } catch (e) {
      this.flags |= WRITE_DEAD;
      throw e;
    }
    if (typeof left !== "number") {
      // lwIP returns nothing (and sends nothing) once the connection has failed.
      this.flags |= WRITE_DEAD;
      throw new Error("the connection failed");
    }
    this.canWrite = left;
    return left;
  }

  end(): void {
    if (this.flags & (CLOSED | ENDED)) return;
    this.flags |= ENDED;
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    this.closeHolding(socket, this.available > 0 || !(this.flags & FINISHED));
  }

  close(): void {
    if (this.flags & CLOSED) return;
    this.flags |= CLOSED;
    this.held = undefined;
    const socket = this.socket;
    this.socket = undefined;
    closeQuietly(socket);
  }

  /** The platform sets nodelay only when a socket is created, and has no keepalive. */
  setOption(_name: "nodelay" | "keepalive", _on: boolean): boolean {
    return false;
  }

  get remote(): Endpoint | undefined {
    return this.remoteEnd;
  }

  get local(): Endpoint | undefined {
    return this.localEnd;
  }

  /**
   * Hands the connection to a new owner (the TLS layer): from now on only `callbacks` are called.
   * Unread bytes stay in the platform socket. Throws if it was handed over, ended or closed.
   */
  takeOver(callbacks: TCPCallbacks): void {
    if (this.flags & (TAKEN | CLOSED | ENDED)) throw new Error("this TCP socket cannot be handed over (taken, ended or closed)");
    this.flags |= TAKEN;
    this.cb = callbacks;
  }

  /** The free send buffer last reported. */
  get writableCount(): number {
    return this.flags & CONNECTED && !(this.flags & (WRITE_DEAD | ENDED | CLOSED)) ? this.canWrite : 0;
  }

  /** Unread bytes in the platform socket. */
  get readableCount(): number {
    return this.held ? this.held.length : this.available;
  }

  // ---------------------------------------------------------------- platform callbacks

  /** @internal onReadable from the platform. */
  readable(count: number): void {
    if (this.flags & (CLOSED | ENDED)) return;
    this.available = count;
    this.cb.onReadable?.call(this.cb.target, count);
  }

  /** @internal onWritable from the platform. */
  writable(count: number): void {
    if (this.flags & (CLOSED | ENDED)) return;
    this.canWrite = count;
    this.flags |= CONNECTED;
    if (this.remoteEnd === undefined) this.readRemote();
    this.cb.onWritable?.call(this.cb.target, count);
  }

  /** @internal onError from the platform. */
  failed(): void {
    const f = this.flags;
    if (f & (CLOSED | ENDED | FINISHED)) return;
    this.flags = f | FINISHED | WRITE_DEAD;
    this.available = 0;
    if (!(f & CONNECTED)) {
      this.socket = undefined;
      this.cb.onError?.call(this.cb.target, "error"); // lwIP does not say whether it was refused, unreachable or timed out
      return;
    }
    this.cb.onEnd?.call(this.cb.target);
  }

  private readRemote(): void {
    const s = this.socket;
    if (!s) return;
    try {
      this.remoteEnd = { address: String(s.remoteAddress), port: Number(s.remotePort) };
    } catch {
      /* keep what we had */
    }
  }
}
