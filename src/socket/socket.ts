/**
 * A TCP socket of the runtime: unconnected (a cosocket that has not connected yet), connected,
 * or listening. One class, because in the seed a cosocket's own socket becomes whichever of these
 * its first `connect` or `bind` makes it. It is built in layers, one concern per file, every
 * method on a prototype:
 *
 * | file | what |
 * |---|---|
 * | base.ts | the fields, the lifecycle state (`_life`) and flags in one number, `Extra` |
 * | read.ts | `read`, `readInto`, `unread`, the line/exact/delimiter readers |
 * | close.ts | `close`, `abort`, `shutdown`, and `_end`: the one place a socket ends or fails |
 * | write.ts | `write`, `trywrite`, the send queue's flow control |
 * | coroutine.ts | `event`, `detach`, `disable`/`enable`: the coroutine that owns the socket |
 * | socket.ts | connecting, binding and accepting; the TLS API; information; the host's callbacks |
 * | tls-phase.ts | a TLS session's phases (STARTTLS drain, handshake), made only when TLS is used |
 * | types.ts | the public types |
 */
import { SocketError } from "../errors.js";
import type {
  CertificateInfo,
  Endpoint,
  HostErrorReason,
  PendingConnection,
  TCPAdoptOptions,
  TCPCallbacks,
  TCPConnectOptions,
  TLSFailure,
} from "../host.js";
import { settleWaiter, Waiter } from "../waiter.js";
import type { Runtime } from "../runtime.js";
import {
  cipherOf,
  clientPlan,
  isServerOptions,
  notEnabled,
  serverPlan,
  trustError,
  type CipherInfo,
  type TLSOptions,
  type TLSPlan,
  type TLSServerOptions,
  type TrustError,
} from "../tls.js";
import { BINDING, CONNECTING, EOF, LISTENER, NOTCON, OPEN, OPENED_MOD, OPENED_SHIFT, TRACKED, UPGRADING } from "./base.js";
import { FAIL } from "./close.js";
import { SocketCoroutines } from "./coroutine.js";
import { TlsPhase } from "./tls-phase.js";
import type { BindOptions, ConnectOptions, SocketState, SocketStat } from "./types.js";
import type { SocketErrorCode } from "../errors.js";

export type {
  BindOptions,
  CoMode,
  ConnectOptions,
  CoroutineOwner,
  ReadConsumer,
  ReadOutcome,
  SocketKind,
  SocketMode,
  SocketState,
  SocketStat,
} from "./types.js";
export type { SocketErrorCode };

export type { Cosocket } from "./coroutine.js";

/** Per connection on the device: follows the XS memory rules (docs/contributing.md), as do its layers. */
export class Socket extends SocketCoroutines {
  /** The host callbacks: shared by every socket, which the host passes as `this` (the seam's `target`). */
  _callbacks(): TCPCallbacks {
    return {
      target: this,
      onReadable: Socket.#hostReadable,
      onWritable: Socket.#hostWritable,
      onEnd: Socket.#hostEnd,
      onError: Socket.#hostError,
    };
  }

  // ---------------------------------------------------------------- connecting and binding

  /**
   * Connects this socket (it must be unconnected: a fresh socket or an unconnected cosocket's own
   * socket). Resolves with this socket; throws `cannotresolve` or `cannotconnect`.
   */
  connect(host: string, port: number, options: ConnectOptions = {}): Promise<Socket> {
    // Not async: the connect timer is set from here, on top of every caller's frames, and on XS
    // an async function holds two frames and a host frame until it first waits (the device's
    // stack is 384 slots; docs/contributing.md, "The stack").
    let tls: TLSPlan | undefined;
    try {
      tls = options.tls === undefined ? undefined : this._tlsPlan(clientPlan(options.tls, host));
      this._claim(CONNECTING);
    } catch (e) {
      return Promise.reject(e);
    }
    const waiter = new Waiter<Socket>();
    this._extra().connecting = waiter;
    const timeout = options.timeout ?? this.rt.options.connectTimeout;
    waiter.cancelTimer = this.rt.dispatcher.timer(timeout, () => {
      waiter.cancelTimer = undefined;
      this._end(FAIL, "timeout"); // rejects the waiter with cannotconnect
    });
    return this.rt.toip(host).then(
      (address) => {
        if (this._x?.connecting === waiter) {
          if (host !== address && this.rt.host.tls) this._extra().peerHost = host; // upgrade()'s default server name
          const o = this._callbacks() as TCPConnectOptions;
          o.address = address;
          o.port = port;
          o.nodelay = options.nodelay ?? this.rt.options.nodelay;
          this._tcp = this.rt.host.tcp(o);
        } // else timed out or closed meanwhile: the waiter is settled
        return tls ? this._secureAfter(waiter.promise, tls) : waiter.promise;
      },
      (e: unknown) => {
        if (this._x?.connecting === waiter) {
          this._x.connecting = undefined; // the caller gets `e`, not the waiter's cannotconnect
          waiter.settle();
          this._end(FAIL, "unreachable");
        }
        throw e;
      },
    );
  }

