/**
 * What hosts/moddable needs from the Moddable SDK, as interfaces. The host takes these by
 * injection (`moddableHost(platform)`): `device.ts` passes factories over the real
 * `embedded:io/socket/*` classes, `timer` and `time` (each constructor call type-checked against
 * @moddable/typings); the Node tests pass an ECMA-419 emulation (test/device/ecma419.ts). The shapes are those of Moddable's lwIP implementation
 * (modules/io/socket/lwip/{tcp,udp}.c, listener.js; examples/io/udp/dns/dns.js), which
 * differs from @moddable/typings 5.6 in places (see moddable-typings-gaps.d.ts).
 *
 * Type-only: nothing here exists at run time.
 */

/** The bytes the host hands to the platform (a subset of Moddable's `Buffer`). */
export type PlatformBytes = ArrayBuffer | Uint8Array;

// ---------------------------------------------------------------- TCP (embedded:io/socket/tcp)

export interface PlatformTCP {
  /**
   * With no argument: every unread byte, or undefined when there is none. With a count: exactly
   * that many bytes; throws if the count is not between 1 and the bytes available.
   */
  read(count?: number): ArrayBuffer | undefined;
  /**
   * Queues `data` (copied) and returns the free send buffer after it. Throws "would block" (and
   * sends nothing) when `data` is longer than the free send buffer, and "not ready" before the
   * connection is up or after it failed or the peer closed. Returns undefined, sending nothing, when
   * the socket has already failed internally.
   */
  write(data: PlatformBytes): number | undefined;
  /** Closes at once; unsent data is still sent (lwIP `tcp_close`), then FIN; RST if bytes were unread. */
  close(): void;
  /** The `target` option. */
  readonly target?: unknown;
  /** Do not read these after a failure: on lwIP the connection is gone and reading them faults. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/**
 * Callbacks are called with the platform socket as `this`; the socket's `target` property is the
 * `target` option (ECMA-419), which is how the host's shared callback functions find their wrapper.
 */
export interface PlatformTCPCallbacks {
  nodelay?: boolean;
  /** Stored as the socket's `target` property. */
  target?: unknown;
  /** `count`: all unread bytes. */
  onReadable?: (count: number) => void;
  /** `count`: free send buffer. The first call means "connected". */
  onWritable?: (count: number) => void;
  /**
   * Without a reason, after every unread byte was read: the peer closed (FIN), the connection was
   * reset, or (before the first onWritable) the connection could not be made.
   */
  onError?: () => void;
}

/** A connection to a numeric address, or the adoption of a socket from `PlatformListener.read()`. */
export type PlatformTCPOptions = ({ address: string; port: number } | { from: PlatformTCP }) & PlatformTCPCallbacks;

/** `new TCP(options)`. Throws "invalid address", "no socket" (every PCB in use), "connect error". */
export type PlatformTCPFactory = (options: PlatformTCPOptions) => PlatformTCP;

// ---------------------------------------------------------------- Listener (embedded:io/socket/listener)

export interface PlatformListener {
  /** The next accepted connection (a socket without callbacks: adopt it with `{ from }`). */
  read(): PlatformTCP | undefined;
  close(): void;
  /** The bound port (the chosen one for port 0). */
  readonly port: number;
}

export interface PlatformListenerOptions {
  port?: number;
  /** lwIP ignores it and listens on every interface. */
  address?: string;
  /** `count`: accepted connections waiting for `read()`. */
  onReadable?: (count: number) => void;
}

/** `new Listener(options)`. Throws ("socket bind") when the port cannot be bound. */
export type PlatformListenerFactory = (options: PlatformListenerOptions) => PlatformListener;

// ---------------------------------------------------------------- UDP (embedded:io/socket/udp)

export type PlatformDatagram = ArrayBuffer & { address: string; port: number };

export interface PlatformUDP {
  read(): PlatformDatagram | undefined;
  /**
   * The bytes, then address and port (ECMA-419's order; xs_udp_write in Moddable's
   * modules/io/socket/lwip/udp.c and lin/udp.c takes the buffer as its first argument).
   */
  write(data: PlatformBytes, address: string, port: number): void;
  close(): void;
}

export interface PlatformUDPOptions {
  /** 0 or omitted: an ephemeral port (which the UDP object cannot tell). */
  port?: number;
  onReadable?: (packets: number) => void;
}

/** `new UDP(options)`. Throws ("bind failed") when the port cannot be bound. */
export type PlatformUDPFactory = (options: PlatformUDPOptions) => PlatformUDP;

// ---------------------------------------------------------------- DNS (embedded:network/dns/resolver/udp)

export interface PlatformResolveRequest {
  host: string;
  onResolved(host: string, address: string): void;
  onError(host: string): void;
}

export interface PlatformResolver {
  resolve(request: PlatformResolveRequest): void;
  close(): void;
}

/** `new Resolver({ socket: { io: UDP }, servers })`: a resolver asking `servers` in turn. */
export type PlatformResolverFactory = (servers: string[]) => PlatformResolver;

// ---------------------------------------------------------------- timers (timer)

export interface PlatformTimer {
  /** Calls `callback` once after `ms`; returns the timer. */
  set(callback: () => void, ms?: number): unknown;
  clear(timer: unknown): void;
}

// ---------------------------------------------------------------- TLS (embedded:io/socket/tcp/tls)

/**
 * Moddable's TLS client socket (examples/io/tcp/tlssocket/tlssocket.js over modules/crypt/ssl,
 * TLS 1.2). It makes its TCP socket itself: `new options.TCP.io({ ...options, onReadable,
 * onWritable, onError })` (every option passed on, so a `from` reaches that constructor), then sets
 * `readable` and `writable` properties on it, which its session reads and lowers as it calls
 * `read(count)`, `read(view)` and `write(bytes)` on the socket.
 */
export interface PlatformTLS {
  /** Plaintext of the current record: `count` bytes of it, or the rest. Undefined when none. */
  read(count?: number): ArrayBuffer | undefined;
  /** One record; returns the free send buffer minus 96 (its guess of a record's overhead). */
  write(data: ArrayBuffer): number;
  /** Closes the TCP socket (no close_notify is sent). */
  close(): void;
}

/** The TCP socket the TLS socket drives (what `TCP.io` constructs). */
export interface PlatformTLSTransport {
  readable: number;
  writable: number;
  read(into?: number | Uint8Array): ArrayBuffer | number | undefined;
  write(data: ArrayBuffer | Uint8Array): number | undefined;
  close(): void;
}

export interface PlatformTLSOptions {
  /** The SNI name (Moddable's session sends it in every ClientHello: it must be a string). */
  host: string;
  /** Passed on to `TCP.io` with every other option. */
  from: unknown;
  TCP: {
    io: new (options: {
      from: unknown;
      onReadable(count: number): void;
      onWritable(count: number): void;
      onError(): void;
    }) => PlatformTLSTransport;
  };
  /** Spread into Moddable's SSLSession options (modules/crypt/ssl/session_419.js, ssl_cert.js). */
  secure: {
    /** Chain, validity (no host name) checks; default true. */
    verify: boolean;
    /** One trusted CA certificate (DER), besides the app's CA resources (ca.ski, ca<N>.der). */
    certificate?: ArrayBuffer;
    clientCertificates?: ArrayBuffer[];
    /** PKCS#8 DER. */
    clientKey?: ArrayBuffer;
    applicationLayerProtocolNegotiation?: string[];
  };
  /** Called without a `this` worth using (Moddable calls them on an internal object). */
  onReadable(count: number): void;
  /** The first call means "handshake done"; `count` is the free send buffer minus 96. */
  onWritable(count: number): void;
  /** The TCP socket reported an error or the peer's close. */
  onError(): void;
}

/** `new TLSSocket(options)`. TLS failures are thrown out of the TCP callbacks it installed. */
export type PlatformTLSFactory = (options: PlatformTLSOptions) => PlatformTLS;

// ---------------------------------------------------------------- all of it

export interface ModdablePlatform {
  tcp: PlatformTCPFactory;
  listener: PlatformListenerFactory;
  udp: PlatformUDPFactory;
  /** Without it the host has no `tls`: TLS calls fail with `sslnotenabled`. */
  tls?: PlatformTLSFactory;
  /** Without it, only numeric addresses and "localhost" resolve. */
  resolver?: PlatformResolverFactory;
  Timer: PlatformTimer;
  /** Milliseconds from a monotonic counter that may wrap at 2^32 (Moddable's `Time.ticks`). */
  ticks(): number;
  /** Milliseconds since 1970 (default `Date.now()`). */
  wallClock?(): number;
  /** The DNS servers to use, asked at each resolution (on the device: `Net.get("DNS")`). */
  dnsServers?(): string[];
  /** A random source; default: Math.random (see hosts/moddable/random.ts for what that is). */
  randomBytes?(n: number): Uint8Array;
}
