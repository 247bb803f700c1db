/**
 * The seam's TCP socket over `node:net` (ECMA-419 shape).
 *
 * Reading: every chunk Node delivers is kept as is (one chunk in a field, several in a `ByteQueue`,
 * src/base/) and announced with `onReadable(unread)`; past `recvBuffer` unread bytes the socket
 * is paused (kernel flow control takes over) until `read()` brings it back to `recvBuffer` or less.
 *
 * Writing: writable = max(0, sendBuffer − bytes Node still holds). A write copies the caller's
 * bytes once, into a shared slab (write-slab.ts: no allocation per write), and hands the copy to
 * Node. When a write left the writable count below half of
 * `sendBuffer` (or a write was refused), `onWritable` is called once the count is back at half or
 * more; otherwise writes complete silently.
 *
 * Callbacks are never called from inside the method that caused them; state is updated before a
 * callback runs, so an exception thrown by the runtime's callback propagates with the socket
 * consistent. After `close()` or `onError` nothing is called.
 *
 * Memory: the `net.Socket` listeners are module-level functions shared by every connection; they
 * find their `NodeTCP` through a symbol-keyed property of the socket they are called on (Node
 * calls listeners with the emitter as `this`). Per-connection closures would cost each idle
 * connection a few hundred bytes of heap. The booleans are bits of one number and no queue is kept
 * once everything was read: an idle connection's heap 2.09 KB → 1.90 KB (bench idle-tcp).
 */
import * as net from "node:net";
import type { Endpoint, HostErrorReason, TCP, TCPAdoptOptions, TCPCallbacks, TCPConnectOptions } from "../../src/host.js";
import { ByteQueue } from "../../src/base/byte-queue.js";
import { errorCode, tcpErrorReason } from "./errors.js";
import { takePending } from "./pending.js";
import { copyForWrite } from "./write-slab.js";

export interface TCPLimits {
  /** The writable count of an idle socket. */
  sendBuffer: number;
  /** Unread bytes past which the socket stops reading. */
  recvBuffer: number;
}

/** Opens a connection to a numeric address; `onWritable` reports it connected. */
export function connectTCP(options: TCPConnectOptions, limits: TCPLimits): NodeTCP {
  if (net.isIP(options.address) === 0) throw new Error(`not a numeric IP address: "${options.address}"`);
  const socket = net.connect({
    host: options.address,
    port: options.port,
    allowHalfOpen: true,
    noDelay: options.nodelay === true,
  });
  return new NodeTCP(socket, options, limits, false);
}

/** Wraps a connection accepted by a listener; `onWritable` follows asynchronously. */
export function adoptTCP(options: TCPAdoptOptions, limits: TCPLimits): NodeTCP {
  const socket = takePending(options.from);
  if (options.nodelay !== undefined) socket.setNoDelay(options.nodelay);
  return new NodeTCP(socket, options, limits, true);
}

/** The `NodeTCP` a `net.Socket` belongs to (set while it owns the socket). */
const OWNER = Symbol("cosock.NodeTCP");
type Owned = net.Socket & { [OWNER]?: NodeTCP };
const ownerOf = (socket: net.Socket): NodeTCP | undefined => (socket as Owned)[OWNER];

function onConnect(this: net.Socket): void {
  ownerOf(this)?._connect();
}
function onData(this: net.Socket, chunk: Buffer): void {
  ownerOf(this)?._data(chunk);
}
function onPeerEnd(this: net.Socket): void {
  ownerOf(this)?._peerEnd();
}
function onSocketError(this: net.Socket, error: Error): void {
  ownerOf(this)?._socketError(error);
}
function onClose(this: net.Socket, hadError: boolean): void {
  ownerOf(this)?._close(hadError);
}
function onDrain(this: net.Socket): void {
  ownerOf(this)?._writeDone(undefined);
}
/**
 * libuv on Linux can report a reset as an end of stream: when the RST comes with the last data,
 * it sees the hang-up after a short read and reports EOF without reading the error. After a real
 * FIN the connection still has its peer (CLOSE_WAIT); after a reset it has none (ENOTCONN), so
 * asking for the peer's address tells the two apart — unless we half-closed first (then the
 * connection is closed either way). Without a TCP handle (a test double): false.
 */
