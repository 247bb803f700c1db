/**
 * The seam's TCP socket over `node:net` (ECMA-419 shape).
 *
 * Reading: every chunk Node delivers is queued as is (see `ByteQueue`, src/base/) and announced with
 * `onReadable(unread)`; past `recvBuffer` unread bytes the socket is paused (kernel flow control
 * takes over) until `read()` brings it back to `recvBuffer` or less.
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
 * connection a few hundred bytes of heap.
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

const startAdopted = (t: NodeTCP): void => t._startAdopted();
const deliverEnd = (t: NodeTCP): void => t._deliverEnd();

export class NodeTCP implements TCP {
  readonly #socket: net.Socket;
  readonly #queue = new ByteQueue();
  readonly #sendBuffer: number;
  readonly #recvBuffer: number;
  readonly #readable: TCPCallbacks["onReadable"];
  readonly #writableCb: TCPCallbacks["onWritable"];
  readonly #end: TCPCallbacks["onEnd"];
  readonly #error: TCPCallbacks["onError"];
  readonly #target: unknown;
  #connected: boolean;
  /** Closed by us or failed: no callback is called any more. */
  #dead = false;
  /** We half-closed (`end()`). */
  #ended = false;
  /** Node reported the peer's FIN. */
  #peerEnded = false;
  /** ...but it was a reset read as an end (see `endWasReset`): the end is delivered as `onError("reset")`. */
  #peerReset = false;
  #endDelivered = false;
  #endScheduled = false;
  /** Paused by us because too many bytes are unread. */
  #paused = false;
  /** The runtime last saw a writable count below half of `sendBuffer`: it is owed an `onWritable`. */
  #low = false;
  /** The completion callback of writes that leave the count low (made on the first). */
  #writeDone: ((error?: Error | null) => void) | undefined;
  #remote: Endpoint | undefined;
  #local: Endpoint | undefined;

  /** `readyEvent`: the event that means "connected" when not adopted (a TLS wrapper passes its own). */
  constructor(socket: net.Socket, callbacks: TCPCallbacks, limits: TCPLimits, adopted: boolean, readyEvent = "connect") {
    this.#socket = socket;
    this.#sendBuffer = limits.sendBuffer;
    this.#recvBuffer = limits.recvBuffer;
    this.#readable = callbacks.onReadable;
    this.#writableCb = callbacks.onWritable;
    this.#end = callbacks.onEnd;
    this.#error = callbacks.onError;
    this.#target = callbacks.target;
    this.#connected = adopted;
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
    const queue = this.#queue;
    const data = queue.read(max);
    if (data === undefined) return undefined;
    if (this.#paused && queue.bytes <= this.#recvBuffer && !this.#dead) {
      this.#paused = false;
      this.#socket.resume();
    }
    if (queue.bytes === 0 && this.#peerEnded && !this.#endDelivered && !this.#endScheduled) {
      this.#endScheduled = true;
      setImmediate(deliverEnd, this);
    }
    return data;
  }

  write(data: Uint8Array): number {
    if (this.#dead) throw new Error("closed");
    if (!this.#connected) throw new Error("not connected");
    if (this.#ended) throw new Error("ended: no more writes");
    const n = data.byteLength;
    const before = this.#writable();
    if (n > before) {
      this.#low = true;
      throw new Error("would block");
    }
    if (n === 0) return before;
    const copy = copyForWrite(data);
    // Only a write that may leave the count below half needs its completion reported (the
    // function is made once, by the first such write); 'drain' covers the rest.
    if (before - n < this.#sendBuffer / 2) this.#socket.write(copy, (this.#writeDone ??= (e?: Error | null) => this._writeDone(e)));
    else this.#socket.write(copy);
    // Node may have handed the bytes to the kernel already: measure rather than subtract.
    const after = this.#writable();
    this.#low = after < this.#sendBuffer / 2;
    return after;
  }

  end(): void {
    if (this.#dead || this.#ended) return;
    this.#ended = true;
    this.#socket.end();
  }

  close(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#queue.clear();
    this.#socket.destroy();
  }

  /** Closes with a TCP RST (Node's `resetAndDestroy`): the peer sees ECONNRESET, not an end. */
  reset(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#queue.clear();
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
    if (this.#dead) throw new Error("closed");
    if (!this.#connected) throw new Error("not connected");
    this.#dead = true;
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
    for (let chunk = this.#queue.read(); chunk; chunk = this.#queue.read()) parts.push(chunk);
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
    if (this.#remote === undefined && this.#connected) {
      const { remoteAddress, remotePort } = this.#socket;
      if (remoteAddress !== undefined && remotePort !== undefined) this.#remote = { address: remoteAddress, port: remotePort };
    }
    return this.#remote;
  }

  get local(): Endpoint | undefined {
    if (this.#local === undefined && this.#connected) {
      const { localAddress, localPort } = this.#socket;
      if (localAddress !== undefined && localPort !== undefined) this.#local = { address: localAddress, port: localPort };
    }
    return this.#local;
  }

  #writable(): number {
    const w = this.#sendBuffer - this.#socket.writableLength;
    return w > 0 ? w : 0;
  }

  #fail(reason: HostErrorReason): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#socket.destroy();
    this.#error?.call(this.#target, reason);
  }

  /** @internal the socket connected (listener `onConnect`) */
  _connect(): void {
    if (this.#dead) return;
    this.#connected = true;
    this.#writableCb?.call(this.#target, this.#writable());
  }

  /** @internal */
  _startAdopted(): void {
    if (this.#dead) return;
    // The socket was accepted paused and has read nothing yet. resume() only schedules the
    // reading (no 'data' before this function returns), so onWritable still comes first, and a
    // runtime callback that throws cannot leave the socket paused for ever.
    this.#socket.resume();
    this.#writableCb?.call(this.#target, this.#writable());
  }

  /** @internal */
  _data(chunk: Buffer): void {
    if (this.#dead) return;
    const queue = this.#queue;
    queue.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (queue.bytes > this.#recvBuffer && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#readable?.call(this.#target, queue.bytes);
  }

  /** @internal */
  _peerEnd(): void {
    this.#peerEnded = true;
    this.#peerReset = !this.#ended && endWasReset(this.#socket); // after our own FIN the peer is gone either way
    if (this.#queue.bytes === 0) this._deliverEnd();
  }

  /** @internal the peer's end, after every byte before it was read (a reset read as an end fails instead) */
  _deliverEnd(): void {
    if (this.#dead || this.#endDelivered) return;
    if (this.#peerReset) return this.#fail("reset");
    this.#endDelivered = true;
    this.#end?.call(this.#target);
  }

  /** @internal */
  _socketError(error: Error): void {
    this.#fail(tcpErrorReason(errorCode(error)));
  }

  /** @internal */
  _close(hadError: boolean): void {
    // An error was reported by 'error' already; after the peer's FIN a close is orderly.
    if (!hadError && !this.#peerEnded) this.#fail("reset");
  }

  /** @internal A write completed (or 'drain'): tell a runtime that saw a low count once it is back at half. */
  _writeDone(error?: Error | null): void {
    if (error || this.#dead || !this.#low) return;
    const w = this.#writable();
    if (w < this.#sendBuffer / 2) return;
    this.#low = false;
    this.#writableCb?.call(this.#target, w);
  }
}
