/**
 * The seam's TLS (`HostTLS`, src/host.ts) over Moddable's `embedded:io/socket/tcp/tls`: its own
 * TLS 1.2 client in JavaScript (examples/io/tcp/tlssocket/tlssocket.js over modules/crypt/ssl).
 *
 * Taking over a connected socket: Moddable's TLSSocket makes its TCP socket itself, as
 * `new options.TCP.io({ ...options, onReadable, onWritable, onError })`. We pass `from` (a
 * `Transport` over our connected ModdableTCP) and a `TCP.io` that, instead of connecting, returns
 * that transport. The ModdableTCP is handed over (`takeOver`): its callbacks reach the transport,
 * which passes them to the TLSSocket. The runtime's read-ahead (`buffered`) and the bytes unread in
 * the ModdableTCP are the first handshake bytes the TLSSocket reads.
 *
 * What Moddable's TLSSocket reports, and how it maps to the seam:
 * - Its first `onWritable` after the handshake means "secured" (it reports the free send buffer
 *   minus 96, its guess of a record's overhead).
 * - A TLS failure (an untrusted certificate, an alert received, a bad record) is an exception its
 *   session throws out of the TCP callback that fed it the bytes: the transport calls the TLSSocket
 *   inside try/catch and maps the message to `onError(reason, { code, detail })`.
 * - Its `onError()` (no argument) is the TCP's error or the peer's close: before the handshake a
 *   failure (`sslhandshake`), after it end-of-stream (`onEnd`, once the plaintext was read).
 * - It says nothing about what was negotiated and keeps its session private. The transport reads
 *   the server's handshake as it passes (TLS 1.2 sends it in the clear): the version, cipher suite
 *   and ALPN protocol from ServerHello, and the server's certificate (x509.ts).
 * - Moddable's TLS checks the chain and validity (when `verify`) but not the host name: the runtime
 *   checks the name against the reported certificate (src/socket/tls-phase.ts, for every host) and fails
 *   with `sslnottrusted` before the caller gets the socket.
 *   A handshake "completed" without the server's ChangeCipherSpec (Moddable's session also stops
 *   on an alert it raises itself) is a failure too.
 * - Unknown on the device: the certificate's SHA-256 fingerprint (""), and, with `verify: false`,
 *   whether the chain would have been trusted (`authorized` false, since nothing was checked).
 * - No TLS server: Moddable's TLSSocket is a client. `prepare` and `wrap` throw for role "server".
 * - TLS 1.2 only (Moddable's TLSSocket asks for 0x0303): `minVersion: "TLSv1.3"` throws.
 * - Trust: one CA certificate from `ca` (Moddable's `secure.certificate`), plus the CA
 *   certificates built into the app as resources (Moddable's ca.ski / ca<N>.der); more than one
 *   certificate in `ca` throws.
 * - `end()`: no half-close and no close_notify (Moddable's close() sends none); the plaintext of
 *   the record being read is kept for the reader, then the connection closes.
 * - One record per write, at most 16384 bytes: the writable count never exceeds that.
 * The TLSSocket's callbacks are per-connection closures (Moddable calls them on an internal object,
 * not on a `target`); a TLS connection costs far more than that anyway (~10 KB heap in handshake).
 */
import type {
  Endpoint,
  HostTLS,
  TLS,
  TLSCallbacks,
  TLSFailureCode,
  TLSSecureOptions,
  TLSSession,
  TLSWrapOptions,
  TCPCallbacks,
  HostErrorReason,
} from "../../src/host.js";
import type { PlatformTLS, PlatformTLSFactory, PlatformTLSOptions, PlatformTLSTransport } from "./platform.js";
import { ModdableTCP } from "./tcp.js";
import { CLOSED, ENDED, FINISHED, HalfClosing, WRITE_DEAD, closeQuietly } from "./closing.js";
import { certificateInfo, pemBlocks } from "./x509.js";

const MAX_RECORD = 16384;
const EMPTY = new Uint8Array(0);

type Settings = PlatformTLSOptions["secure"];

/**
 * One platform `secure` object per options object (a listener would share one; clients do too).
 * The cache belongs to the host, not the module: preloaded modules are frozen on the device.
 */
type Prepared = WeakMap<TLSSecureOptions, Settings>;

