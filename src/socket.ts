/**
 * A TCP socket of the runtime: unconnected (a cosocket that has not connected yet), connected,
 * or listening. One class, because in the seed a cosocket's own socket becomes whichever of these
 * its first `connect` or `bind` makes it.
 *
 * Reads suspend the caller until data, end-of-stream (null) or an error. Writes follow the
 * cosocket flow-control rules (see write-queue.ts and docs/api.md):
 * - `write()` suspends the caller while its socket's queue is too full; bytes leave in FIFO order.
 * - `trywrite()` never suspends and reports a full queue with the queued byte count.
 */
import { SocketError, type SocketErrorCode } from "./errors.js";
import type {
  CertificateInfo,
  Endpoint,
  HostErrorReason,
  PendingConnection,
  TCP,
  TCPAdoptOptions,
  TCPCallbacks,
  TCPConnectOptions,
  TLS,
  TLSFailure,
  TLSWrapOptions,
  Listener as HostListener,
} from "./host.js";
import type { Serviced } from "./dispatcher.js";
import { RESOLVED_TRUE, Waiter } from "./waiter.js";
import { WriteQueue } from "./write-queue.js";
import { toBytes, type Payload } from "./bytes.js";
import { readExactly, readLine, readUntil, type ReadOptions } from "./readers.js";
import type { Runtime } from "./runtime.js";
import {
  cipherOf,
  clientPlan,
  handshakeTimedOut,
  isServerOptions,
  matchesName,
  notEnabled,
  serverPlan,
  tlsError,
  trustError,
  type CipherInfo,
  type SocketTLS,
  type TLSOptions,
  type TLSPlan,
  type TLSServerOptions,
  type TrustError,
} from "./tls.js";

export type SocketState =
  | "notcon"
  | "exec"
  | "accept"
  | "connect"
  | "upgrade"
  | "disabled"
  | "read"
  | "write"
  | "terminated";

/** "r": asynchronous socket (writes wait for the host); "s": cosocket (queued, suspending writes). */
export type CoMode = "r" | "s";

export interface ConnectOptions {
  /** ms; default `RuntimeOptions.connectTimeout`. */
  timeout?: number;
  nodelay?: boolean;
  /** Secure the connection (TLS; `true` for the defaults): resolves once the handshake completed. */
  tls?: TLSOptions | true;
}

export interface BindOptions {
  /** Local address to listen on (the seed's `intf`). */
  intf?: string;
  /** A TLS listener: accepted sockets handshake at once (`state()` "upgrade" until done). */
  tls?: TLSServerOptions;
}

type Kind = "none" | "tcp" | "listen";

export type Cosocket<A extends unknown[]> = (sock: Socket, ...args: A) => unknown;

const FAILURE: Readonly<Record<HostErrorReason, string>> = Object.freeze({
  refused: "connection refused",
  reset: "connection reset",
  timeout: "connection timed out",
  unreachable: "host unreachable",
  error: "connection failed",
});

// Memory (docs/device.md, "Memory"): on XS every field of an object is a 16-byte slot, and so is
// every `#private` method or accessor (XS installs them on each instance). So a Socket has nine
// `#` fields and no `#` methods: its internal methods are TypeScript-`private` (`_name`, on the
// prototype), the booleans share one number (`#f`), the state few sockets need lives in `Extra`,
// made on first use, and the host calls one set of static callbacks with the socket as `this`.
// The statistics (`bytesIn`, `bytesOut`, `age`) cost two fields: the time the socket opened is kept,
// in whole seconds, in the spare high bits of `#f`.

// Bits of `Socket.#f`.
const IS_TCP = 1;
const IS_LISTEN = 2;
const CONNECTED = 4;
const CLOSED = 8;
const TRACKED = 16;
const ALIVE = 32;
const EOF = 64;
const SHUTDOWN = 128;
const ENDED = 256; // host.end() called
const MODE_R = 512;
const MODE_S = 1024;
const READY = 2048; // in the dispatcher's ready queue
const FLAG_BITS = 0xfff;
// Bits 12..31 of `#f`: the host clock, in whole seconds modulo 2^20 (about 12 days), when the
// socket was opened (tracked); `age` is measured against it.
const OPENED_SHIFT = 12;
const OPENED_MOD = 0xfffff;

/** A socket's kind in `Runtime.socketStats()`. */
export type SocketKind = "tcp" | "tls" | "listener" | "udp";

/**
 * How a socket is driven, in `Runtime.socketStats()`: "cosocket" (`event(fn, "s")`: reads and
 * writes suspend), "async" (`event(fn)`: reads suspend, writes go straight to the host), or
 * "blocking" (no coroutine of its own: used by awaiting code, such as a worker-pool job).
 */
export type SocketMode = "cosocket" | "async" | "blocking";

/** One open socket's figures (`Runtime.socketStats()`). */
export interface SocketStat {
  kind: SocketKind;
  mode: SocketMode;
  /** True when an object built on the socket (a WebSocket) runs it. */
  wrapped: boolean;
  /** "address:port" of this side. */
  local: string;
  /** "address:port" of the peer ("" for a listener or an unconnected UDP socket). */
  peer: string;
  state: SocketState;
  /** Bytes read from the host (after TLS: the plaintext). */
  bytesIn: number;
  /** Bytes handed to the host (after TLS: the plaintext). */
  bytesOut: number;
  /** Bytes waiting in the send queue. */
  queued: number;
  /** The send queue's limit for non-suspending writers (`queuelen()`). */
  queuelen: number;
  /** Writers suspended on the send queue. */
  writers: number;
  /** ms since the socket was opened (connected, accepted or bound), in whole seconds. */
  age: number;
}

