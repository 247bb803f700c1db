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
  TLS,
  TLSFailure,
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

const FAILURE: Record<HostErrorReason, string> = {
  refused: "connection refused",
  reset: "connection reset",
  timeout: "connection timed out",
  unreachable: "host unreachable",
  error: "connection failed",
};

export class Socket implements Serviced {
  inReadyQueue = false;
  readonly rt: Runtime;
  #kind: Kind = "none";
  #tcp: TCP | undefined;
  #listener: HostListener | undefined;
  #connected = false;
  #closed = false;
  #tracked = false;
  #mode: CoMode | undefined;
  #alive = false;
  #generation = 0; // which coroutine owns the socket (detach() starts a new generation)

  // read side
  #pushback: Uint8Array | undefined;
  #eof = false;
  #failure: HostErrorReason | undefined;
  #reader: Waiter<Uint8Array | null> | undefined;

  // write side
  #queue = new WriteQueue();
  #writable = 0;
  #queuelen: number;
  #maxWrite: number;
  #shutdown = false;
  #ended = false; // host.end() called

  // other waits
  #connecting: Waiter<Socket> | undefined;
  #acceptor: Waiter<Socket | null> | undefined;
  #pending = 0;
  #disabled: Waiter<unknown[]> | undefined;
  #enabledEarly: unknown[] | undefined;
  #lingerCancel: (() => void) | undefined;

  // TLS (see tls.ts)
  #tls: SocketTLS<Socket> | undefined;
  #peerHost: string | undefined; // the name given to connect: the default TLS server name
  #listenTLS: TLSPlan | undefined; // a TLS listener's plan for the connections it accepts

  constructor(rt: Runtime) {
    this.rt = rt;
    this.#queuelen = rt.options.queuelen;
    this.#maxWrite = rt.options.maxWrite;
  }

  // ---------------------------------------------------------------- connecting and binding