function settingsOf(prepared: Prepared, s: TLSSecureOptions): Settings {
  let out = prepared.get(s);
  if (out) return out;
  if (s.role === "server")
    throw new Error("no TLS server on the device: Moddable's TLSSocket (embedded:io/socket/tcp/tls) is a TLS client only");
  if (s.minVersion === "TLSv1.3") throw new Error("the device's TLS (Moddable's TLSSocket) speaks TLS 1.2 only");
  out = { verify: s.verify };
  if (s.ca) {
    const certs = s.ca.flatMap((p) => pemBlocks(p, "CERTIFICATE"));
    if (certs.length !== 1)
      throw new Error(
        `the device's TLS trusts one CA certificate from the options (ca has ${certs.length}), besides the CA certificates built into the app`,
      );
    out.certificate = certs[0];
  }
  if (s.cert !== undefined || s.key !== undefined) {
    const chain = s.cert === undefined ? [] : pemBlocks(s.cert, "CERTIFICATE");
    const key = s.key === undefined ? [] : pemBlocks(s.key, "PRIVATE KEY");
    if (!chain.length || key.length !== 1)
      throw new Error("a client certificate needs PEM certificates and one PKCS#8 key (BEGIN PRIVATE KEY)");
    out.clientCertificates = chain;
    out.clientKey = key[0];
  }
  if (s.alpn?.length) out.applicationLayerProtocolNegotiation = s.alpn;
  prepared.set(s, out);
  return out;
}

export function moddableTLS(factory: PlatformTLSFactory, defer: (fn: () => void) => void): HostTLS {
  const prepared: Prepared = new WeakMap();
  return {
    prepare: (secure) => void settingsOf(prepared, secure),
    wrap: (options) => new ModdableTLS(factory, options, defer, settingsOf(prepared, options.secure)),
  };
}

// ---------------------------------------------------------------- the server's handshake, read as it passes

