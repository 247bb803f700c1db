/**
 * The bottom of a runtime socket: its fields, its lifecycle state, its flags, the state few
 * sockets need (`Extra`) and the helpers every part uses. The class is built in layers, one
 * concern each, every method on a prototype (socket.ts says which file holds what):
 *
 *   SocketBase (base.ts) → SocketReading (read.ts) → SocketClosing (close.ts)
 *     → SocketWriting (write.ts) → SocketCoroutines (coroutine.ts)
 *     → Socket (socket.ts: connecting, binding, accepting, the TLS API, information)
 *
 * and a TLS session's phases in their own object (tls-phase.ts), made only when TLS is used.
 * Members named `_…` are internal to these files (and tls-phase.ts), not part of the API.
 *
 * Memory (docs/device.md, "Memory"; docs/contributing.md): on XS every field of an object is a
 * 16-byte slot, and so is every `#private` method or accessor (XS installs them on each
 * instance). So a Socket has nine fields and no `#` methods; the lifecycle state and the booleans
 * share one number (`_f`), the state few sockets need lives in `Extra`, made on first use, and the
 * host calls one set of static callbacks with the socket as `this`. The statistics (`bytesIn`,
 * `bytesOut`, `age`) cost two fields: the time the socket opened is kept, in whole seconds, in the
 * spare high bits of `_f`.
 */