  /**
   * Connects this socket (it must be unconnected: a fresh socket or an unconnected cosocket's own
   * socket). Resolves with this socket; throws `cannotresolve` or `cannotconnect`.
   */
  async connect(host: string, port: number, options: ConnectOptions = {}): Promise<Socket> {
    const tls = options.tls === undefined ? undefined : this.#tlsPlan(clientPlan(options.tls, host));
    this.#claim("tcp");
    this.#peerHost = host;
    const waiter = new Waiter<Socket>();
    this.#connecting = waiter;
    const timeout = options.timeout ?? this.rt.options.connectTimeout;
    waiter.cancelTimer = this.rt.dispatcher.timer(timeout, () => {
      waiter.cancelTimer = undefined;
      this.#hostFailed("timeout"); // rejects the waiter with cannotconnect
    });
    let address: string;
    try {
      address = await this.rt.toip(host);
    } catch (e) {
      if (this.#connecting === waiter) {
        this.#connecting = undefined;
        waiter.settle();
        this.#failure = "unreachable";
      }
      throw e;
    }
    if (this.#connecting !== waiter) return tls ? this.#secureAfter(waiter.promise, tls) : waiter.promise; // timed out or closed meanwhile
    this.#tcp = this.rt.host.tcp({
      address,
      port,
      nodelay: options.nodelay ?? this.rt.options.nodelay,
      onReadable: this.#onReadable,
      onWritable: this.#onWritable,
      onEnd: this.#onEnd,
      onError: this.#onError,
    });
    return tls ? this.#secureAfter(waiter.promise, tls) : waiter.promise;
  }

  /** Makes this unconnected socket a listener on `port` (0 picks one). Throws `bind` if in use. */
  async bind(port: number, options: BindOptions = {}): Promise<Socket> {
    if (options.tls) this.#listenTLS = this.#tlsPlan(serverPlan(options.tls));
    this.#claim("listen");
    const waiter = new Waiter<Socket>();
    this.#connecting = waiter;
    this.#listener = this.rt.host.listener({
      port,
      address: options.intf,
      onReadable: (pending) => {
        this.#pending = pending;
        if (this.#acceptor) this.rt.dispatcher.ready(this);
      },
      onReady: () => {
        this.#connecting = undefined;
        this.#connected = true;
        waiter.resolve(this);
      },
      onError: (reason) => {
        const w = this.#connecting;
        this.#connecting = undefined;
        this.#listener = undefined;
        this.#untrack();
        if (w) w.reject(new SocketError("bind", `port ${port}: ${reason}`));
        else this.#acceptor?.resolve(null);
      },
    });
    this.#track();
    return waiter.promise;
  }

  /** Waits for the next connection on a listening socket; null once the listener is closed. */
  accept(timeout?: number): Promise<Socket | null> {
    if (this.#kind !== "listen") return Promise.reject(new SocketError("incorrectuse", "accept needs a listening socket"));
    if (this.#closed || !this.#listener) return Promise.resolve(null);
    if (this.#acceptor) return Promise.reject(new SocketError("incorrectuse", "another accept is waiting"));
    const w = new Waiter<Socket | null>();
    this.#acceptor = w;
    if (timeout !== undefined) this.#timeout(w, timeout, () => (this.#acceptor = undefined));
    this.rt.dispatcher.ready(this);
    return w.promise;
  }

  /** Wraps a connection taken from a host listener; with `tls`, starts its handshake. */
  static adopt(rt: Runtime, from: PendingConnection, tls?: TLSPlan): Socket {
    const s = new Socket(rt);
    s.#kind = "tcp";
    s.#tcp = rt.host.tcp({
      from,
      nodelay: rt.options.nodelay,
      onReadable: s.#onReadable,
      onWritable: s.#onWritable,
      onEnd: s.#onEnd,
      onError: s.#onError,
    });
    s.#connected = true;
    s.#track();
    if (tls) s.#startTLS(tls).catch(() => undefined); // a failure is kept: reads and writes throw it
    return s;
  }

  #claim(kind: Kind): void {
    if (this.#closed) throw new SocketError("socketclosed");
    if (this.#kind !== "none")
      throw new SocketError("incorrectuse", "this socket is already connected or bound (one socket per cosocket)");
    this.#kind = kind;
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
    if (this.#alive) throw new SocketError("incorrectuse", "this socket already has a coroutine");
    if (this.#closed) throw new SocketError("socketclosed");
    this.#mode = mode;
    this.#alive = true;
    const generation = ++this.#generation;
    let result: unknown;
    try {
      result = fn(this, ...args);
    } catch (e) {
      this.#finish(generation, e);
      return this;
    }
    Promise.resolve(result).then(
      () => this.#finish(generation, undefined),
      (e) => this.#finish(generation, e),
    );
    return this;
  }

  #finish(generation: number, error: unknown): void {
    if (error !== undefined && !(error instanceof SocketError))
      this.rt.options.log(`cosock: coroutine failed: ${(error as Error)?.stack ?? error}`);
    if (generation !== this.#generation) return; // the socket was handed to another owner
    this.#alive = false;
    this.close();
  }

  /**
   * Hands the socket over: the running coroutine no longer owns it (its end will not close the
   * socket) and a new `event()` may be started on it. Used when a connection changes owner, as in
   * `req2sock` and `sock2req`.
   */
  detach(): void {
    this.#generation++;
    this.#alive = false;
    this.#mode = undefined;
  }

  /** True while this socket's coroutine runs. */
  get alive(): boolean {
    return this.#alive;
  }

  /** The coroutine mode given to `event`, if any. */
  get mode(): CoMode | undefined {
    return this.#mode;
  }

  /**
   * Suspends the owner until `enable(...values)`; resolves with those values. If `enable` came
   * first, resolves at once with its values (no wake-up is lost).
   */
  disable(): Promise<unknown[]> {
    if (this.#closed) return Promise.reject(new SocketError("socketclosed"));
    if (this.#disabled) return Promise.reject(new SocketError("incorrectuse", "already disabled"));
    if (this.#enabledEarly) {
      const v = this.#enabledEarly;
      this.#enabledEarly = undefined;
      return Promise.resolve(v);
    }
    this.#disabled = new Waiter<unknown[]>();
    return this.#disabled.promise;
  }

  /** Resumes a disabled owner with `values`; true if the socket's coroutine is still alive. */
  enable(...values: unknown[]): boolean {
    if (this.#closed) return false;
    const w = this.#disabled;
    if (w) {
      this.#disabled = undefined;
      w.resolve(values);
    } else this.#enabledEarly = values;
    return this.#alive;
  }

  // ---------------------------------------------------------------- reading

  /**
   * The next bytes (at most `maxRead`), or null at the peer's orderly close. With `timeout` (ms) a
   * read that waits too long throws `timeout` and the socket stays usable. On an unconnected
   * socket, `read(ms)` is a sleep that throws `timeout` when it ends.
   */
  read(timeout?: number): Promise<Uint8Array | null> {
    if (this.#reader) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this socket"));
    if (this.#kind === "none" && !this.#closed) {
      if (timeout === undefined)
        return Promise.reject(new SocketError("incorrectuse", "read on an unconnected socket needs a timeout"));
      return this.rt.sleep(timeout).then(() => {
        throw new SocketError("timeout");
      });
    }
    if (this.#kind === "listen") return Promise.reject(new SocketError("incorrectuse", "read on a listening socket"));
    const data = this.#take();
    if (data) return Promise.resolve(data);
    const err = this.#readError();
    if (err !== undefined) return err === null ? Promise.resolve(null) : Promise.reject(err);
    const w = new Waiter<Uint8Array | null>();
    this.#reader = w;
    if (timeout !== undefined) this.#timeout(w, timeout, () => (this.#reader = undefined));
    return w.promise;
  }

  /** Puts bytes back in front of the read buffer; the next read returns them first. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const p = this.#pushback;
    if (!p) this.#pushback = bytes;
    else {
      const joined = new Uint8Array(bytes.length + p.length);
      joined.set(bytes, 0);
      joined.set(p, bytes.length);
      this.#pushback = joined;
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

  #take(): Uint8Array | undefined {
    if (this.#tls?.phase === "draining") return undefined; // read-ahead bytes belong to the handshake
    const p = this.#pushback;
    const max = this.rt.options.maxRead;
    if (p) {
      if (p.length <= max) {
        this.#pushback = undefined;
        return p;
      }
      this.#pushback = p.subarray(max);
      return p.subarray(0, max);
    }
    if (!this.#tcp || this.#failure) return undefined;
    return this.#tcp.read(max);
  }

  /** undefined: nothing to report (wait); null: end-of-stream; else the error to throw. */
  #readError(): SocketError | null | undefined {
    if (this.#failure) return this.#tls?.error ?? new SocketError("socketreadfailed", FAILURE[this.#failure]);
    if (this.#closed) return new SocketError("socketclosed");
    if (this.#eof) return null;
    return undefined;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Sends `data` (strings as UTF-8), suspending the caller while the socket cannot take it:
   * on a cosocket ("s") once the queue holds more than `suspendAt` bytes, otherwise until the
   * caller's bytes have been handed to the host. Resolves true when accepted. Throws
   * `socketclosed` / `socketwritefailed`.
   */
  write(data: Payload): Promise<true> {
    const err = this.#writeError();
    if (err) return Promise.reject(err);
    let bytes: Uint8Array;
    let rest: Uint8Array | undefined;
    try {
      bytes = toBytes(data);
      rest = this.#queue.empty ? this.#sendDirect(bytes) : bytes;
    } catch (e) {
      return Promise.reject(e); // a refused host write or a bad argument: a rejection, never a throw
    }
    if (!rest) return RESOLVED_TRUE;
    const limit = this.#mode === "s" ? this.rt.options.suspendAt : 0;
    if (this.#queue.bytes + rest.length <= limit) {
      this.#queue.push(typeof data === "string" ? rest : rest.slice(), null);
      return RESOLVED_TRUE;
    }
    const w = new Waiter<true>();
    this.#queue.push(rest, w);
    return w.promise;
  }

  /**
   * Sends `data` without ever suspending: true if accepted (sent or queued), or, when the queue
   * already holds `queuelen` bytes or more, the number of bytes queued (nothing is taken).
   * Throws `socketclosed` / `socketwritefailed`.
   */
  trywrite(data: Payload): true | number {
    const err = this.#writeError();
    if (err) throw err;
    if (this.#queue.bytes >= this.#queuelen && this.#queue.bytes > 0) return this.#queue.bytes;
    const bytes = toBytes(data);
    const rest = this.#queue.empty ? this.#sendDirect(bytes) : bytes;
    if (rest) this.#queue.push(typeof data === "string" ? rest : rest.slice(), null);
    return true;
  }

  /** Writes what the host takes now; returns what is left, or undefined if all was sent. */
  #sendDirect(bytes: Uint8Array): Uint8Array | undefined {
    const tcp = this.#tcp;
    if (!tcp || !this.#connected || this.#tls?.phase === "draining") return bytes.length ? bytes : undefined;
    let off = 0;
    try {
      while (off < bytes.length && this.#writable > 0) {
        const n = Math.min(bytes.length - off, this.#writable, this.#maxWrite);
        this.#writable = tcp.write(n === bytes.length ? bytes : bytes.subarray(off, off + n));
        off += n;
      }
    } catch (e) {
      this.#hostFailed("error");
      throw new SocketError("socketwritefailed", String((e as Error)?.message ?? e));
    }
    return off === bytes.length ? undefined : off === 0 ? bytes : bytes.subarray(off);
  }

  #writeError(): SocketError | undefined {
    if (this.#closed) return new SocketError("socketclosed");
    if (this.#failure) return this.#tls?.error ?? new SocketError("socketwritefailed", FAILURE[this.#failure]);
    if (this.#shutdown) return new SocketError("socketwritefailed", "the socket was shut down for writing");
    if (this.#kind !== "tcp") return new SocketError("incorrectuse", "write on a socket that is not connected");
    return undefined;
  }

  /** The queue limit for non-suspending writers; sets it when `max` is given; returns the previous one. */
  queuelen(max?: number): number {
    const prev = this.#queuelen;
    if (max !== undefined) {
      if (!(max >= 0)) throw new SocketError("incorrectuse", "queuelen must be >= 0");
      this.#queuelen = max;
    }
    return prev;
  }

  /** Most bytes per host write (the seed's send chunk size); returns the previous value. */
  maxsize(n?: number): number {
    const prev = this.#maxWrite;
    if (n !== undefined) {
      if (!(n >= 1)) throw new SocketError("incorrectuse", "maxsize must be >= 1");
      this.#maxWrite = Math.floor(n);
    }
    return prev;
  }

  /** Bytes waiting in this socket's send queue. */
  get queued(): number {
    return this.#queue.bytes;
  }

  /** Writers suspended on this socket. */
  get suspendedWriters(): number {
    return this.#queue.writers;
  }

  /** Half-close: queued bytes are still sent, then the peer reads end-of-stream. Reading goes on. */
  shutdown(): void {
    if (this.#closed || this.#shutdown || this.#kind !== "tcp") return;
    this.#shutdown = true;
    this.#endIfDrained();
  }

  // ---------------------------------------------------------------- host events

  #onReadable = (_count: number): void => {
    if (this.#reader || this.#closed) this.rt.dispatcher.ready(this);
  };

  #onWritable = (count: number): void => {
    this.#writable = count;
    if (this.#tls?.phase === "handshake") this.#secured();
    if (!this.#connected) {
      this.#connected = true;
      this.#track();
      const w = this.#connecting;
      this.#connecting = undefined;
      if (w) {
        w.settle();
        w.resolve(this);
      }
    }
    if (!this.#queue.empty || this.#tls?.plain) this.rt.dispatcher.ready(this);
  };

  #onEnd = (): void => {
    if (this.#tls?.securing) {
      this.#tls.error ??= tlsError(undefined, "end", true);
      this.#hostFailed("reset");
      return;
    }
    this.#eof = true;
    if (this.#closed) this.#dropHost();
    else if (this.#reader) this.rt.dispatcher.ready(this);
  };

  #onError = (reason: HostErrorReason, tls?: TLSFailure): void => {
    if (this.#tls) this.#tls.error ??= tlsError(tls, reason, this.#tls.securing !== undefined);
    this.#hostFailed(reason);
  };

  #hostFailed(reason: HostErrorReason): void {
    if (this.#failure) return;
    this.#failure = reason;
    const tcp = this.#tcp;
    this.#tcp = undefined;
    try {
      tcp?.close();
    } catch {
      /* already dead */
    }
    const writeError = this.#tls?.error ?? new SocketError("socketwritefailed", FAILURE[reason]);
    this.#tls?.plain?.fail(writeError);
    this.#queue.fail(writeError);
    if (this.#tls?.securing) this.#tlsSettle(this.#tls.error ?? tlsError(undefined, reason, true)!);
    const c = this.#connecting;
    if (c) {
      this.#connecting = undefined;
      c.settle();
      c.reject(new SocketError("cannotconnect", FAILURE[reason]));
    }
    if (this.#closed) this.#finishLinger();
    else if (this.#reader) this.rt.dispatcher.ready(this);
    this.#untrack();
  }

  /** Called by the dispatcher: move bytes out, wake the reader or the acceptor. */
  service(): void {
    if (this.#tls?.phase === "draining") this.#drainPlain();
    const tcp = this.#tcp;
    if (tcp && this.#connected && this.#writable > 0 && !this.#queue.empty && this.#tls?.phase !== "draining") {
      try {
        this.#writable = this.#queue.flush(tcp, this.#writable, this.#maxWrite);
      } catch {
        this.#hostFailed("error");
        return;
      }
      this.#endIfDrained();
    }
    if (this.#closed) {
      // lingering after close(): discard what arrives so the peer's close is seen
      while (this.#tcp?.read()) {
        /* discard */
      }
      return;
    }
    const r = this.#reader;
    if (r) {
      const data = this.#take();
      const err = data ? undefined : this.#readError();
      if (data || err !== undefined) {
        this.#reader = undefined;
        r.settle();
        if (data) r.resolve(data);
        else if (err === null) r.resolve(null);
        else r.reject(err);
      }
    }
    const a = this.#acceptor;
    if (a && this.#listener) {
      const from = this.#listener.read();
      if (from) {
        this.#acceptor = undefined;
        a.settle();
        a.resolve(Socket.adopt(this.rt, from, this.#listenTLS));
      }
    }
  }

  #endIfDrained(): void {
    if ((this.#shutdown || this.#closed) && this.#queue.empty && !this.#ended && this.#tcp && this.#connected && !this.#tls?.securing) {
      this.#ended = true;
      this.#tcp.end();
      if (this.#closed && this.#eof) this.#dropHost();
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
    if (this.#closed) return false;
    this.#closed = true;
    const closed = new SocketError("socketclosed");
    const r = this.#reader;
    if (r) {
      this.#reader = undefined;
      r.settle();
      r.reject(closed);
    }
    const a = this.#acceptor;
    if (a) {
      this.#acceptor = undefined;
      a.settle();
      a.resolve(null);
    }
    const c = this.#connecting;
    if (c) {
      this.#connecting = undefined;
      c.settle();
      c.reject(closed);
    }
    const d = this.#disabled;
    if (d) {
      this.#disabled = undefined;
      d.reject(closed);
    }
    this.#queue.dropSuspended(closed);
    const handshaking = this.#tlsSettle(closed); // a connection closed mid-handshake is dropped
    if (this.#listener) {
      this.#listener.close();
      this.#listener = undefined;
    }
    if (this.#tcp && this.#connected && !this.#failure && !handshaking) {
      this.#lingerCancel = this.rt.dispatcher.timer(this.rt.options.lingerTimeout, () => this.abort());
      this.rt.lingering.add(this);
      this.#endIfDrained();
      this.rt.dispatcher.ready(this); // discard unread input so the peer's FIN is seen
    } else this.#dropHost();
    this.#untrack();
    return true;
  }

  #dropHost(): void {
    const tcp = this.#tcp;
    this.#tcp = undefined;
    if (tcp)
      try {
        tcp.close();
      } catch {
        /* already closed */
      }
    this.#finishLinger();
  }

  #finishLinger(): void {
    if (this.#lingerCancel) {
      this.#lingerCancel();
      this.#lingerCancel = undefined;
    }
    this.rt.lingering.delete(this);
  }

  /** Closes at once: like `close()`, but bytes still queued are dropped instead of sent. */
  abort(): void {
    this.close();
    this.#queue.fail(new SocketError("socketclosed"));
    this.#dropHost();
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
      if (this.#closed) throw new SocketError("socketclosed");
      if (this.#kind !== "tcp" || !this.#connected || !this.#tcp)
        throw this.#readError() ?? new SocketError("incorrectuse", "upgrade needs a connected socket");
      if (this.#tls) throw new SocketError("incorrectuse", "this socket is secured already");
      if (this.#reader) throw new SocketError("incorrectuse", "a read is waiting on this socket");
      const plan = isServerOptions(options)
        ? serverPlan(options)
        : clientPlan(options, this.#peerHost ?? this.#tcp.remote?.address);
      return this.#startTLS(this.#tlsPlan(plan));
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
    return trustError(this.#tls?.session, name ?? this.#tls?.plan.secure.serverName);
  }

  /** The negotiated cipher suite and protocol version (and ALPN protocol); undefined if not secured. */
  cipher(): CipherInfo | undefined {
    return cipherOf(this.#tls?.session);
  }

  /** The peer's certificate: subject, issuer, validity, SHA-256 fingerprint; undefined if none. */
  certificate(): CertificateInfo | undefined {
    return this.#tls?.session?.peerCertificate;
  }

  /** True once a TLS handshake on this socket completed. */
  get secure(): boolean {
    return this.#tls?.phase === "done";
  }

  /** Checks that the host has TLS and takes `plan` (bad certificates or keys: `incorrectuse`). */
  #tlsPlan(plan: TLSPlan): TLSPlan {
    const tls = this.rt.host.tls;
    if (!tls) throw notEnabled();
    try {
      tls.prepare?.(plan.secure);
    } catch (e) {
      throw new SocketError("incorrectuse", `TLS options: ${String((e as Error)?.message ?? e)}`);
    }
    return plan;
  }

  async #secureAfter(connected: Promise<Socket>, plan: TLSPlan): Promise<Socket> {
    await connected;
    try {
      return await this.#startTLS(plan);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  #startTLS(plan: TLSPlan): Promise<Socket> {
    const w = new Waiter<Socket>();
    w.promise.catch(() => undefined); // adopted sockets have no caller waiting
    this.#tls = { phase: "draining", plan, securing: w };
    if (this.#queue.empty) this.#wrap();
    else {
      // plaintext written before the upgrade leaves first; later writes wait for the handshake
      this.#tls.plain = this.#queue;
      this.#queue = new WriteQueue();
      this.rt.dispatcher.ready(this);
    }
    return w.promise;
  }

  #drainPlain(): void {
    const t = this.#tls!;
    const tcp = this.#tcp;
    if (tcp && this.#writable > 0 && t.plain) {
      try {
        this.#writable = t.plain.flush(tcp, this.#writable, this.#maxWrite);
      } catch {
        this.#hostFailed("error");
        return;
      }
    }
    if (t.plain?.empty) {
      t.plain = undefined;
      this.#wrap();
    }
  }

  /** Hands the connection to the host's TLS; the handshake must end within the plan's timeout. */
  #wrap(): void {
    const t = this.#tls!;
    const buffered = this.#pushback;
    this.#pushback = undefined;
    this.#writable = 0; // nothing is written until the handshake completed (the first onWritable)
    t.phase = "handshake";
    let secured: TLS;
    try {
      secured = this.rt.host.tls!.wrap({
        from: this.#tcp!,
        buffered,
        secure: t.plan.secure,
        onReadable: this.#onReadable,
        onWritable: this.#onWritable,
        onEnd: this.#onEnd,
        onError: this.#onError,
      });
    } catch (e) {
      t.error = new SocketError("sslhandshake", String((e as Error)?.message ?? e));
      this.#hostFailed("error");
      return;
    }
    this.#tcp = secured;
    const ms = t.plan.handshakeTimeout;
    t.securing!.cancelTimer = this.rt.dispatcher.timer(ms, () => {
      if (t.securing) t.securing.cancelTimer = undefined;
      t.error ??= handshakeTimedOut(ms);
      this.#hostFailed("timeout");
    });
  }

  #secured(): void {
    const t = this.#tls!;
    const w = t.securing!;
    t.securing = undefined;
    t.phase = "done";
    t.session = (this.#tcp as TLS).session;
    w.settle();
    w.resolve(this);
    this.#endIfDrained();
  }

  /** Fails a handshake in progress with `error`; true if there was one. */
  #tlsSettle(error: SocketError): boolean {
    const t = this.#tls;
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
    if (this.#closed || this.#failure) return "terminated";
    if (this.#tls?.securing) return "upgrade";
    if (this.#connecting) return "connect";
    if (this.#acceptor) return "accept";
    if (this.#reader) return "read";
    if (this.#disabled) return "disabled";
    if (this.#queue.writers > 0) return "write";
    if (this.#kind === "none") return "notcon";
    return "exec";
  }

  get closed(): boolean {
    return this.#closed;
  }

  get isListener(): boolean {
    return this.#kind === "listen";
  }

  /** The peer's address and port. */
  peername(): Endpoint | undefined {
    return this.#tcp?.remote;
  }

  /** This side's address and port (a listener's bound port). */
  sockname(): Endpoint | undefined {
    if (this.#listener) return { address: this.#listener.address, port: this.#listener.port };
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

  #timeout<T>(w: Waiter<T>, ms: number, clear: () => void): void {
    w.cancelTimer = this.rt.dispatcher.timer(ms, () => {
      w.cancelTimer = undefined;
      clear();
      w.reject(new SocketError("timeout"));
    });
  }

  #track(): void {
    if (this.#tracked) return;
    this.#tracked = true;
    this.rt.track(this);
  }

  #untrack(): void {
    if (!this.#tracked) return;
    this.#tracked = false;
    this.rt.untrack(this);
  }
}

export type { SocketErrorCode };
