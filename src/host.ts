/**
 * The host seam: the only way the runtime reaches the network, the clock and
 * the random source. Shaped after ECMA-419 (`embedded:io/socket/*`):
 * readiness callbacks, a caller-owned buffer, and a `write` that must fit the
 * writable count. Three hosts implement it: `hosts/node` (desktop),
 * `hosts/sim` (deterministic simulated network) and `hosts/moddable` (device).
 *
 * Differences from ECMA-419, on purpose:
 * - `read()` returns a `Uint8Array` (a view; no copy is needed on any host).
 * - An orderly close by the peer is reported once by `onEnd()` after every
 *   byte before it was read, instead of ECMA-419's `onError()` after a clean close.
 * - `onError(reason)` carries a short reason (see `HostErrorReason`).
 * - Callbacks are plain functions (no `this`).
 *
 * This file is an interface and nothing else.
 */

/** Why a host socket failed. */
export type HostErrorReason =
  | "refused" // nothing listens at the address (connect only)
  | "reset" // the peer or the network dropped the connection
  | "timeout" // the host gave up (e.g. keepalive)
  | "unreachable"
  | "error"; // anything else

export interface TCPCallbacks {
  /** `count`: total unread bytes now available from `read()`. */
  onReadable?(count: number): void;
  /**
   * `count`: bytes `write()` accepts now. The first call means "connected".
   * Hosts call it again whenever the writable count grows from a low value.
   */
  onWritable?(count: number): void;
  /** The peer closed its sending side and every byte before it was read. Called at most once. */
  onEnd?(): void;
  /** The socket failed; it is dead. Called at most once; nothing is called after it. */
  onError?(reason: HostErrorReason): void;
}

export interface TCPConnectOptions extends TCPCallbacks {
  /** Numeric IP address (hosts do not resolve names here; use `Host.resolve`). */
  address: string;
  port: number;
  nodelay?: boolean;
}

export interface TCPAdoptOptions extends TCPCallbacks {
  /** A pending connection returned by `Listener.read()`. */
  from: PendingConnection;
  nodelay?: boolean;
}

/** Opaque handle of an accepted connection not yet wrapped in a TCP object. */
export interface PendingConnection {
  readonly __pending: true;
}

export interface Endpoint {
  address: string;
  port: number;
}

export interface TCP {
  /** Up to `max` unread bytes (all of the next available run when omitted), or undefined if none. */
  read(max?: number): Uint8Array | undefined;
  /**
   * Sends `data`. Throws if `data.byteLength` exceeds the writable count or the socket is not
   * connected; sends nothing in that case. The host must not keep a reference to `data` after
   * returning (it copies if it needs the bytes later). Returns the writable count after the write.
   */
  write(data: Uint8Array): number;
  /** Half-close: no more writes; the peer reads end-of-stream after the bytes already written. */
  end(): void;
  /** Closes at once; no callback is called afterwards. Unsent data may be dropped. */
  close(): void;
  /** tcp-nodelay and keepalive; false if the host does not support the option. */
  setOption(name: "nodelay", on: boolean): boolean;
  setOption(name: "keepalive", on: boolean, idleMs?: number, intervalMs?: number): boolean;
  readonly remote: Endpoint | undefined;
  readonly local: Endpoint | undefined;
}

export interface ListenerOptions {
  port: number;
  /** Local address; hosts default to "127.0.0.1" on the desktop and any address on the device. */
  address?: string;
  /** `pending`: connections waiting for `read()`. */
  onReadable?(pending: number): void;
  /** The listener is bound: `port` is valid (a port of 0 is replaced by the chosen port). */
  onReady?(): void;
  /** Binding failed ("addrinuse" etc.) or the listener died. */
  onError?(reason: string): void;
}

export interface Listener {
  /** The next pending connection, or undefined. Adopt it with `Host.tcp({ from })`. */
  read(): PendingConnection | undefined;
  close(): void;
  readonly port: number;
  readonly address: string;
}

export interface Datagram {
  data: Uint8Array;
  address: string;
  port: number;
}

export interface UDPOptions {
  /** Local port; 0 or omitted picks one. */
  port?: number;
  address?: string;
  /** `packets`: datagrams waiting for `read()`. */
  onReadable?(packets: number): void;
  onReady?(): void;
  onError?(reason: string): void;
}

export interface UDP {
  read(): Datagram | undefined;
  /** Sends one datagram to a numeric address; the host does not keep `data`. */
  write(data: Uint8Array, address: string, port: number): void;
  close(): void;
  setOption?(name: "broadcast", on: boolean): boolean;
  readonly local: Endpoint | undefined;
}

export interface Timer {
  readonly __timer: true;
}

export interface Host {
  /** A short name: "node", "sim", "moddable". */
  readonly name: string;
  tcp(options: TCPConnectOptions | TCPAdoptOptions): TCP;
  listener(options: ListenerOptions): Listener;
  udp(options: UDPOptions): UDP;
  /** Monotonic milliseconds (virtual on the sim host). */
  now(): number;
  /** Milliseconds since 1970 (for protocols that need wall-clock time, such as NTP). */
  wallClock(): number;
  setTimer(fn: () => void, ms: number): Timer;
  clearTimer(timer: Timer): void;
  /** Runs `fn` soon, after pending I/O callbacks (a macrotask). */
  defer(fn: () => void): void;
  randomBytes(n: number): Uint8Array;
  /** Resolves a host name to a numeric IPv4 address; rejects if it cannot. */
  resolve(name: string): Promise<string>;
}