function endWasReset(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle?: { getpeername?(out: object): number } | null })._handle;
  return typeof handle?.getpeername === "function" && handle.getpeername({}) !== 0;
}

// bits of NodeTCP's #f
const CONNECTED = 1;
/** Closed by us or failed: no callback is called any more. */
const DEAD = 2;
/** We half-closed (`end()`). */
const ENDED = 4;
/** Node reported the peer's FIN. */
const PEER_ENDED = 8;
/** ...but it was a reset read as an end (see `endWasReset`): the end is delivered as `onError("reset")`. */
const PEER_RESET = 16;
const END_DELIVERED = 32;
const END_SCHEDULED = 64;
/** Paused by us because too many bytes are unread. */
const PAUSED = 128;
/** The runtime last saw a writable count below half of `sendBuffer`: it is owed an `onWritable`. */
const LOW = 256;

const startAdopted = (t: NodeTCP): void => t._startAdopted();
const deliverEnd = (t: NodeTCP): void => t._deliverEnd();

export class NodeTCP implements TCP {
  readonly #socket: net.Socket;
  /**
   * What Node delivered and the runtime has not read: one chunk as it came (the usual case: read
   * before the next arrives), a `ByteQueue` only while several wait; nothing once all is read, so
   * an idle connection holds no queue.
   */
  #unread: Uint8Array | ByteQueue | undefined = undefined;
  readonly #limits: TCPLimits;
  readonly #readable: TCPCallbacks["onReadable"];
  readonly #writableCb: TCPCallbacks["onWritable"];
  readonly #end: TCPCallbacks["onEnd"];
  readonly #error: TCPCallbacks["onError"];
  readonly #target: unknown;
  /** CONNECTED, DEAD, ENDED, PEER_ENDED, PEER_RESET, END_DELIVERED, END_SCHEDULED, PAUSED, LOW. */
  #f = 0;
  /** The completion callback of writes that leave the count low (made on the first). */
  #writeDone: ((error?: Error | null) => void) | undefined;
  #remote: Endpoint | undefined;
  #local: Endpoint | undefined;

  /** `readyEvent`: the event that means "connected" when not adopted (a TLS wrapper passes its own). */
  constructor(socket: net.Socket, callbacks: TCPCallbacks, limits: TCPLimits, adopted: boolean, readyEvent = "connect") {
    this.#socket = socket;
    this.#limits = limits;
    this.#readable = callbacks.onReadable;
    this.#writableCb = callbacks.onWritable;
    this.#end = callbacks.onEnd;
    this.#error = callbacks.onError;
    this.#target = callbacks.target;
    this.#set(CONNECTED, adopted);
    (socket as Owned)[OWNER] = this;
    socket.on("data", onData);
    socket.on("end", onPeerEnd);
    socket.on("error", onSocketError);
    socket.on("close", onClose);
    socket.on("drain", onDrain);
    if (adopted) setImmediate(startAdopted, this);
    else socket.once(readyEvent, onConnect);
  }

  read(max?: number): Uint8Array | undefined {
    const data = this.#take(max);
    if (data === undefined) return undefined;
    const unread = this.#unreadBytes();
    if (this.#has(PAUSED) && unread <= this.#limits.recvBuffer && !this.#has(DEAD)) {
      this.#f &= ~PAUSED;
      this.#socket.resume();
    }
    if (unread === 0 && this.#has(PEER_ENDED) && !this.#has(END_DELIVERED) && !this.#has(END_SCHEDULED)) {
      this.#f |= END_SCHEDULED;
      setImmediate(deliverEnd, this);
    }
    return data;
  }