/** What only some sockets need: an idle connection has none of it. */
interface Extra {
  failure?: HostErrorReason;
  pushback?: Uint8Array;
  readTimer?: () => void;
  generation?: number; // which coroutine owns the socket (detach() starts a new generation)
  owner?: CoroutineOwner; // eventFor()'s owner, told when the coroutine ends
  listener?: HostListener;
  connecting?: Waiter<Socket>;
  acceptor?: Waiter<Socket | null>;
  disabled?: Waiter<unknown[]>;
  enabledEarly?: unknown[];
  lingerCancel?: () => void;
  queuelen?: number;
  maxWrite?: number;
  // TLS (see tls.ts)
  tls?: SocketTLS<Socket>;
  peerHost?: string; // the name given to connect: the default TLS server name
  listenTLS?: TLSPlan; // a TLS listener's plan for the connections it accepts
}

/** Resumes the coroutine waiting in `read()`: with bytes, null (end-of-stream) or a rejection. */
type Resume = (value: Uint8Array | null | PromiseLike<never>) => void;

/** @internal What a read ends with: bytes, end-of-stream (null) or the error a `read()` would throw. */
export type ReadOutcome = Uint8Array | null | SocketError;

/** @internal Receives the outcome of `readInto` (see there). */
export interface ReadConsumer {
  readDone(outcome: ReadOutcome): void;
}

/** @internal The object an `eventFor` coroutine runs for. */
export interface CoroutineOwner {
  coroutineEnded(): void;
}

export class Socket implements Serviced {
  readonly rt: Runtime;
  #f = 0;
  #tcp: TCP | undefined;
  #reader: Resume | ReadConsumer | undefined;
  #writable = 0;
  #wq: WriteQueue | undefined; // made by the first write that cannot go out at once; dropped when empty
  #x: Extra | undefined;
  #in = 0;
  #out = 0;

  constructor(rt: Runtime) {
    this.rt = rt;
  }

  // ---------------------------------------------------------------- compact state

