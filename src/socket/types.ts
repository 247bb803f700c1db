/** The public types of a runtime socket (re-exported by socket.ts). */
import type { TLSOptions, TLSServerOptions } from "../tls.js";
import type { SocketError } from "../errors.js";

export type SocketState = "notcon" | "exec" | "accept" | "connect" | "upgrade" | "disabled" | "read" | "write" | "terminated";

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
