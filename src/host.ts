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
 * - Every callback is called with `this` set to the options' `target` (undefined without one), as
 *   ECMA-419's callbacks reach their `target`: one set of functions serves every socket, so a
 *   socket costs no closures (on XS each function object is about 200 bytes).
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
  /** The `this` of every callback below (hosts call them as `callback.call(target, …)`). */
  target?: unknown;
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
  /**
   * Aborts: like `close()`, but the peer sees the connection reset (TCP RST), not an orderly end
   * (`Socket.abort()`). Optional: a host without it is closed instead. The node and sim hosts
   * send a reset; the device's platform socket has no abort (ECMA-419), so there lwIP resets only
   * when bytes are left unread (see hosts/moddable/tcp.ts).
   */
  reset?(): void;
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
  /** The `this` of every callback below, as for TCP (hosts call them as `callback.call(target, …)`). */
  target?: unknown;
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
  /**
   * Sizes that suit this host, used where the program sets none: the most bytes one read
   * returns and one host write takes (a desktop host moves 64 KiB at a time; a device less).
   */
  readonly preferred?: { readonly maxRead?: number; readonly maxWrite?: number };
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
  /** TLS, if this host has it (see `HostTLS` below); without it TLS calls fail with `sslnotenabled`. */
  readonly tls?: HostTLS;
}

// ---------------------------------------------------------------- TLS (optional)
//
// A host that can secure connections has a `tls` member. It wraps a connected TCP socket of the
// same host (one it returned from `tcp()`): the runtime connects or accepts plain TCP first, then
// hands the socket over for the handshake. So one method serves a TLS connect, a TLS listener's
// accepted connections and STARTTLS (`upgrade`) alike. A host without `tls` makes every TLS call
// fail with `sslnotenabled`.
//
// The returned object is a `TCP` carrying plaintext, with ECMA-419 TLS socket semantics: its first
// `onWritable` means the handshake completed (`session` is set from then on); nothing is readable
// before that. Handshake timeouts are the runtime's job, not the host's.

/** A PEM text (or its bytes): a certificate, a chain, or a private key. */
export type PEM = string | Uint8Array;

/** What failed at the TLS level; `code` is one of the runtime's SSL error codes. */
export type TLSFailureCode = "sslhandshake" | "sslnottrusted" | "sslalertrecv" | "sslclosenotify" | "sslcryptoerr";

export interface TLSFailure {
  code: TLSFailureCode;
  /** A short explanation from the TLS library (e.g. "certificate has expired"). */
  detail: string;
}

export interface TLSCallbacks extends TCPCallbacks {
  /** As for TCP; when the failure is a TLS one, `tls` says which (else the connection broke under it). */
  onError?(reason: HostErrorReason, tls?: TLSFailure): void;
}

/** The security parameters of one side. The runtime fills in every default before calling the host. */
export interface TLSSecureOptions {
  role: "client" | "server";
  /** Client: the name sent as SNI (omitted for an IP address) and checked against the certificate. */
  serverName?: string;
  /** Certificates trusted to sign the peer's; omitted: the host's default trust store. */
  ca?: PEM[];
  /**
   * Client: the handshake fails (`sslnottrusted`) unless the server's certificate chains to a
   * trusted CA, is valid now and matches `serverName`. (The runtime checks the name again against
   * `session.peerCertificate`, so a host whose TLS library checks only the chain still refuses a
   * server of another name; it must report the certificate.) Server with `requestCert`: it fails unless
   * the client sent a certificate that chains to a trusted CA.
   */
  verify: boolean;
  /** Server: ask the client for a certificate. */
  requestCert?: boolean;
  /** This side's certificate (chain) and private key: required for a server, optional for a client. */
  cert?: PEM;
  key?: PEM;
  /** ALPN protocol names, most preferred first. */
  alpn?: string[];
  minVersion?: TLSVersion;
  maxVersion?: TLSVersion;
}

export type TLSVersion = "TLSv1.2" | "TLSv1.3";

export interface TLSWrapOptions extends TLSCallbacks {
  /**
   * A connected TCP socket of this host. The TLS object takes it over: its callbacks are no longer
   * called and it must not be used any more. Bytes it holds unread are kept for the TLS layer, and
   * bytes already written to it are sent before the first TLS byte.
   */
  from: TCP;
  /** Bytes already read from `from` but not consumed (a runtime's read-ahead): handshake input first. */
  buffered?: Uint8Array;
  secure: TLSSecureOptions;
}

/** A certificate as reported after a handshake. */
export interface CertificateInfo {
  /** Distinguished names, e.g. "CN=localhost, O=Example". */
  subject: string;
  issuer: string;
  /** The subject's common name, if any. */
  commonName?: string;
  /** subjectAltName entries. */
  dnsNames: string[];
  ipAddresses: string[];
  /** Validity, in milliseconds since 1970. */
  validFrom: number;
  validTo: number;
  /** SHA-256 fingerprint, upper-case hex pairs joined by ":". */
  fingerprint: string;
  serialNumber: string;
}

/** What a handshake negotiated. */
export interface TLSSession {
  /** e.g. "TLSv1.3". */
  protocol: string;
  /** IANA cipher suite name, e.g. "TLS_AES_256_GCM_SHA384". */
  cipher: string;
  /** The ALPN protocol both sides chose, if any. */
  alpn?: string;
  /** The peer's certificate (a server's always; a client's when requested and sent). */
  peerCertificate?: CertificateInfo;
  /** The peer's certificate chains to a trusted CA and is valid now (the name is not part of this). */
  authorized: boolean;
  /** Why not, in the TLS library's words, when `authorized` is false. */
  authorizationError?: string;
}

export interface TLS extends TCP {
  /** Set when the handshake completed (at the first `onWritable`); undefined before. */
  readonly session: TLSSession | undefined;
}

export interface HostTLS {
  /**
   * Optional: checks `secure` before any connection uses it (certificates and keys parse, the key
   * fits the certificate) and may prepare what its connections share (a TLS listener passes the
   * same object for every connection). Throws if the options cannot work.
   */
  prepare?(secure: TLSSecureOptions): void;
  /** Starts a handshake on `options.from`; see `TLSWrapOptions`. Throws if `from` cannot be wrapped. */
  wrap(options: TLSWrapOptions): TLS;
}