import type { HostErrorReason, Listener as HostListener, TCP } from "../host.js";
import type { Serviced } from "../dispatcher.js";
import type { Waiter } from "../waiter.js";
import type { WriteQueue } from "../write-queue.js";
import { SocketError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import type { TLSPlan } from "../tls.js";
import type { CoroutineOwner, ReadConsumer, SocketState } from "./types.js";
import type { Socket } from "./socket.js";
import type { TlsPhase } from "./tls-phase.js";

// The lifecycle: bits 0..3 of `_f`, one value at a time. It holds the socket's kind too (an
// unconnected socket, a connection, a listener), which outlives its close.
/** Unconnected: a fresh socket, or a cosocket's own socket before its `connect` or `bind`. */
export const NOTCON = 0;
export const CONNECTING = 1;
export const OPEN = 2;
/** A TLS handshake runs (tls-phase.ts). */
export const UPGRADING = 3;
/** The host connection failed; `close()` has not been called yet. */
export const FAILED = 4;
/** Closed and lingering: bytes accepted before `close()` still leave, the peer's end is awaited. */
export const CLOSING = 5;
export const CLOSED = 6;
export const BINDING = 7;
/** A listener (bound; or its host listener failed, after which `accept()` gets null). */
export const LISTENER = 8;
export const LISTENER_CLOSED = 9;
export const NOTCON_CLOSED = 10;
const LIFE = 15;

/** `state()` of each lifecycle value; "exec" and "notcon" are refined by what the owner waits for. */
const STATE: readonly SocketState[] = Object.freeze([
  "notcon",
  "connect",
  "exec",
  "upgrade",
  "terminated",
  "terminated",
  "terminated",
  "connect",
  "exec",
  "terminated",
  "terminated",
] as SocketState[]);
/** The lifecycle value `close()` moves each one to (CLOSING is chosen by `_end` when it lingers). */
export const CLOSE_TO: readonly number[] = Object.freeze([
  NOTCON_CLOSED,
  CLOSED,
  CLOSED,
  CLOSED,
  CLOSED,
  CLOSING,
  CLOSED,
  LISTENER_CLOSED,
  LISTENER_CLOSED,
  LISTENER_CLOSED,
  NOTCON_CLOSED,
]);
const IS_CLOSED = (1 << CLOSING) | (1 << CLOSED) | (1 << LISTENER_CLOSED) | (1 << NOTCON_CLOSED);
const IS_CONNECTED = (1 << OPEN) | (1 << UPGRADING) | (1 << CLOSING) | (1 << LISTENER);
const IS_LISTENER = (1 << BINDING) | (1 << LISTENER) | (1 << LISTENER_CLOSED);
const IS_NONE = (1 << NOTCON) | (1 << NOTCON_CLOSED);

// Flags of `_f`, bits 4..11.
export const TRACKED = 16;
export const ALIVE = 32;
export const EOF = 64;
export const SHUTDOWN = 128;
export const ENDED = 256; // host.end() called
export const MODE_R = 512;
export const MODE_S = 1024;
const READY = 2048; // in the dispatcher's ready queue
const FLAG_BITS = 0xfff;
// Bits 12..31 of `_f`: the host clock, in whole seconds modulo 2^20 (about 12 days), when the
// socket was opened (tracked); `age` is measured against it.
export const OPENED_SHIFT = 12;
export const OPENED_MOD = 0xfffff;

export type Kind = "none" | "tcp" | "listen";

export const FAILURE: Readonly<Record<HostErrorReason, string>> = Object.freeze({
  refused: "connection refused",
  reset: "connection reset",
  timeout: "connection timed out",
  unreachable: "host unreachable",
  error: "connection failed",
});

/** Resumes the coroutine waiting in `read()`: with bytes, null (end-of-stream) or a rejection. */
export type Resume = (value: Uint8Array | null | PromiseLike<never>) => void;

/** What only some sockets need: an idle connection has none of it. */
export interface Extra {
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
  tls?: TlsPhase; // made by the first TLS connect, upgrade or accept (tls-phase.ts)
  peerHost?: string; // the name given to connect: the default TLS server name
  listenTLS?: TLSPlan; // a TLS listener's plan for the connections it accepts
}

export abstract class SocketBase implements Serviced {
  readonly rt: Runtime;
  /** The lifecycle (bits 0..3), the flags (4..11) and the time the socket opened (12..31). */
  _f = 0;
  _tcp: TCP | undefined;
  _reader: Resume | ReadConsumer | undefined;
  _writable = 0;
  _wq: WriteQueue | undefined; // made by the first write that cannot go out at once; dropped when empty
  _x: Extra | undefined;
  _in = 0;
  _out = 0;

  constructor(rt: Runtime) {
    this.rt = rt;
  }

  abstract service(): void;

  _has(bit: number): boolean {
    return (this._f & bit) !== 0;
  }

  _put(bit: number, on: boolean): void {
    this._f = on ? this._f | bit : this._f & ~bit;
  }

  /** The lifecycle value (NOTCON … NOTCON_CLOSED). */
  get _life(): number {
    return this._f & LIFE;
  }

  _setLife(life: number): void {
    this._f = (this._f & ~LIFE) | life;
  }

  /** The lifecycle's part of `state()`: "exec" and "notcon" still depend on what the owner waits for. */
  get _lifeState(): SocketState {
    return STATE[this._f & LIFE]!;
  }

  get _kind(): Kind {
    const bit = 1 << (this._f & LIFE);
    return bit & IS_NONE ? "none" : bit & IS_LISTENER ? "listen" : "tcp";
  }

  get _closed(): boolean {
    return ((1 << (this._f & LIFE)) & IS_CLOSED) !== 0;
  }

  /** The host connection (or listener) is up: it has reported itself writable (ready). */
  get _connected(): boolean {
    return ((1 << (this._f & LIFE)) & IS_CONNECTED) !== 0;
  }

  _extra(): Extra {
    return (this._x ??= {});
  }

  /** Drops `_x` when nothing in it is set any more (connecting leaves only cleared entries). */
  _tidy(): void {
    const x = this._x;
    if (!x) return;
    for (const k in x) if (x[k as keyof Extra] !== undefined) return;
    this._x = undefined;
  }

  /** @internal managed by the dispatcher */
  get inReadyQueue(): boolean {
    return this._has(READY);
  }
  set inReadyQueue(on: boolean) {
    this._put(READY, on);
  }

  get _failure(): HostErrorReason | undefined {
    return this._x?.failure;
  }
  get _pushback(): Uint8Array | undefined {
    return this._x?.pushback;
  }
  set _pushback(v: Uint8Array | undefined) {
    if (v !== undefined || this._x) this._extra().pushback = v;
  }
  get _tls(): TlsPhase | undefined {
    return this._x?.tls;
  }
  get _queuelen(): number {
    return this._x?.queuelen ?? this.rt.options.queuelen;
  }
  get _maxWrite(): number {
    return this._x?.maxWrite ?? this.rt.options.maxWrite;
  }

  /** Counts `n` bytes handed to the host. */
  _sent(n: number): void {
    this._out += n;
    this.rt.traffic.out += n;
  }

  /** Rejects `w` with `timeout` after `ms` unless settled before; `clear` forgets it. */
  _timeout<T>(w: Waiter<T>, ms: number, clear: () => void): void {
    w.cancelTimer = this.rt.dispatcher.timer(ms, () => {
      w.cancelTimer = undefined;
      clear();
      w.reject(new SocketError("timeout"));
    });
  }

  _track(): void {
    if (this._has(TRACKED)) return;
    const opened = Math.floor(this.rt.host.now() / 1000) & OPENED_MOD;
    this._f = (this._f & FLAG_BITS) | (opened << OPENED_SHIFT) | TRACKED;
    this.rt.track(this as unknown as Socket);
  }

  _untrack(): void {
    if (!this._has(TRACKED)) return;
    this._put(TRACKED, false);
    this.rt.untrack(this as unknown as Socket);
  }
}