  write(data: Uint8Array): number {
    if (this.#has(DEAD)) throw new Error("closed");
    if (!this.#has(CONNECTED)) throw new Error("not connected");
    if (this.#has(ENDED)) throw new Error("ended: no more writes");
    const n = data.byteLength;
    const before = this.#writable();
    if (n > before) {
      this.#f |= LOW;
      throw new Error("would block");
    }
    if (n === 0) return before;
    const copy = copyForWrite(data);
    // Only a write that may leave the count below half needs its completion reported (the
    // function is made once, by the first such write); 'drain' covers the rest.
    if (before - n < this.#limits.sendBuffer / 2) this.#socket.write(copy, (this.#writeDone ??= (e?: Error | null) => this._writeDone(e)));
    else this.#socket.write(copy);
    // Node may have handed the bytes to the kernel already: measure rather than subtract.
    const after = this.#writable();
    this.#set(LOW, after < this.#limits.sendBuffer / 2);
    return after;
  }

  end(): void {
    if (this.#has(DEAD) || this.#has(ENDED)) return;
    this.#f |= ENDED;
    this.#socket.end();
  }

  close(): void {
    if (this.#has(DEAD)) return;
    this.#f |= DEAD;
    this.#unread = undefined;
    this.#socket.destroy();
  }

  /** Closes with a TCP RST (Node's `resetAndDestroy`): the peer sees ECONNRESET, not an end. */
  reset(): void {
    if (this.#has(DEAD)) return;
    this.#f |= DEAD;
    this.#unread = undefined;
    if (this.#socket.destroyed) return;
    try {
      this.#socket.resetAndDestroy();
    } catch {
      this.#socket.destroy(); // not a TCP handle (a pipe, a test double): an ordinary close
    }
  }

  /**
   * Hands the connection over (STARTTLS, see tls.ts): this object lets go of the socket (nothing is
   * called on it afterwards) and returns it paused, with `prefix` and every byte still unread put
   * back at the front of its stream, in order. Bytes written before stay queued in Node.
   */
  release(prefix?: Uint8Array): net.Socket {
    if (this.#has(DEAD)) throw new Error("closed");
    if (!this.#has(CONNECTED)) throw new Error("not connected");
    this.#f |= DEAD;
    const socket = this.#socket;
    socket.pause();
    socket.off("data", onData);
    socket.off("end", onPeerEnd);
    socket.off("error", onSocketError);
    socket.off("close", onClose);
    socket.off("drain", onDrain);
    socket.off("connect", onConnect);
    (socket as Owned)[OWNER] = undefined;
    const parts: Uint8Array[] = prefix?.byteLength ? [prefix] : [];
    for (let chunk = this.#take(); chunk; chunk = this.#take()) parts.push(chunk);
    if (parts.length) socket.unshift(Buffer.concat(parts));
    return socket;
  }

  setOption(name: "nodelay" | "keepalive", on: boolean, idleMs?: number, _intervalMs?: number): boolean {
    if (name === "nodelay") {
      this.#socket.setNoDelay(on);
      return true;
    }
    if (name === "keepalive") {
      // Node sets the idle time only; the probe interval stays the system's.
      this.#socket.setKeepAlive(on, idleMs ?? 0);
      return true;
    }
    return false;
  }

  get remote(): Endpoint | undefined {
    if (this.#remote === undefined && this.#has(CONNECTED)) {
      const { remoteAddress, remotePort } = this.#socket;
      if (remoteAddress !== undefined && remotePort !== undefined) this.#remote = { address: remoteAddress, port: remotePort };
    }
    return this.#remote;
  }

  get local(): Endpoint | undefined {
    if (this.#local === undefined && this.#has(CONNECTED)) {
      const { localAddress, localPort } = this.#socket;
      if (localAddress !== undefined && localPort !== undefined) this.#local = { address: localAddress, port: localPort };
    }
    return this.#local;
  }

  #unreadBytes(): number {
    const unread = this.#unread;
    return unread === undefined ? 0 : unread instanceof ByteQueue ? unread.bytes : unread.byteLength;
  }

  /**
   * Up to `max` unread bytes from the front, as a view (ByteQueue's `read`: the rest of the first
   * chunk when `max` is omitted or larger; empty for `max` ≤ 0), or undefined when none is unread.
   */
  #take(max?: number): Uint8Array | undefined {
    const unread = this.#unread;
    if (unread === undefined) return undefined;
    if (unread instanceof ByteQueue) {
      const data = unread.read(max);
      if (unread.bytes === 0) this.#unread = undefined;
      return data;
    }
    if (max !== undefined && max < unread.byteLength) {
      const n = max > 0 ? Math.floor(max) : 0;
      this.#unread = unread.subarray(n);
      return unread.subarray(0, n);
    }
    this.#unread = undefined;
    return unread;
  }

  #has(bit: number): boolean {
    return (this.#f & bit) !== 0;
  }

  #set(bit: number, on: boolean): void {
    this.#f = on ? this.#f | bit : this.#f & ~bit;
  }

  #writable(): number {
    const w = this.#limits.sendBuffer - this.#socket.writableLength;
    return w > 0 ? w : 0;
  }

  #fail(reason: HostErrorReason): void {
    if (this.#has(DEAD)) return;
    this.#f |= DEAD;
    this.#socket.destroy();
    this.#error?.call(this.#target, reason);
  }

  /** @internal the socket connected (listener `onConnect`) */
  _connect(): void {
    if (this.#has(DEAD)) return;
    this.#f |= CONNECTED;
    this.#writableCb?.call(this.#target, this.#writable());
  }

  /** @internal */
  _startAdopted(): void {
    if (this.#has(DEAD)) return;
    // The socket was accepted paused and has read nothing yet. resume() only schedules the
    // reading (no 'data' before this function returns), so onWritable still comes first, and a
    // runtime callback that throws cannot leave the socket paused for ever.
    this.#socket.resume();
    this.#writableCb?.call(this.#target, this.#writable());
  }

  /** @internal */
  _data(chunk: Buffer): void {
    if (this.#has(DEAD)) return;
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const unread = this.#unread;
    if (unread === undefined) {
      if (bytes.byteLength > 0) this.#unread = bytes;
    } else if (unread instanceof ByteQueue) unread.push(bytes);
    else {
      const queue = new ByteQueue();
      queue.push(unread);
      queue.push(bytes);
      this.#unread = queue;
    }
    const n = this.#unreadBytes();
    if (n > this.#limits.recvBuffer && !this.#has(PAUSED)) {
      this.#f |= PAUSED;
      this.#socket.pause();
    }
    this.#readable?.call(this.#target, n);
  }

  /** @internal */
  _peerEnd(): void {
    this.#f |= PEER_ENDED;
    this.#set(PEER_RESET, !this.#has(ENDED) && endWasReset(this.#socket)); // after our own FIN the peer is gone either way
    if (this.#unreadBytes() === 0) this._deliverEnd();
  }

  /** @internal the peer's end, after every byte before it was read (a reset read as an end fails instead) */
  _deliverEnd(): void {
    if (this.#has(DEAD) || this.#has(END_DELIVERED)) return;
    if (this.#has(PEER_RESET)) return this.#fail("reset");
    this.#f |= END_DELIVERED;
    this.#end?.call(this.#target);
  }

  /** @internal */
  _socketError(error: Error): void {
    this.#fail(tcpErrorReason(errorCode(error)));
  }

  /** @internal */
  _close(hadError: boolean): void {
    // An error was reported by 'error' already; after the peer's FIN a close is orderly.
    if (!hadError && !this.#has(PEER_ENDED)) this.#fail("reset");
  }

  /** @internal A write completed (or 'drain'): tell a runtime that saw a low count once it is back at half. */
  _writeDone(error?: Error | null): void {
    if (error || this.#has(DEAD) || !this.#has(LOW)) return;
    const w = this.#writable();
    if (w < this.#limits.sendBuffer / 2) return;
    this.#f &= ~LOW;
    this.#writableCb?.call(this.#target, w);
  }
}