const VERSIONS: Readonly<Record<number, string>> = Object.freeze({ 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2" });
const SUITES: Readonly<Record<number, string>> = Object.freeze({
  0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA",
  0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
  0x003c: "TLS_RSA_WITH_AES_128_CBC_SHA256",
  0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
  0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
  0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
  0xc009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
  0xc00a: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
  0xc013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
  0xc014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  0xc023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
  0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
  0xc027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
  0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
  0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
});

/** Follows the records the server sends until its ChangeCipherSpec; keeps ServerHello's facts and its certificate. */
class Inspector {
  private head = new Uint8Array(5);
  private headLength = 0;
  private type = 0;
  private left = 0;
  private messages: Uint8Array | undefined = EMPTY;
  version = 0;
  cipher = -1;
  alpn: string | undefined = undefined;
  certificate: Uint8Array | undefined = undefined;
  /** The server's ChangeCipherSpec went by: its Finished follows, encrypted. */
  changedCipher = false;

  feed(b: Uint8Array): void {
    for (let i = 0; i < b.length && !this.changedCipher; ) {
      if (this.left === 0) {
        this.head[this.headLength++] = b[i++]!;
        if (this.headLength === 5) {
          this.headLength = 0;
          this.type = this.head[0]!;
          this.left = (this.head[3]! << 8) | this.head[4]!;
          if (this.type === 20) this.changedCipher = true;
        }
        continue;
      }
      const k = Math.min(this.left, b.length - i);
      if (this.type === 22 && this.messages) this.handshake(b.subarray(i, i + k));
      i += k;
      this.left -= k;
    }
  }

  private handshake(bytes: Uint8Array): void {
    const had = this.messages!;
    let m = new Uint8Array(had.length + bytes.length);
    m.set(had);
    m.set(bytes, had.length);
    while (m.length >= 4) {
      const len = (m[1]! << 16) | (m[2]! << 8) | m[3]!;
      if (m.length < 4 + len) break;
      const body = m.subarray(4, 4 + len);
      if (m[0] === 2) this.serverHello(body);
      else if (m[0] === 11 && body.length > 6) {
        const first = (body[3]! << 16) | (body[4]! << 8) | body[5]!;
        this.certificate = body.slice(6, 6 + first);
      } else if (m[0] === 14) {
        this.messages = undefined; // ServerHelloDone: nothing more to learn
        return;
      }
      m = m.subarray(4 + len);
    }
    this.messages = m.slice();
  }

  private serverHello(b: Uint8Array): void {
    this.version = (b[0]! << 8) | b[1]!;
    let p = 35 + b[34]!; // version, random, session id
    this.cipher = (b[p]! << 8) | b[p + 1]!;
    p += 3; // cipher suite, compression
    if (p + 2 > b.length) return;
    const end = Math.min(b.length, p + 2 + ((b[p]! << 8) | b[p + 1]!));
    for (p += 2; p + 4 <= end; ) {
      const type = (b[p]! << 8) | b[p + 1]!;
      const len = (b[p + 2]! << 8) | b[p + 3]!;
      if (type === 16 && len >= 3) {
        const n = b[p + 6]!;
        let s = "";
        for (let i = 0; i < n; i++) s += String.fromCharCode(b[p + 7 + i]!);
        this.alpn = s;
      }
      p += 4 + len;
    }
  }
}

// ---------------------------------------------------------------- the TLSSocket's TCP socket: ours, taken over

/** The ModdableTCP's callbacks after the handover (shared functions; `this` is the transport). */
function tcpReadable(this: Transport, count: number): void {
  this.deliver(0, count + (this.pre ? this.pre.length : 0));
}
function tcpWritable(this: Transport, count: number): void {
  this.deliver(1, count);
}
function tcpGone(this: Transport): void {
  this.deliver(2, 0);
}

/**
 * What Moddable's TLSSocket gets as its TCP socket: our connected ModdableTCP, with the runtime's
 * read-ahead in front. `readable` and `writable` are the TLSSocket's own bookkeeping.
 */
class Transport implements PlatformTLSTransport, TCPCallbacks {
  readable = 0;
  writable = 0;
  readonly target = this;
  readonly onReadable = tcpReadable;
  readonly onWritable = tcpWritable;
  readonly onEnd = tcpGone;
  readonly onError = tcpGone;
  /** The TLSSocket's callbacks, set when it constructs its "TCP socket" (`adopt`). */
  tls: { onReadable(count: number): void; onWritable(count: number): void; onError(): void } | undefined = undefined;
  inspector: Inspector | undefined = new Inspector();

  constructor(
    readonly tcp: ModdableTCP,
    public pre: Uint8Array | undefined,
    readonly owner: ModdableTLS,
  ) {}

  /** Calls the TLSSocket (0 onReadable, 1 onWritable, 2 onError); what it throws is a TLS failure. */
  deliver(which: 0 | 1 | 2, count: number): void {
    const tls = this.tls;
    if (!tls || this.owner.done) return;
    try {
      if (which === 0) tls.onReadable(count);
      else if (which === 1) tls.onWritable(count);
      else tls.onError();
    } catch (e) {
      this.owner.thrown(e);
    }
  }

  /** The handover is complete: let the TLSSocket start (its first onWritable sends ClientHello). */
  start(): void {
    const w = this.tcp.writableCount;
    if (w > 0) this.deliver(1, w);
    const r = this.tcp.readableCount + (this.pre ? this.pre.length : 0);
    if (r > 0) this.deliver(0, r);
  }

  read(into?: number | Uint8Array): ArrayBuffer | number | undefined {
    if (typeof into === "object") {
      this.fill(into);
      return into.length;
    }
    const total = this.tcp.readableCount + (this.pre ? this.pre.length : 0);
    if (total === 0) return undefined;
    const n = into === undefined ? total : into;
    if (!(n > 0 && n <= total)) throw new RangeError("invalid count");
    const out = new Uint8Array(n);
    this.fill(out);
    return out.buffer;
  }

  private fill(out: Uint8Array): void {
    let at = 0;
    const pre = this.pre;
    if (pre) {
      at = Math.min(pre.length, out.length);
      out.set(pre.subarray(0, at));
      this.pre = at < pre.length ? pre.subarray(at) : undefined;
    }
    while (at < out.length) {
      const d = this.tcp.read(out.length - at);
      if (!d || d.length === 0) throw new RangeError("fewer bytes than asked");
      out.set(d, at);
      at += d.length;
    }
    this.inspector?.feed(out);
  }

  write(data: ArrayBuffer | Uint8Array): number {
    return this.tcp.write(data instanceof Uint8Array ? data : new Uint8Array(data));
  }

  close(): void {
    this.tcp.end(); // takes unread bytes first, so that lwIP closes with FIN, not RST
    this.tcp.close();
  }
}

/** TCP.io for the TLSSocket: returns the transport it was given as `from` (no connection is made). */
const adopt = function (this: unknown, o: { from: unknown; onReadable(n: number): void; onWritable(n: number): void; onError(): void }) {
  const t = o.from as Transport;
  t.tls = { onReadable: o.onReadable, onWritable: o.onWritable, onError: o.onError };
  return t;
} as unknown as PlatformTLSOptions["TCP"]["io"];

// ---------------------------------------------------------------- the seam's TLS socket

// flags (ENDED, CLOSED, FINISHED, WRITE_DEAD: closing.ts)
const SECURED = 1;
/** The TLSSocket reported the end of the connection; onEnd follows once the plaintext was read. */
const PEER_GONE = 32;

const ALERTS: Readonly<Record<number, string>> = Object.freeze({
  0: "close_notify",
  10: "unexpected_message",
  20: "bad_record_mac",
  40: "handshake_failure",
  42: "bad_certificate",
  43: "unsupported_certificate",
  44: "certificate_revoked",
  45: "certificate_expired",
  46: "certificate_unknown",
  47: "illegal_parameter",
  48: "unknown_ca",
  49: "access_denied",
  50: "decode_error",
  51: "decrypt_error",
  70: "protocol_version",
  71: "insufficient_security",
  80: "internal_error",
  112: "unrecognized_name",
  116: "certificate_required",
  120: "no_application_protocol",
});

/**
 * Per connection on the device: follows the XS memory rules (docs/contributing.md).
 *
 * The half-close emulation and the fields it uses (cb, defer, available: here the plaintext of the
 * current record not read yet, held, flags) are in closing.ts.
 */
export class ModdableTLS extends HalfClosing implements TLS {
  declare protected cb: TLSCallbacks;
  private sock: PlatformTLS | undefined;
  private readonly transport: Transport;
  private readonly secure: TLSSecureOptions;
  private canWrite = 0;
  private secured: TLSSession | undefined = undefined;

  /** `settings`: from `settingsOf`, which throws for a server before anything is taken. */
  constructor(factory: PlatformTLSFactory, options: TLSWrapOptions, defer: (fn: () => void) => void, settings: Settings) {
    super(options, defer);
    const from = options.from;
    if (!(from instanceof ModdableTCP)) throw new Error("not a TCP socket of this host");
    this.secure = options.secure;
    const t = (this.transport = new Transport(from, options.buffered?.length ? options.buffered : undefined, this));
    from.takeOver(t);
    const name = options.secure.serverName ?? from.remote?.address ?? "localhost";
    this.sock = factory({
      host: name,
      from: t,
      TCP: { io: adopt },
      secure: settings,
      onReadable: (count) => this.tlsReadable(count),
      onWritable: (count) => this.tlsWritable(count),
      onError: () => this.tlsError(),
    });
    defer(() => t.start());
  }

  /** @internal No more callbacks: failed, ended or closed. */
  get done(): boolean {
    return (this.flags & (FINISHED | CLOSED | ENDED)) !== 0;
  }

  get session(): TLSSession | undefined {
    return this.secured;
  }

  get remote(): Endpoint | undefined {
    return this.transport.tcp.remote;
  }

  get local(): Endpoint | undefined {
    return this.transport.tcp.local;
  }

  setOption(_name: "nodelay" | "keepalive", _on: boolean): boolean {
    return false;
  }

  read(max?: number): Uint8Array | undefined {
    const held = this.held;
    if (held) return this.readHeld(held, max);
    const sock = this.sock;
    if (!sock || !(this.flags & SECURED) || this.flags & CLOSED) return undefined;
    const data = this.readAvailable(sock, max);
    if (data !== undefined && this.available <= 0 && this.flags & PEER_GONE) this.endSoon();
    return data;
  }

  write(data: Uint8Array): number {
    const f = this.flags;
    if (f & (CLOSED | ENDED)) throw new Error("closed");
    const sock = this.sock;
    if (!sock || !(f & SECURED)) throw new Error("not connected");
    if (f & (WRITE_DEAD | FINISHED | PEER_GONE)) throw new Error("the connection was closed by the peer or lost");
    const n = data.byteLength;
    if (n > this.canWrite) throw new RangeError(`would block: ${n} bytes, ${this.canWrite} writable`);
    if (n === 0) return this.canWrite;
    const whole = data.byteOffset === 0 && n === data.buffer.byteLength;
    let left: number;
    try {
      left = sock.write((whole ? data.buffer : data.slice().buffer) as ArrayBuffer);
    } catch (e) {
      this.flags |= WRITE_DEAD;
      throw e;
    }
    this.canWrite = Math.min(left > 0 ? left : 0, MAX_RECORD);
    return this.canWrite;
  }

  end(): void {
    if (this.flags & (CLOSED | ENDED)) return;
    this.flags |= ENDED;
    const sock = this.sock;
    this.sock = undefined;
    if (!sock) return;
    this.closeHolding(sock, (this.flags & SECURED) !== 0 && this.available > 0);
  }

  close(): void {
    if (this.flags & CLOSED) return;
    this.flags |= CLOSED;
    this.held = undefined;
    const sock = this.sock;
    this.sock = undefined;
    if (sock) closeQuietly(sock);
    else this.transport.tcp.close();
  }

  // ---------------------------------------------------------------- what the TLSSocket reports

  private tlsReadable(count: number): void {
    if (this.done) return;
    this.available = count;
    if (this.flags & SECURED) this.cb.onReadable?.call(this.cb.target, count);
  }

  private tlsWritable(count: number): void {
    if (this.done) return;
    if (!(this.flags & SECURED) && !this.handshakeDone()) return;
    this.canWrite = Math.min(count, MAX_RECORD);
    this.cb.onWritable?.call(this.cb.target, this.canWrite);
  }

  private tlsError(): void {
    if (this.done || this.flags & PEER_GONE) return;
    if (!(this.flags & SECURED)) {
      this.fail("sslhandshake", "the connection closed during the TLS handshake");
      return;
    }
    this.flags |= PEER_GONE | WRITE_DEAD;
    if (this.available <= 0) this.endSoon();
  }

  /** The TLSSocket says the handshake is done: checks what went by and sets the session. */
  private handshakeDone(): boolean {
    const seen = this.transport.inspector;
    this.transport.inspector = undefined;
    if (!seen?.changedCipher) {
      this.fail("sslhandshake", "the handshake stopped before the server's Finished");
      return false;
    }
    let cert;
    try {
      cert = seen.certificate ? certificateInfo(seen.certificate) : undefined;
    } catch {
      cert = undefined;
    }
    const verify = this.secure.verify;
    const session: TLSSession = {
      protocol: VERSIONS[seen.version] ?? `0x${seen.version.toString(16)}`,
      cipher: SUITES[seen.cipher] ?? `0x${seen.cipher.toString(16).padStart(4, "0")}`,
      authorized: verify && cert !== undefined,
    };
    if (seen.alpn !== undefined) session.alpn = seen.alpn;
    if (cert) session.peerCertificate = cert;
    if (!verify) session.authorizationError = "not checked (verify: false; Moddable's TLS then checks nothing)";
    this.secured = session;
    this.flags |= SECURED;
    return true;
  }

  /** @internal What Moddable's TLS threw out of a callback: a TLS failure. */
  thrown(e: unknown): void {
    const detail = String((e as Error)?.message ?? e);
    const alert = /alert: *(\d+), *(\d+)/.exec(detail);
    let code: TLSFailureCode;
    if (alert) code = "sslalertrecv";
    else if (/certificate: auth err|date validation/i.test(detail)) code = "sslnottrusted";
    else code = this.flags & SECURED ? "sslcryptoerr" : "sslhandshake";
    this.fail(code, alert ? `${detail} (${ALERTS[Number(alert[2])] ?? "alert"})` : detail);
  }

  private fail(code: TLSFailureCode, detail: string, reason: HostErrorReason = "error"): void {
    if (this.done) return;
    this.flags |= FINISHED | WRITE_DEAD;
    const sock = this.sock;
    this.sock = undefined;
    // closed from a timer: the TLSSocket may still be inside the callback that failed
    if (sock)
      this.defer(() => {
        try {
          sock.close();
        } catch {
          /* closed */
        }
      });
    this.cb.onError?.call(this.cb.target, reason, { code, detail });
  }
}