  private _has(bit: number): boolean {
    return (this.#f & bit) !== 0;
  }

  private _put(bit: number, on: boolean): void {
    this.#f = on ? this.#f | bit : this.#f & ~bit;
  }

  private _extra(): Extra {
    return (this.#x ??= {});
  }

  /** Drops `#x` when nothing in it is set any more (connecting leaves only cleared entries). */
  private _tidy(): void {
    const x = this.#x;
    if (!x) return;
    for (const k in x) if (x[k as keyof Extra] !== undefined) return;
    this.#x = undefined;
  }

  /** @internal managed by the dispatcher */
  get inReadyQueue(): boolean {
    return this._has(READY);
  }
  set inReadyQueue(on: boolean) {
    this._put(READY, on);
  }

  private get _kind(): Kind {
    return this._has(IS_TCP) ? "tcp" : this._has(IS_LISTEN) ? "listen" : "none";
  }
  private set _kind(kind: Kind) {
    this.#f = (this.#f & ~(IS_TCP | IS_LISTEN)) | (kind === "tcp" ? IS_TCP : kind === "listen" ? IS_LISTEN : 0);
  }

  private get _mode(): CoMode | undefined {
    return this._has(MODE_S) ? "s" : this._has(MODE_R) ? "r" : undefined;
  }
  private set _mode(mode: CoMode | undefined) {
    this.#f = (this.#f & ~(MODE_R | MODE_S)) | (mode === "s" ? MODE_S : mode === "r" ? MODE_R : 0);
  }

  private get _connected(): boolean {
    return this._has(CONNECTED);
  }
  private set _connected(on: boolean) {
    this._put(CONNECTED, on);
  }
  private get _closed(): boolean {
    return this._has(CLOSED);
  }
  private set _closed(on: boolean) {
    this._put(CLOSED, on);
  }
  private get _alive(): boolean {
    return this._has(ALIVE);
  }
  private set _alive(on: boolean) {
    this._put(ALIVE, on);
  }
  private get _eof(): boolean {
    return this._has(EOF);
  }
  private set _eof(on: boolean) {
    this._put(EOF, on);
  }
  private get _shutdown(): boolean {
    return this._has(SHUTDOWN);
  }
  private set _shutdown(on: boolean) {
    this._put(SHUTDOWN, on);
  }
  private get _ended(): boolean {
    return this._has(ENDED);
  }
  private set _ended(on: boolean) {
    this._put(ENDED, on);
  }

  private get _failure(): HostErrorReason | undefined {
    return this.#x?.failure;
  }
  private set _failure(v: HostErrorReason | undefined) {
    if (v !== undefined || this.#x) this._extra().failure = v;
  }
  private get _pushback(): Uint8Array | undefined {
    return this.#x?.pushback;
  }
  private set _pushback(v: Uint8Array | undefined) {
    if (v !== undefined || this.#x) this._extra().pushback = v;
  }
  private get _generation(): number {
    return this.#x?.generation ?? 0;
  }
  private get _listener(): HostListener | undefined {
    return this.#x?.listener;
  }
  private set _listener(v: HostListener | undefined) {
    if (v !== undefined || this.#x) this._extra().listener = v;
  }
  private get _connecting(): Waiter<Socket> | undefined {
    return this.#x?.connecting;
  }
  private set _connecting(v: Waiter<Socket> | undefined) {
    if (v !== undefined || this.#x) this._extra().connecting = v;
  }
  private get _acceptor(): Waiter<Socket | null> | undefined {
    return this.#x?.acceptor;
  }
  private set _acceptor(v: Waiter<Socket | null> | undefined) {
    if (v !== undefined || this.#x) this._extra().acceptor = v;
  }
  private get _disabled(): Waiter<unknown[]> | undefined {
    return this.#x?.disabled;
  }
  private set _disabled(v: Waiter<unknown[]> | undefined) {
    if (v !== undefined || this.#x) this._extra().disabled = v;
  }
  private get _tls(): SocketTLS<Socket> | undefined {
    return this.#x?.tls;
  }
  private set _tls(v: SocketTLS<Socket> | undefined) {
    if (v !== undefined || this.#x) this._extra().tls = v;
  }
  private get _queuelen(): number {
    return this.#x?.queuelen ?? this.rt.options.queuelen;
  }
  private get _maxWrite(): number {
    return this.#x?.maxWrite ?? this.rt.options.maxWrite;
  }

  /** The host callbacks: shared by every socket, which the host passes as `this` (the seam's `target`). */
  private _callbacks(): TCPCallbacks {
    return { target: this, onReadable: Socket.#hostReadable, onWritable: Socket.#hostWritable, onEnd: Socket.#hostEnd, onError: Socket.#hostError };
  }

  // ---------------------------------------------------------------- connecting and binding

  /**
   * Connects this socket (it must be unconnected: a fresh socket or an unconnected cosocket's own
   * socket). Resolves with this socket; throws `cannotresolve` or `cannotconnect`.
   */
  connect(host: string, port: number, options: ConnectOptions = {}): Promise<Socket> {
    // Not async: the connect timer is set from here, on top of every caller's frames, and on XS
    // an async function holds two frames and a host frame until it first waits (the device's
    // stack is 384 slots; docs/device.md, "As strict as the device").
    let tls: TLSPlan | undefined;
    try {
      tls = options.tls === undefined ? undefined : this._tlsPlan(clientPlan(options.tls, host));
      this._claim("tcp");
    } catch (e) {
      return Promise.reject(e);
    }
    const waiter = new Waiter<Socket>();
    this._connecting = waiter;
    const timeout = options.timeout ?? this.rt.options.connectTimeout;
    waiter.cancelTimer = this.rt.dispatcher.timer(timeout, () => {
      waiter.cancelTimer = undefined;
      this._hostFailed("timeout"); // rejects the waiter with cannotconnect
    });
    return this.rt.toip(host).then(
      (address) => {
        if (this._connecting === waiter) {
          if (host !== address && this.rt.host.tls) this._extra().peerHost = host; // upgrade()'s default server name
          const o = this._callbacks() as TCPConnectOptions;
          o.address = address;
          o.port = port;
          o.nodelay = options.nodelay ?? this.rt.options.nodelay;
          this.#tcp = this.rt.host.tcp(o);
        } // else timed out or closed meanwhile: the waiter is settled
        return tls ? this._secureAfter(waiter.promise, tls) : waiter.promise;
      },
      (e: unknown) => {
        if (this._connecting === waiter) {
          this._connecting = undefined;
          waiter.settle();
          this._failure = "unreachable";
        }
        throw e;
      },
    );
  }

  /** Makes this unconnected socket a listener on `port` (0 picks one). Throws `bind` if in use. */
  async bind(port: number, options: BindOptions = {}): Promise<Socket> {
    if (options.tls) this._extra().listenTLS = this._tlsPlan(serverPlan(options.tls));
    this._claim("listen");
    const waiter = new Waiter<Socket>();
    this._connecting = waiter;
    this._listener = this.rt.host.listener({
      port,
      address: options.intf,
      onReadable: () => {
        if (this._acceptor) this.rt.dispatcher.ready(this);
      },
      onReady: () => {
        this._connecting = undefined;
        this._connected = true;
        waiter.resolve(this);
      },
      onError: (reason) => {
        const w = this._connecting;
        this._connecting = undefined;
        this._listener = undefined;
        this._untrack();
        if (w) w.reject(new SocketError("bind", `port ${port}: ${reason}`));
        else this._acceptor?.resolve(null);
      },
    });
    this._track();
    return waiter.promise;
  }

  /** Waits for the next connection on a listening socket; null once the listener is closed. */
  accept(timeout?: number): Promise<Socket | null> {
    if (this._kind !== "listen") return Promise.reject(new SocketError("incorrectuse", "accept needs a listening socket"));
    if (this._closed || !this._listener) return Promise.resolve(null);
    if (this._acceptor) return Promise.reject(new SocketError("incorrectuse", "another accept is waiting"));
    const w = new Waiter<Socket | null>();
    this._acceptor = w;
    if (timeout !== undefined) this._timeout(w, timeout, () => (this._acceptor = undefined));
    this.rt.dispatcher.ready(this);
    return w.promise;
  }

  /** Wraps a connection taken from a host listener; with `tls`, starts its handshake. */
  static adopt(rt: Runtime, from: PendingConnection, tls?: TLSPlan): Socket {
    const s = new Socket(rt);
    s._kind = "tcp";
    const o = s._callbacks() as TCPAdoptOptions;
    o.from = from;
    o.nodelay = rt.options.nodelay;
    s.#tcp = rt.host.tcp(o);
    s._connected = true;
    s._track();
    if (tls) s._startTLS(tls).catch(() => undefined); // a failure is kept: reads and writes throw it
    return s;
  }

  private _claim(kind: Kind): void {
    if (this._closed) throw new SocketError("socketclosed");
    if (this._kind !== "none")
      throw new SocketError("incorrectuse", "this socket is already connected or bound (one socket per cosocket)");
    this._kind = kind;
  }

  // ---------------------------------------------------------------- coroutines

  /**
   * Runs `fn(this, ...args)` as this socket's coroutine: "r" (default) for an asynchronous socket,
   * "s" for a cosocket. Like the seed, a first argument of "r" or "s" is the mode. The function
   * runs at once until it first suspends; when it returns or throws, the socket is closed.
   */
  event<A extends unknown[]>(fn: Cosocket<A>, mode: CoMode, ...args: A): this;
  event<A extends unknown[]>(fn: Cosocket<A>, ...args: A): this;
  event(fn: Cosocket<unknown[]>, ...args: unknown[]): this {
    let mode: CoMode = "r";
    if (args[0] === "r" || args[0] === "s") mode = args.shift() as CoMode;
    return this.eventFor(this, fn as (owner: unknown, ...args: unknown[]) => unknown, mode, args);
  }

  /**
   * @internal `event()` on behalf of an object built on this socket (a WebSocket): runs
   * `fn(owner, ...args)` as this socket's coroutine; when it ends, `owner.coroutineEnded()` is
   * called (when `owner` is not the socket) instead of `close()` — it must close the socket.
   */
  eventFor<O>(owner: O, fn: (owner: O, ...args: unknown[]) => unknown, mode: CoMode, args: unknown[]): this {
    if (this._alive) throw new SocketError("incorrectuse", "this socket already has a coroutine");
    if (this._closed) throw new SocketError("socketclosed");
    this._mode = mode;
    this._alive = true;
    if ((owner as unknown) !== this) this._extra().owner = owner as unknown as CoroutineOwner;
    const generation = this._generation;
    let result: unknown;
    try {
      result = fn(owner, ...args);
    } catch (e) {
      this._finish(generation, e);
      return this;
    }
    // One function for both outcomes (each function is ~200 bytes on XS): an Error is a failure.
    const end = (outcome: unknown) => this._finish(generation, outcome);
    Promise.resolve(result).then(end, end);
    return this;
  }

  /** The coroutine ended with `outcome`: its return value or what it threw. */
  private _finish(generation: number, outcome: unknown): void {
    if (outcome instanceof Error && !(outcome instanceof SocketError))
      this.rt.options.log(`cosock: coroutine failed: ${outcome.stack ?? outcome}`);
    if (generation !== this._generation) return; // the socket was handed to another owner
    this._alive = false;
    const owner = this.#x?.owner;
    if (owner) {
      this.#x!.owner = undefined;
      owner.coroutineEnded();
    } else this.close();
  }

  /**
   * Hands the socket over: the running coroutine no longer owns it (its end will not close the
   * socket) and a new `event()` may be started on it. Used when a connection changes owner, as in
   * `req2sock` and `sock2req`.
   */
  detach(): void {
    const x = this._extra();
    x.generation = this._generation + 1;
    x.owner = undefined;
    this._alive = false;
    this._mode = undefined;
  }

  /** True while this socket's coroutine runs. */
  get alive(): boolean {
    return this._alive;
  }

  /** The coroutine mode given to `event`, if any. */
  get mode(): CoMode | undefined {
    return this._mode;
  }

  /**
   * Suspends the owner until `enable(...values)`; resolves with those values. If `enable` came
   * first, resolves at once with its values (no wake-up is lost).
   */
  disable(): Promise<unknown[]> {
    if (this._closed) return Promise.reject(new SocketError("socketclosed"));
    if (this._disabled) return Promise.reject(new SocketError("incorrectuse", "already disabled"));
    const early = this.#x?.enabledEarly;
    if (early) {
      this.#x!.enabledEarly = undefined;
      return Promise.resolve(early);
    }
    this._disabled = new Waiter<unknown[]>();
    return this._disabled.promise;
  }

  /** Resumes a disabled owner with `values`; true if the socket's coroutine is still alive. */
  enable(...values: unknown[]): boolean {
    if (this._closed) return false;
    const w = this._disabled;
    if (w) {
      this._disabled = undefined;
      w.resolve(values);
    } else this._extra().enabledEarly = values;
    return this._alive;
  }

  // ---------------------------------------------------------------- reading

  /**
   * The next bytes (at most `maxRead`), or null at the peer's orderly close. With `timeout` (ms) a
   * read that waits too long throws `timeout` and the socket stays usable. On an unconnected
   * socket, `read(ms)` is a sleep that throws `timeout` when it ends.
   */
  read(timeout?: number): Promise<Uint8Array | null> {
    if (this.#reader) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this socket"));
    if (this._kind === "none" && !this._closed) {
      if (timeout === undefined)
        return Promise.reject(new SocketError("incorrectuse", "read on an unconnected socket needs a timeout"));
      return this.rt.sleep(timeout).then(() => {
        throw new SocketError("timeout");
      });
    }
    if (this._kind === "listen") return Promise.reject(new SocketError("incorrectuse", "read on a listening socket"));
    const now = this._readNow();
    if (now !== undefined) return now instanceof SocketError ? Promise.reject(now) : Promise.resolve(now);
    // A promise and its resolve function, nothing more: this is what an idle connection waits on.
    const p = new Promise<Uint8Array | null>((resolve) => (this.#reader = resolve));
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
    if (this.#reader) return new SocketError("incorrectuse", "another read is waiting on this socket");
    if (this._kind !== "tcp") return this._closed ? new SocketError("socketclosed") : new SocketError("incorrectuse", "readInto needs a connected socket");
    const now = this._readNow();
    if (now !== undefined) return now;
    this.#reader = consumer;
    this._readTimeout(timeout);
    return undefined;
  }

  /** What a read gets without waiting: bytes, null (end-of-stream), an error, or undefined (wait). */
  private _readNow(): ReadOutcome | undefined {
    return this._take() ?? this._readError();
  }

  private _readTimeout(timeout: number | undefined): void {
    if (timeout !== undefined)
      this._extra().readTimer = this.rt.dispatcher.timer(timeout, () => {
        this.#x!.readTimer = undefined;
        this._resume(new SocketError("timeout"));
      });
  }

  /** Resumes the waiting reader with bytes, end-of-stream (null) or an error. */
  private _resume(outcome: Uint8Array | null | SocketError): void {
    const resume = this.#reader;
    if (!resume) return;
    this.#reader = undefined;
    const x = this.#x;
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
    return readLine(this, { max: this.rt.options.maxLine, ...options });
  }

  /** Exactly `n` bytes; null if the stream ends first (the partial bytes stay readable). */
  readExactly(n: number, options?: ReadOptions): Promise<Uint8Array | null> {
    return readExactly(this, n, options);
  }

  /** The bytes before the next `pattern` (which is consumed); null at end-of-stream. */
  readUntil(pattern: Uint8Array | string, options?: ReadOptions): Promise<Uint8Array | null> {
    return readUntil(this, pattern, options);
  }

  private _take(): Uint8Array | undefined {
    if (this._tls?.phase === "draining") return undefined; // read-ahead bytes belong to the handshake
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
    if (!this.#tcp || this._failure) return undefined;
    const b = this.#tcp.read(max);
    if (b) {
      this.#in += b.length;
      this.rt.traffic.in += b.length;
    }
    return b;
  }

  /** Counts `n` bytes handed to the host. */
  private _sent(n: number): void {
    this.#out += n;
    this.rt.traffic.out += n;
  }

  /** undefined: nothing to report (wait); null: end-of-stream; else the error to throw. */
  private _readError(): SocketError | null | undefined {
    if (this._failure) return this._tls?.error ?? new SocketError("socketreadfailed", FAILURE[this._failure]);
    if (this._closed) return new SocketError("socketclosed");
    if (this._eof) return null;
    return undefined;
  }

  // ---------------------------------------------------------------- writing

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
  private _write(head: Uint8Array | undefined, bytes: Uint8Array, copy: boolean): Promise<true> {
    const err = this._writeError();
    if (err) return Promise.reject(err);
    const limit = this._mode === "s" ? this.rt.options.suspendAt : 0;
    const q0 = this.#wq;
    if (q0 && q0.writers >= this.rt.options.maxWriters && q0.bytes + (head?.length ?? 0) + bytes.length > limit)
      return Promise.reject(new SocketError("busy", `${q0.writers} writers are suspended on this socket (maxWriters)`));
    let rest: Uint8Array | undefined;
    try {
      if (head) {
        const h = this.#wq ? head : this._sendDirect(head);
        if (h) (this.#wq ??= new WriteQueue()).push(h, null);
      }
      rest = this.#wq ? bytes : this._sendDirect(bytes);
    } catch (e) {
      return Promise.reject(e); // a refused host write: a rejection, never a throw
    }
    if (!rest) return RESOLVED_TRUE;
    const q = (this.#wq ??= new WriteQueue());
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
    const queued = this.#wq?.bytes ?? 0;
    if (queued >= this._queuelen && queued > 0) return queued;
    const bytes = toBytes(data);
    const rest = this.#wq ? bytes : this._sendDirect(bytes);
    if (rest) (this.#wq ??= new WriteQueue()).push(typeof data === "string" ? rest : rest.slice(), null);
    return true;
  }

  /** Writes what the host takes now; returns what is left, or undefined if all was sent. */
  private _sendDirect(bytes: Uint8Array): Uint8Array | undefined {
    const tcp = this.#tcp;
    if (!tcp || !this._connected || this._tls?.phase === "draining") return bytes.length ? bytes : undefined;
    let off = 0;
    try {
      while (off < bytes.length && this.#writable > 0) {
        const n = Math.min(bytes.length - off, this.#writable, this._maxWrite);
        this.#writable = tcp.write(n === bytes.length ? bytes : bytes.subarray(off, off + n));
        off += n;
      }
      if (off > 0) this._sent(off);
    } catch (e) {
      this._hostFailed("error");
      throw new SocketError("socketwritefailed", String((e as Error)?.message ?? e));
    }
    return off === bytes.length ? undefined : off === 0 ? bytes : bytes.subarray(off);
  }

  private _writeError(): SocketError | undefined {
    if (this._closed) return new SocketError("socketclosed");
    if (this._failure) return this._tls?.error ?? new SocketError("socketwritefailed", FAILURE[this._failure]);
    if (this._shutdown) return new SocketError("socketwritefailed", "the socket was shut down for writing");
    if (this._kind !== "tcp") return new SocketError("incorrectuse", "write on a socket that is not connected");
    return undefined;
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
    return this.#wq?.bytes ?? 0;
  }

  /** Writers suspended on this socket. */
  get suspendedWriters(): number {
    return this.#wq?.writers ?? 0;
  }

  /** Bytes read from the host so far (after TLS: the plaintext). */
  get bytesIn(): number {
    return this.#in;
  }

  /** Bytes handed to the host so far (after TLS: the plaintext). */
  get bytesOut(): number {
    return this.#out;
  }

  /**
   * ms since the socket was opened (connected, accepted or bound), in whole seconds of the host
   * clock; 0 before. Kept modulo 2^20 s: it starts again from 0 after about 12 days.
   */
  get age(): number {
    if (!this._has(TRACKED)) return 0;
    const now = Math.floor(this.rt.host.now() / 1000);
    return ((now - (this.#f >>> OPENED_SHIFT)) & OPENED_MOD) * 1000;
  }

  /** This socket's figures for `Runtime.socketStats()`. */
  stat(): SocketStat {
    const local = this.sockname();
    const peer = this._kind === "listen" ? undefined : this.peername();
    const x = this.#x;
    return {
      kind: this._kind === "listen" ? "listener" : this._tls ? "tls" : "tcp",
      mode: this._mode === "s" ? "cosocket" : this._mode === "r" ? "async" : "blocking",
      wrapped: x?.owner !== undefined || (this.#reader !== undefined && typeof this.#reader !== "function"),
      local: local ? `${local.address}:${local.port}` : "",
      peer: peer ? `${peer.address}:${peer.port}` : "",
      state: this.state(),
      bytesIn: this.#in,
      bytesOut: this.#out,
      queued: this.queued,
      queuelen: this._queuelen,
      writers: this.suspendedWriters,
      age: this.age,
    };
  }

  /** Half-close: queued bytes are still sent, then the peer reads end-of-stream. Reading goes on. */
  shutdown(): void {
    if (this._closed || this._shutdown || this._kind !== "tcp") return;
    this._shutdown = true;
    this._endIfDrained();
  }

  // ---------------------------------------------------------------- host events

  // Static: one function for every socket; the host calls it with the socket as `this`.

  static #hostReadable(this: Socket): void {
    if (this.#reader || this._closed) this.rt.dispatcher.ready(this);
  }

  static #hostWritable(this: Socket, count: number): void {
    this.#writable = count;
    if (this._tls?.phase === "handshake") this._secured();
    if (!this._connected) {
      this._connected = true;
      this._track();
      const w = this._connecting;
      this._connecting = undefined;
      if (w) {
        w.settle();
        w.resolve(this);
      }
      this._tidy();
    }
    if (this.#wq || this._tls?.plain) this.rt.dispatcher.ready(this);
  }

  static #hostEnd(this: Socket): void {
    if (this._tls?.securing) {
      this._tls.error ??= tlsError(undefined, "end", true);
      this._hostFailed("reset");
      return;
    }
    this._eof = true;
    if (this._closed) this._dropHost();
    else if (this.#reader) this.rt.dispatcher.ready(this);
  }

  static #hostError(this: Socket, reason: HostErrorReason, tls?: TLSFailure): void {
    if (this._tls) this._tls.error ??= tlsError(tls, reason, this._tls.securing !== undefined);
    this._hostFailed(reason);
  }

  private _hostFailed(reason: HostErrorReason): void {
    if (this._failure) return;
    this._failure = reason;
    const tcp = this.#tcp;
    this.#tcp = undefined;
    try {
      tcp?.close();
    } catch {
      /* already dead */
    }
    const writeError = this._tls?.error ?? new SocketError("socketwritefailed", FAILURE[reason]);
    this._tls?.plain?.fail(writeError);
    this.#wq?.fail(writeError);
    this.#wq = undefined;
    if (this._tls?.securing) this._tlsSettle(this._tls.error ?? tlsError(undefined, reason, true)!);
    const c = this._connecting;
    if (c) {
      this._connecting = undefined;
      c.settle();
      c.reject(new SocketError("cannotconnect", FAILURE[reason]));
    }
    if (this._closed) this._finishLinger();
    else if (this.#reader) this.rt.dispatcher.ready(this);
    this._untrack();
  }

  /** Called by the dispatcher: move bytes out, wake the reader or the acceptor. */
  service(): void {
    if (this._tls?.phase === "draining") this._drainPlain();
    const tcp = this.#tcp;
    const q = this.#wq;
    if (tcp && q && this._connected && this.#writable > 0 && this._tls?.phase !== "draining") {
      const before = q.bytes;
      try {
        this.#writable = q.flush(tcp, this.#writable, this._maxWrite);
      } catch {
        this._hostFailed("error");
        return;
      }
      this._sent(before - q.bytes);
      if (q.empty) this.#wq = undefined;
      this._endIfDrained();
    }
    if (this._closed) {
      // lingering after close(): discard what arrives so the peer's close is seen
      while (this.#tcp?.read()) {
        /* discard */
      }
      return;
    }
    if (this.#reader) {
      const outcome = this._readNow();
      if (outcome !== undefined) this._resume(outcome);
    }
    const a = this._acceptor;
    if (a && this._listener) {
      const from = this._listener.read();
      if (from) {
        this._acceptor = undefined;
        a.settle();
        a.resolve(Socket.adopt(this.rt, from, this.#x?.listenTLS));
      }
    }
  }

  private _endIfDrained(): void {
    if ((this._shutdown || this._closed) && !this.#wq && !this._ended && this.#tcp && this._connected && !this._tls?.securing) {
      this._ended = true;
      try {
        this.#tcp.end();
      } catch {
        // The connection failed before the host could report it (a reset on its way in): the
        // same outcome as that report.
        this._hostFailed("reset");
        return;
      }
      if (this._closed && this._eof) this._dropHost();
    }
  }

  // ---------------------------------------------------------------- closing

  /**
   * Closes the socket: true the first time, false after. Wakes every waiter on it with
   * `socketclosed` (a waiting accept with null). Bytes already accepted by a non-suspended write
   * are still sent (for up to `lingerTimeout`); suspended writers' bytes are dropped and those
   * writers are told.
   */
  close(): boolean {
    return this._shut(false);
  }

  /** close() and abort(): an abort drops the connection at once (a reset), without lingering. */
  private _shut(aborting: boolean): boolean {
    if (this._closed) return false;
    this._closed = true;
    const closed = new SocketError("socketclosed");
    this._resume(closed);
    const a = this._acceptor;
    if (a) {
      this._acceptor = undefined;
      a.settle();
      a.resolve(null);
    }
    const c = this._connecting;
    if (c) {
      this._connecting = undefined;
      c.settle();
      c.reject(closed);
    }
    const d = this._disabled;
    if (d) {
      this._disabled = undefined;
      d.reject(closed);
    }
    const q = this.#wq;
    if (q) {
      q.dropSuspended(closed);
      if (q.empty) this.#wq = undefined;
    }
    const handshaking = this._tlsSettle(closed); // a connection closed mid-handshake is dropped
    if (this._listener) {
      this._listener.close();
      this._listener = undefined;
    }
    if (this.#tcp && this._connected && !this._failure && !handshaking && !aborting) {
      this._extra().lingerCancel = this.rt.dispatcher.timer(this.rt.options.lingerTimeout, () => this.drop());
      this.rt.lingering.add(this);
      this._endIfDrained();
      this.rt.dispatcher.ready(this); // discard unread input so the peer's FIN is seen
    } else this._dropHost(aborting);
    this._untrack();
    return true;
  }

  /** Lets go of the host's connection: closed, or reset (`abort()`) where the host can send one. */
  private _dropHost(reset = false): void {
    const tcp = this.#tcp;
    this.#tcp = undefined;
    if (tcp)
      try {
        if (reset && tcp.reset) tcp.reset();
        else tcp.close();
      } catch {
        /* already closed */
      }
    this._finishLinger();
  }

  private _finishLinger(): void {
    const x = this.#x;
    if (x?.lingerCancel) {
      x.lingerCancel();
      x.lingerCancel = undefined;
    }
    this.rt.lingering.delete(this);
  }

  /**
   * Closes at once: like `close()`, but bytes still queued are dropped instead of sent, and the
   * peer sees the connection reset (TCP RST; see `TCP.reset` in host.ts), not an orderly end — so
   * a proxy can pass a failure on as a failure. A closed socket still lingering is reset too.
   */
  abort(): void {
    this._shut(true);
    this.drop(true);
  }

  /**
   * @internal Ends lingering (the linger timeout, `rt.shutdown()`): queued bytes are dropped and
   * the host connection closed, or reset with `reset`.
   */
  drop(reset = false): void {
    this.close();
    this.#wq?.fail(new SocketError("socketclosed"));
    this.#wq = undefined;
    this._dropHost(reset);
  }

  // ---------------------------------------------------------------- TLS

  /**
   * STARTTLS: secures this connected socket (a TLS client by default; `{ server: true, cert, key }`
   * for the server side) and resolves with it once the handshake completed; the caller suspends
   * meanwhile (`state()` is "upgrade"). Plaintext written before is sent first; bytes already read
   * ahead (the `unread` buffer) and unread bytes in the host go to the handshake, so a peer that
   * sends its first TLS bytes right behind the plaintext loses nothing. Throws `sslnotenabled`
   * without host TLS, else the TLS error (`sslhandshake`, `sslnottrusted`, `sslalertrecv`, …).
   */
  upgrade(options: TLSOptions | TLSServerOptions | true = true): Promise<Socket> {
    try {
      if (this._closed) throw new SocketError("socketclosed");
      if (this._kind !== "tcp" || !this._connected || !this.#tcp)
        throw this._readError() ?? new SocketError("incorrectuse", "upgrade needs a connected socket");
      if (this._tls) throw new SocketError("incorrectuse", "this socket is secured already");
      if (this.#reader) throw new SocketError("incorrectuse", "a read is waiting on this socket");
      const plan = isServerOptions(options)
        ? serverPlan(options)
        : clientPlan(options, this.#x?.peerHost ?? this.#tcp.remote?.address);
      return this._startTLS(this._tlsPlan(plan));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** True when the peer's certificate is trusted: it chains to a trusted CA and names `name` (default: the name the socket was verified for; a server checks no name). */
  trusted(name?: string): boolean {
    return this.trustError(name) === undefined;
  }

  /** Why `trusted(name)` is false, as in the seed: "cert", "cn", "certcn" or "none" (no certificate, or not TLS). */
  trustError(name?: string): TrustError | undefined {
    return trustError(this._tls?.session, name ?? this._tls?.plan.secure.serverName);
  }

  /** The negotiated cipher suite and protocol version (and ALPN protocol); undefined if not secured. */
  cipher(): CipherInfo | undefined {
    return cipherOf(this._tls?.session);
  }

  /** The peer's certificate: subject, issuer, validity, SHA-256 fingerprint; undefined if none. */
  certificate(): CertificateInfo | undefined {
    return this._tls?.session?.peerCertificate;
  }

  /** True once a TLS handshake on this socket completed. */
  get secure(): boolean {
    return this._tls?.phase === "done";
  }

  /** Checks that the host has TLS and takes `plan` (bad certificates or keys: `incorrectuse`). */
  private _tlsPlan(plan: TLSPlan): TLSPlan {
    const tls = this.rt.host.tls;
    if (!tls) throw notEnabled();
    try {
      tls.prepare?.(plan.secure);
    } catch (e) {
      throw new SocketError("incorrectuse", `TLS options: ${String((e as Error)?.message ?? e)}`);
    }
    return plan;
  }

  private async _secureAfter(connected: Promise<Socket>, plan: TLSPlan): Promise<Socket> {
    await connected;
    try {
      return await this._startTLS(plan);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  private _startTLS(plan: TLSPlan): Promise<Socket> {
    const w = new Waiter<Socket>();
    w.promise.catch(() => undefined); // adopted sockets have no caller waiting
    this._tls = { phase: "draining", plan, securing: w };
    if (!this.#wq) this._wrap();
    else {
      // plaintext written before the upgrade leaves first; later writes wait for the handshake
      this._tls.plain = this.#wq;
      this.#wq = undefined;
      this.rt.dispatcher.ready(this);
    }
    return w.promise;
  }

  private _drainPlain(): void {
    const t = this._tls!;
    const tcp = this.#tcp;
    if (tcp && this.#writable > 0 && t.plain) {
      const before = t.plain.bytes;
      try {
        this.#writable = t.plain.flush(tcp, this.#writable, this._maxWrite);
      } catch {
        this._hostFailed("error");
        return;
      }
      this._sent(before - t.plain.bytes);
    }
    if (t.plain?.empty) {
      t.plain = undefined;
      this._wrap();
    }
  }

  /** Hands the connection to the host's TLS; the handshake must end within the plan's timeout. */
  private _wrap(): void {
    const t = this._tls!;
    const buffered = this._pushback;
    this._pushback = undefined;
    this.#writable = 0; // nothing is written until the handshake completed (the first onWritable)
    t.phase = "handshake";
    let secured: TLS;
    try {
      const o = this._callbacks() as TLSWrapOptions;
      o.from = this.#tcp!;
      o.buffered = buffered;
      o.secure = t.plan.secure;
      secured = this.rt.host.tls!.wrap(o);
    } catch (e) {
      t.error = new SocketError("sslhandshake", String((e as Error)?.message ?? e));
      this._hostFailed("error");
      return;
    }
    this.#tcp = secured;
    const ms = t.plan.handshakeTimeout;
    t.securing!.cancelTimer = this.rt.dispatcher.timer(ms, () => {
      if (t.securing) t.securing.cancelTimer = undefined;
      t.error ??= handshakeTimedOut(ms);
      this._hostFailed("timeout");
    });
  }

  private _secured(): void {
    const t = this._tls!;
    const session = (this.#tcp as TLS).session;
    // A verifying client checks the name itself too (a host's TLS library may check only the
    // chain): before the caller gets the socket, so nothing is sent to a server not named.
    const { role, verify, serverName } = t.plan.secure;
    if (role === "client" && verify && serverName !== undefined && !(session?.peerCertificate && matchesName(session.peerCertificate, serverName))) {
      t.error = new SocketError("sslnottrusted", `the server's certificate is not for ${serverName}`);
      this._hostFailed("error");
      return;
    }
    const w = t.securing!;
    t.securing = undefined;
    t.phase = "done";
    t.session = session;
    w.settle();
    w.resolve(this);
    this._endIfDrained();
  }

  /** Fails a handshake in progress with `error`; true if there was one. */
  private _tlsSettle(error: SocketError): boolean {
    const t = this._tls;
    const w = t?.securing;
    if (!t || !w) return false;
    t.securing = undefined;
    t.phase = "failed";
    t.plain?.fail(error);
    t.plain = undefined;
    w.settle();
    w.reject(error);
    return true;
  }

  // ---------------------------------------------------------------- information

  /** notcon, exec, accept, connect, upgrade (TLS handshake), disabled, read, write or terminated. */
  state(): SocketState {
    if (this._closed || this._failure) return "terminated";
    if (this._tls?.securing) return "upgrade";
    if (this._connecting) return "connect";
    if (this._acceptor) return "accept";
    if (this.#reader) return "read";
    if (this._disabled) return "disabled";
    if (this.#wq?.writers) return "write";
    if (this._kind === "none") return "notcon";
    return "exec";
  }

  get closed(): boolean {
    return this._closed;
  }

  get isListener(): boolean {
    return this._kind === "listen";
  }

  /** The peer's address and port. */
  peername(): Endpoint | undefined {
    return this.#tcp?.remote;
  }

  /** This side's address and port (a listener's bound port). */
  sockname(): Endpoint | undefined {
    if (this._listener) return { address: this._listener.address, port: this._listener.port };
    return this.#tcp?.local;
  }

  /** `tcp-nodelay` (on) and `keepalive` (on, idle ms, interval ms). False if not applied. */
  setoption(name: "tcp-nodelay" | "keepalive", on: boolean, idleMs?: number, intervalMs?: number): boolean {
    const tcp = this.#tcp;
    if (!tcp) return false;
    if (name === "tcp-nodelay") return tcp.setOption("nodelay", on);
    if (name === "keepalive") return tcp.setOption("keepalive", on, idleMs, intervalMs);
    throw new SocketError("incorrectuse", `unknown option ${String(name)}`);
  }

  // ---------------------------------------------------------------- helpers

  private _timeout<T>(w: Waiter<T>, ms: number, clear: () => void): void {
    w.cancelTimer = this.rt.dispatcher.timer(ms, () => {
      w.cancelTimer = undefined;
      clear();
      w.reject(new SocketError("timeout"));
    });
  }

  private _track(): void {
    if (this._has(TRACKED)) return;
    const opened = Math.floor(this.rt.host.now() / 1000) & OPENED_MOD;
    this.#f = (this.#f & FLAG_BITS) | (opened << OPENED_SHIFT) | TRACKED;
    this.rt.track(this);
  }

  private _untrack(): void {
    if (!this._has(TRACKED)) return;
    this._put(TRACKED, false);
    this.rt.untrack(this);
  }
}

export type { SocketErrorCode };