  /** Makes this unconnected socket a listener on `port` (0 picks one). Throws `bind` if in use. */
  async bind(port: number, options: BindOptions = {}): Promise<Socket> {
    if (options.tls) this._extra().listenTLS = this._tlsPlan(serverPlan(options.tls));
    this._claim(BINDING);
    const waiter = new Waiter<Socket>();
    this._extra().connecting = waiter;
    this._extra().listener = this.rt.host.listener({
      port,
      address: options.intf,
      onReadable: () => {
        if (this._x?.acceptor) this.rt.dispatcher.ready(this);
      },
      onReady: () => {
        if (this._life === BINDING) this._setLife(LISTENER);
        settleWaiter(this._x, "connecting", undefined, this);
      },
      onError: (reason) => {
        const x = this._x!;
        const binding = x.connecting !== undefined;
        x.listener = undefined;
        this._untrack();
        if (this._life === BINDING) this._setLife(LISTENER); // a listener without a host listener: accept gets null
        if (binding) settleWaiter(x, "connecting", new SocketError("bind", `port ${port}: ${reason}`));
        else settleWaiter(x, "acceptor", undefined, null);
      },
    });
    this._track();
    return waiter.promise;
  }

  /** Waits for the next connection on a listening socket; null once the listener is closed. */
  accept(timeout?: number): Promise<Socket | null> {
    if (this._kind !== "listen") return Promise.reject(new SocketError("incorrectuse", "accept needs a listening socket"));
    const x = this._x;
    if (this._closed || !x?.listener) return Promise.resolve(null);
    if (x.acceptor) return Promise.reject(new SocketError("incorrectuse", "another accept is waiting"));
    const w = new Waiter<Socket | null>();
    x.acceptor = w;
    if (timeout !== undefined) this._timeout(w, timeout, () => (x.acceptor = undefined));
    this.rt.dispatcher.ready(this);
    return w.promise;
  }

  /** Wraps a connection taken from a host listener; with `tls`, starts its handshake. */
  static adopt(rt: Runtime, from: PendingConnection, tls?: TLSPlan): Socket {
    const s = new Socket(rt);
    s._setLife(OPEN);
    const o = s._callbacks() as TCPAdoptOptions;
    o.from = from;
    o.nodelay = rt.options.nodelay;
    s._tcp = rt.host.tcp(o);
    s._track();
    if (tls) s._startTLS(tls).catch(() => undefined); // a failure is kept: reads and writes throw it
    return s;
  }

  /** An unconnected socket becomes a connection (CONNECTING) or a listener (BINDING). */
  _claim(life: number): void {
    if (this._closed) throw new SocketError("socketclosed");
    if (this._life !== NOTCON) throw new SocketError("incorrectuse", "this socket is already connected or bound (one socket per cosocket)");
    this._setLife(life);
  }

  // ---------------------------------------------------------------- TLS (the phases: tls-phase.ts)

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
      const life = this._life;
      if ((life !== OPEN && life !== UPGRADING) || !this._tcp)
        throw this._readError() ?? new SocketError("incorrectuse", "upgrade needs a connected socket");
      if (this._tls) throw new SocketError("incorrectuse", "this socket is secured already");
      if (this._reader) throw new SocketError("incorrectuse", "a read is waiting on this socket");
      const plan = isServerOptions(options) ? serverPlan(options) : clientPlan(options, this._x?.peerHost ?? this._tcp.remote?.address);
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
  _tlsPlan(plan: TLSPlan): TLSPlan {
    const tls = this.rt.host.tls;
    if (!tls) throw notEnabled();
    try {
      tls.prepare?.(plan.secure);
    } catch (e) {
      throw new SocketError("incorrectuse", `TLS options: ${String((e as Error)?.message ?? e)}`);
    }
    return plan;
  }

  async _secureAfter(connected: Promise<Socket>, plan: TLSPlan): Promise<Socket> {
    await connected;
    try {
      return await this._startTLS(plan);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  _startTLS(plan: TLSPlan): Promise<Socket> {
    return TlsPhase.start(this, plan);
  }

  // ---------------------------------------------------------------- information

  /** notcon, exec, accept, connect, upgrade (TLS handshake), disabled, read, write or terminated. */
  state(): SocketState {
    const life = this._lifeState;
    if (life !== "exec" && life !== "notcon") return life;
    // unconnected or open: what its owner waits for, if anything
    const x = this._x;
    if (x?.acceptor) return "accept";
    if (this._reader) return "read";
    if (x?.disabled) return "disabled";
    if (this._wq?.writers) return "write";
    return life;
  }

  get closed(): boolean {
    return this._closed;
  }

  get isListener(): boolean {
    return this._kind === "listen";
  }

  /** The peer's address and port. */
  peername(): Endpoint | undefined {
    return this._tcp?.remote;
  }

  /** This side's address and port (a listener's bound port). */
  sockname(): Endpoint | undefined {
    const listener = this._x?.listener;
    if (listener) return { address: listener.address, port: listener.port };
    return this._tcp?.local;
  }

  /** `tcp-nodelay` (on) and `keepalive` (on, idle ms, interval ms). False if not applied. */
  setoption(name: "tcp-nodelay" | "keepalive", on: boolean, idleMs?: number, intervalMs?: number): boolean {
    const tcp = this._tcp;
    if (!tcp) return false;
    if (name === "tcp-nodelay") return tcp.setOption("nodelay", on);
    if (name === "keepalive") return tcp.setOption("keepalive", on, idleMs, intervalMs);
    throw new SocketError("incorrectuse", `unknown option ${String(name)}`);
  }

  /** Bytes read from the host so far (after TLS: the plaintext). */
  get bytesIn(): number {
    return this._in;
  }

  /** Bytes handed to the host so far (after TLS: the plaintext). */
  get bytesOut(): number {
    return this._out;
  }

  /**
   * ms since the socket was opened (connected, accepted or bound), in whole seconds of the host
   * clock; 0 before. Kept modulo 2^20 s: it starts again from 0 after about 12 days.
   */
  get age(): number {
    if (!this._has(TRACKED)) return 0;
    const now = Math.floor(this.rt.host.now() / 1000);
    return ((now - (this._f >>> OPENED_SHIFT)) & OPENED_MOD) * 1000;
  }

  /** This socket's figures for `Runtime.socketStats()`. */
  stat(): SocketStat {
    const listens = this._kind === "listen";
    const local = this.sockname();
    const peer = listens ? undefined : this.peername();
    const mode = this.mode;
    const reader = this._reader;
    return {
      kind: listens ? "listener" : this._tls ? "tls" : "tcp",
      mode: mode === "s" ? "cosocket" : mode === "r" ? "async" : "blocking",
      wrapped: this._x?.owner !== undefined || (reader !== undefined && typeof reader !== "function"),
      local: local ? `${local.address}:${local.port}` : "",
      peer: peer ? `${peer.address}:${peer.port}` : "",
      state: this.state(),
      bytesIn: this._in,
      bytesOut: this._out,
      queued: this.queued,
      queuelen: this._queuelen,
      writers: this.suspendedWriters,
      age: this.age,
    };
  }

  // ---------------------------------------------------------------- the dispatcher and the host

  /** Called by the dispatcher: move bytes out, wake the reader or the acceptor. */
  service(): void {
    this._tls?.service(this);
    if (!this._flush()) return;
    if (this._closed) {
      // lingering after close(): discard what arrives so the peer's close is seen
      while (this._tcp?.read()) {
        /* discard */
      }
      return;
    }
    if (this._reader) {
      const outcome = this._readNow();
      if (outcome !== undefined) this._resume(outcome);
    }
    const x = this._x;
    const listener = x?.listener;
    if (x?.acceptor && listener) {
      const from = listener.read();
      if (from) settleWaiter(x, "acceptor", undefined, Socket.adopt(this.rt, from, x.listenTLS));
    }
  }

  // Static: one function for every socket; the host calls it with the socket as `this`.

  static #hostReadable(this: Socket): void {
    if (this._reader || this._closed) this.rt.dispatcher.ready(this);
  }

  static #hostWritable(this: Socket, count: number): void {
    this._writable = count;
    const plain = this._tls?.onWritable(this); // a handshake completes
    if (this._life === CONNECTING) {
      this._setLife(OPEN);
      this._track();
      settleWaiter(this._x, "connecting", undefined, this);
      this._tidy();
    }
    if (this._wq || plain) this.rt.dispatcher.ready(this);
  }

  static #hostEnd(this: Socket): void {
    if (this._tls?.onEnd()) {
      this._end(FAIL, "reset"); // the peer ended the connection mid-handshake
      return;
    }
    this._put(EOF, true);
    if (this._closed) this._release(false);
    else if (this._reader) this.rt.dispatcher.ready(this);
  }

  static #hostError(this: Socket, reason: HostErrorReason, tls?: TLSFailure): void {
    this._tls?.onError(reason, tls);
    this._end(FAIL, reason);
  }
}
