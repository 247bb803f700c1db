/**
 * A TLS STAND-IN for the simulated network: NOT TLS, NO CRYPTOGRAPHY, NO SECRECY.
 *
 * It keeps what the runtime's TLS code depends on testable on the deterministic sim host: a
 * handshake that takes round trips and can stall, certificates that can be untrusted, expired or
 * for another name, client-certificate requests, version and ALPN negotiation, alerts, close_notify,
 * records that cut the byte stream, and the ECMA-419 TLS socket contract (the first `onWritable`
 * means "handshake done"; plaintext in and out). Both ends of a connection must use it.
 *
 * Wire format: records of `type(1) length(2, big-endian) payload`, type 22 handshake
 * (`msgType(1)` + JSON), 21 alert (`level(1) description(1)`, TLS alert numbers), 23 data.
 *   client → ClientHello { versions, serverName, alpn }
 *   server → ServerHello { version, cipher, alpn, certificate, requestCert }
 *   client → Certificate { certificate | null } (only when requested), Finished
 *   server → Finished                          (both sides are then open)
 * Certificates are stand-in certificates made by `standInCA()` below (JSON in a PEM-like frame);
 * "signed by" means "names the key id of" a CA certificate. Real PEM certificates are refused.
 */
import type {
  CertificateInfo,
  Endpoint,
  HostErrorReason,
  HostTLS,
  PEM,
  TCP,
  TLS,
  TLSFailure,
  TLSFailureCode,
  TLSSecureOptions,
  TLSSession,
  TLSVersion,
  TLSWrapOptions,
} from "../../src/host.js";
import { decodeUtf8, encodeUtf8 } from "../../src/base/utf8.js";
import { matchesName } from "../../src/base/names.js";
import { takeOver } from "./handover.js";
import type { SimHost } from "./host.js";

export const STANDIN_CIPHER = "STANDIN_NO_ENCRYPTION";

const RECORD_HANDSHAKE = 22;
const RECORD_ALERT = 21;
const RECORD_DATA = 23;
const HEADER = 3;
/** Most plaintext bytes in one record (as in TLS). */
export const STANDIN_MAX_RECORD = 16384;
/** Decoded bytes waiting for the application before the stand-in stops reading its TCP socket. */
const RECEIVE_LIMIT = 65536;

const MSG_CLIENT_HELLO = 1;
const MSG_SERVER_HELLO = 2;
const MSG_CERTIFICATE = 11;
const MSG_FINISHED = 20;

/** TLS alert descriptions the stand-in sends. */
export const ALERT = Object.freeze({
  closeNotify: 0,
  unexpectedMessage: 10,
  handshakeFailure: 40,
  badCertificate: 42,
  certificateExpired: 45,
  unknownCA: 48,
  decodeError: 50,
  protocolVersion: 70,
  internalError: 80,
  certificateRequired: 116,
  noApplicationProtocol: 120,
});

const ALERT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ALERT).map(([name, n]) => [n, name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())]),
);

const VERSIONS: TLSVersion[] = ["TLSv1.2", "TLSv1.3"];

// ---------------------------------------------------------------- stand-in certificates

const CERT_BEGIN = "-----BEGIN COSOCK STAND-IN CERTIFICATE-----";
const CERT_END = "-----END COSOCK STAND-IN CERTIFICATE-----";
const KEY_BEGIN = "-----BEGIN COSOCK STAND-IN KEY-----";
const KEY_END = "-----END COSOCK STAND-IN KEY-----";

/** The content of a stand-in certificate. */
export interface StandInCertificate {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  issuer: string;
  /** The key id of the certificate that "signed" this one. */
  issuerKey: string;
  key: string;
  /** ms since 1970 (compared with the host's `wallClock()`). */
  notBefore: number;
  notAfter: number;
  serial: number;
  ca: boolean;
}

export interface StandInIssueOptions {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: number;
  notAfter?: number;
}

export interface StandInCredentials {
  cert: string;
  key: string;
}

let serials = 0;

function frame(begin: string, end: string, body: unknown): string {
  return `${begin}\n${JSON.stringify(body)}\n${end}\n`;
}

function unframe(pem: PEM, begin: string, end: string): unknown {
  const text = typeof pem === "string" ? pem : decodeUtf8(pem);
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error("not a stand-in certificate or key (the sim host's TLS is a stand-in)");
  return JSON.parse(text.slice(a + begin.length, b));
}

/** Validity defaults: from the sim's epoch (wallClock() at time 0) for a year. */
const DEFAULT_FROM = 1_600_000_000_000;
const DEFAULT_TO = 4_000_000_000_000;

/**
 * A stand-in certificate authority: `cert` goes into `ca` options; `issue()` makes leaf
 * certificates (and keys) for servers and clients. `selfSigned()` makes a leaf no CA vouches for.
 */
export function standInCA(commonName = "cosock stand-in CA"): StandInCredentials & {
  issue(o: StandInIssueOptions): StandInCredentials;
} {
  const caKey = `${commonName}#${++serials}`;
  const ca: StandInCertificate = {
    commonName,
    dnsNames: [],
    ipAddresses: [],
    issuer: commonName,
    issuerKey: caKey,
    key: caKey,
    notBefore: DEFAULT_FROM,
    notAfter: DEFAULT_TO,
    serial: serials,
    ca: true,
  };
  return {
    cert: frame(CERT_BEGIN, CERT_END, ca),
    key: frame(KEY_BEGIN, KEY_END, { key: caKey }),
    issue: (o) => issue(o, commonName, caKey),
  };
}

/** A leaf certificate that signs itself. */
export function standInSelfSigned(o: StandInIssueOptions): StandInCredentials {
  const key = `${o.commonName}#${serials + 1}`;
  return issue(o, o.commonName, key, key);
}

function issue(o: StandInIssueOptions, issuer: string, issuerKey: string, ownKey?: string): StandInCredentials {
  const serial = ++serials;
  const key = ownKey ?? `${o.commonName}#${serial}`;
  const cert: StandInCertificate = {
    commonName: o.commonName,
    dnsNames: o.dnsNames ?? [o.commonName],
    ipAddresses: o.ipAddresses ?? [],
    issuer,
    issuerKey,
    key,
    notBefore: o.notBefore ?? DEFAULT_FROM,
    notAfter: o.notAfter ?? DEFAULT_TO,
    serial,
    ca: false,
  };
  return { cert: frame(CERT_BEGIN, CERT_END, cert), key: frame(KEY_BEGIN, KEY_END, { key }) };
}

function parseCertificate(pem: PEM): StandInCertificate {
  return unframe(pem, CERT_BEGIN, CERT_END) as StandInCertificate;
}

function parseKey(pem: PEM): string {
  return (unframe(pem, KEY_BEGIN, KEY_END) as { key: string }).key;
}

/** A stand-in digest (FNV-1a, 32 bytes), shaped like a SHA-256 fingerprint; not a real one. */
function fingerprint(c: StandInCertificate): string {
  const bytes = encodeUtf8(JSON.stringify(c));
  const out: string[] = [];
  let h = 0x811c9dc5;
  for (let round = 0; round < 32; round++) {
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
    h = Math.imul(h ^ round, 0x01000193) >>> 0;
    out.push((h & 0xff).toString(16).toUpperCase().padStart(2, "0"));
  }
  return out.join(":");
}

function info(c: StandInCertificate): CertificateInfo {
  return {
    subject: `CN=${c.commonName}`,
    issuer: `CN=${c.issuer}`,
    commonName: c.commonName,
    dnsNames: c.dnsNames.slice(),
    ipAddresses: c.ipAddresses.slice(),
    validFrom: c.notBefore,
    validTo: c.notAfter,
    fingerprint: fingerprint(c),
    serialNumber: String(c.serial),
  };
}

type Verdict = { ok: true } | { ok: false; alert: number; why: string };

/** Chain and validity (not the name). */
function verifyChain(c: StandInCertificate, ca: StandInCertificate[] | undefined, now: number): Verdict {
  const trusted = (ca ?? []).some((a) => (a.ca || a.key === c.key) && a.key === c.issuerKey);
  if (!trusted)
    return {
      ok: false,
      alert: ALERT.unknownCA,
      why: c.issuerKey === c.key ? "self-signed certificate" : "unable to verify the first certificate",
    };
  if (now > c.notAfter) return { ok: false, alert: ALERT.certificateExpired, why: "certificate has expired" };
  if (now < c.notBefore) return { ok: false, alert: ALERT.badCertificate, why: "certificate is not yet valid" };
  return { ok: true };
}

// ---------------------------------------------------------------- the host side

interface Parsed {
  cert: StandInCertificate | undefined;
  ca: StandInCertificate[] | undefined;
}

const parsedOptions = new WeakMap<TLSSecureOptions, Parsed>();

/** The stand-in certificates of `s`; throws on anything else, or on a key that is not the certificate's. */
function parse(s: TLSSecureOptions): Parsed {
  let p = parsedOptions.get(s);
  if (p === undefined) {
    let cert: StandInCertificate | undefined;
    if (s.cert !== undefined) {
      cert = parseCertificate(s.cert);
      if (s.key === undefined || parseKey(s.key) !== cert.key) throw new Error("the key does not belong to the certificate");
    } else if (s.role === "server") throw new Error("a TLS server needs cert and key");
    p = { cert, ca: s.ca?.map(parseCertificate) };
    parsedOptions.set(s, p);
  }
  return p;
}

export class TLSStandIn implements HostTLS {
  constructor(private readonly host: SimHost) {}

  prepare(secure: TLSSecureOptions): void {
    parse(secure);
  }

  wrap(options: TLSWrapOptions): TLS {
    return new StandInSocket(this.host, options);
  }
}

type Phase =
  | "waitClientHello"
  | "waitServerHello"
  | "waitClientCertificate"
  | "waitClientFinished"
  | "waitServerFinished"
  | "open"
  | "failed"
  | "closed";

class Failed extends Error {
  constructor(
    readonly failure: TLSFailure,
    readonly alert: number | undefined,
  ) {
    super(failure.detail);
  }
}

function fail(code: TLSFailureCode, detail: string, alert?: number): never {
  throw new Failed({ code, detail }, alert);
}

/** One end of a stand-in TLS connection over a sim TCP socket. */
class StandInSocket implements TLS {
  readonly #host: SimHost;
  readonly #transport: TCP;
  readonly #secure: TLSSecureOptions;
  readonly #app: TLSWrapOptions;
  #phase: Phase;
  #session: TLSSession | undefined;
  #cert: StandInCertificate | undefined;
  #ca: StandInCertificate[] | undefined;
  #version: TLSVersion = "TLSv1.3";
  #alpn: string | undefined;
  #peer: StandInCertificate | undefined;
  #authorized = false;
  #authorizationError: string | undefined;
  #requestedCert = false;

  // bytes from the transport not yet parsed
  #inbound: Uint8Array = new Uint8Array(0);
  // plaintext for the application
  #plain: Uint8Array[] = [];
  #plainBytes = 0;
  #peerClosed = false;
  #endDelivered = false;
  /** Reading from the transport stopped at RECEIVE_LIMIT; the application's reads restart it. */
  #throttled = false;
  // records waiting for the transport's writable count (handshake, alerts)
  #out: Uint8Array[] = [];
  #endAfterOut = false;
  #ended = false;
  /** The transport's writable count as last learnt (Infinity: not known yet). */
  #tw = Infinity;

  constructor(host: SimHost, options: TLSWrapOptions) {
    this.#host = host;
    this.#app = options;
    this.#secure = options.secure;
    const s = options.secure;
    const parsed = parse(s); // before taking the socket over: a throw leaves it with its owner
    this.#ca = parsed.ca;
    this.#cert = parsed.cert;
    this.#transport = options.from;
    takeOver(options.from, {
      onReadable: () => this.#pull(),
      onWritable: (count) => this.#transportWritable(count),
      onEnd: () => this.#transportEnd(),
      onError: (reason) => this.#transportError(reason),
    });
    if (options.buffered?.length) this.#inbound = options.buffered.slice();
    if (s.role === "client") {
      this.#phase = "waitServerHello";
      this.#send(
        RECORD_HANDSHAKE,
        handshake(MSG_CLIENT_HELLO, {
          versions: this.#versions(),
          serverName: s.serverName,
          alpn: s.alpn,
        }),
      );
    } else {
      this.#phase = "waitClientHello";
    }
    // Bytes read ahead (or left unread in the transport) are handshake input: look at them soon.
    this.#host.defer(() => this.#pull());
  }

  // ---------------------------------------------------------------- the TCP face (plaintext)

  get session(): TLSSession | undefined {
    return this.#session;
  }

  read(max?: number): Uint8Array | undefined {
    if (this.#phase === "closed") return undefined;
    const head = this.#plain[0];
    if (head === undefined) return undefined;
    let out: Uint8Array;
    if (max !== undefined && max < head.length) {
      out = head.subarray(0, Math.max(0, Math.floor(max)));
      this.#plain[0] = head.subarray(out.length);
    } else {
      out = head;
      this.#plain.shift();
    }
    this.#plainBytes -= out.length;
    if (this.#throttled && this.#plainBytes < RECEIVE_LIMIT) {
      this.#throttled = false;
      this.#host.defer(() => this.#pull());
    }
    this.#maybeEnd();
    return out;
  }

  write(data: Uint8Array): number {
    if (this.#phase !== "open") throw new Error(this.#phase === "closed" || this.#phase === "failed" ? "closed" : "not connected");
    if (this.#ended) throw new Error("write after end");
    const writable = this.#writable();
    if (data.length > writable) throw new RangeError(`write of ${data.length} bytes exceeds the writable count ${writable}`);
    if (data.length === 0) return writable;
    const records = Math.ceil(data.length / STANDIN_MAX_RECORD);
    const wire = new Uint8Array(data.length + records * HEADER);
    let at = 0;
    for (let off = 0; off < data.length; off += STANDIN_MAX_RECORD) {
      const part = data.subarray(off, Math.min(data.length, off + STANDIN_MAX_RECORD));
      wire[at] = RECORD_DATA;
      wire[at + 1] = part.length >> 8;
      wire[at + 2] = part.length & 0xff;
      wire.set(part, at + HEADER);
      at += HEADER + part.length;
    }
    this.#tw = this.#transport.write(wire);
    return this.#writable();
  }

  end(): void {
    if (this.#ended || this.#phase === "closed" || this.#phase === "failed") return;
    this.#ended = true;
    this.#send(RECORD_ALERT, new Uint8Array([1, ALERT.closeNotify]));
    this.#endAfterOut = true;
    this.#flushOut();
  }

  close(): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#plain = [];
    this.#plainBytes = 0;
    this.#transport.close();
  }

  setOption(name: "nodelay" | "keepalive", on: boolean, idleMs?: number, intervalMs?: number): boolean {
    return name === "nodelay" ? this.#transport.setOption(name, on) : this.#transport.setOption(name, on, idleMs, intervalMs);
  }

  get remote(): Endpoint | undefined {
    return this.#transport.remote;
  }

  get local(): Endpoint | undefined {
    return this.#transport.local;
  }

  // ---------------------------------------------------------------- transport events

  #pull(): void {
    if (this.#phase === "closed" || this.#phase === "failed") return;
    for (;;) {
      if (this.#plainBytes >= RECEIVE_LIMIT) {
        this.#throttled = true;
        break;
      }
      const chunk = this.#transport.read();
      if (chunk === undefined) break;
      this.#inbound = join(this.#inbound, chunk);
      this.#parse();
      if (this.#over()) return;
    }
    this.#parse();
  }

  /** Failed or closed: nothing more is read or reported. */
  #over(): boolean {
    return this.#phase === "failed" || this.#phase === "closed";
  }

  #transportWritable(count: number): void {
    this.#tw = count;
    if (this.#phase === "closed" || this.#phase === "failed") return;
    this.#flushOut();
    if (this.#phase === "open" && this.#out.length === 0) this.#emit(() => this.#app.onWritable?.call(this.#app.target, this.#writable()));
  }

  #transportEnd(): void {
    if (this.#phase === "open") {
      this.#peerClosed = true; // without close_notify: taken as an orderly end, as node:tls does
      this.#maybeEnd();
    } else if (this.#phase !== "closed" && this.#phase !== "failed") {
      this.#phase = "failed";
      this.#emit(() => this.#app.onEnd?.call(this.#app.target)); // the runtime fails the handshake
    }
  }

  #transportError(reason: HostErrorReason): void {
    if (this.#phase === "closed" || this.#phase === "failed") return;
    this.#phase = "failed";
    this.#emit(() => this.#app.onError?.call(this.#app.target, reason));
  }

  // ---------------------------------------------------------------- records

  #parse(): void {
    try {
      while (this.#phase !== "failed" && this.#phase !== "closed" && this.#inbound.length >= HEADER) {
        const b = this.#inbound;
        const type = b[0];
        const length = (b[1] << 8) | b[2];
        if (type !== RECORD_HANDSHAKE && type !== RECORD_ALERT && type !== RECORD_DATA)
          fail("sslhandshake", `not a TLS record (first byte ${type}): the peer does not speak TLS`, ALERT.decodeError);
        if (length > STANDIN_MAX_RECORD + 256) fail("sslhandshake", "record too long", ALERT.decodeError);
        if (b.length < HEADER + length) return;
        const payload = b.slice(HEADER, HEADER + length);
        this.#inbound = b.subarray(HEADER + length);
        if (type === RECORD_ALERT) this.#alert(payload);
        else if (type === RECORD_DATA) this.#data(payload);
        else this.#handshake(payload);
      }
    } catch (e) {
      if (!(e instanceof Failed)) throw e;
      this.#fatal(e);
    }
  }

  #alert(p: Uint8Array): void {
    const description = p[1];
    if (description === ALERT.closeNotify) {
      if (this.#phase !== "open") fail("sslclosenotify", "the peer sent close_notify during the handshake");
      this.#peerClosed = true;
      this.#maybeEnd();
      return;
    }
    fail("sslalertrecv", `the peer sent alert ${ALERT_NAMES[description] ?? description}`);
  }

  #data(p: Uint8Array): void {
    if (this.#phase !== "open") fail("sslhandshake", "application data before the handshake completed", ALERT.unexpectedMessage);
    if (this.#peerClosed) return; // after close_notify: ignored
    if (p.length === 0) return;
    this.#plain.push(p);
    this.#plainBytes += p.length;
    this.#emit(() => {
      if (this.#phase === "open" && this.#plainBytes > 0) this.#app.onReadable?.call(this.#app.target, this.#plainBytes);
    });
  }

  #handshake(p: Uint8Array): void {
    const type = p[0];
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(decodeUtf8(p.subarray(1))) as Record<string, unknown>;
    } catch {
      fail("sslhandshake", "malformed handshake message", ALERT.decodeError);
    }
    const s = this.#secure;
    switch (this.#phase) {
      case "waitClientHello": {
        if (type !== MSG_CLIENT_HELLO) break;
        const offered = (body.versions as TLSVersion[]) ?? [];
        const mine = this.#versions();
        const version = [...mine].reverse().find((v) => offered.includes(v));
        if (!version) fail("sslhandshake", "no protocol version in common with the client", ALERT.protocolVersion);
        this.#version = version;
        const wanted = body.alpn as string[] | undefined;
        if (s.alpn?.length && wanted?.length) {
          this.#alpn = s.alpn.find((a) => wanted.includes(a));
          if (this.#alpn === undefined) fail("sslhandshake", "no ALPN protocol in common with the client", ALERT.noApplicationProtocol);
        }
        this.#requestedCert = s.requestCert === true;
        this.#send(
          RECORD_HANDSHAKE,
          handshake(MSG_SERVER_HELLO, {
            version,
            cipher: STANDIN_CIPHER,
            alpn: this.#alpn,
            certificate: this.#cert,
            requestCert: this.#requestedCert,
          }),
        );
        this.#phase = this.#requestedCert ? "waitClientCertificate" : "waitClientFinished";
        return;
      }
      case "waitServerHello": {
        if (type !== MSG_SERVER_HELLO) break;
        this.#version = body.version as TLSVersion;
        if (!this.#versions().includes(this.#version))
          fail("sslhandshake", `the server chose ${String(this.#version)}`, ALERT.protocolVersion);
        this.#alpn = typeof body.alpn === "string" ? body.alpn : undefined;
        const cert = body.certificate as StandInCertificate | undefined;
        if (!cert) fail("sslhandshake", "the server sent no certificate", ALERT.handshakeFailure);
        this.#peer = cert;
        const chain = verifyChain(cert, this.#ca, this.#host.wallClock());
        const name = s.serverName;
        const named = name === undefined || matchesName(info(cert), name);
        this.#authorized = chain.ok;
        if (!chain.ok) this.#authorizationError = chain.why;
        if (s.verify && !chain.ok) fail("sslnottrusted", chain.why, chain.alert);
        if (s.verify && !named)
          fail(
            "sslnottrusted",
            `the certificate is not for ${name} (it names ${[...cert.dnsNames, ...cert.ipAddresses].join(", ")})`,
            ALERT.badCertificate,
          );
        if (body.requestCert === true) this.#send(RECORD_HANDSHAKE, handshake(MSG_CERTIFICATE, { certificate: this.#cert ?? null }));
        this.#send(RECORD_HANDSHAKE, handshake(MSG_FINISHED, {}));
        this.#phase = "waitServerFinished";
        return;
      }
      case "waitClientCertificate": {
        if (type !== MSG_CERTIFICATE) break;
        const cert = body.certificate as StandInCertificate | null;
        if (cert) {
          this.#peer = cert;
          const chain = verifyChain(cert, this.#ca, this.#host.wallClock());
          this.#authorized = chain.ok;
          if (!chain.ok) this.#authorizationError = chain.why;
          if (s.verify && !chain.ok) fail("sslnottrusted", `client certificate: ${chain.why}`, chain.alert);
        } else {
          this.#authorizationError = "the client sent no certificate";
          if (s.verify) fail("sslnottrusted", "the client sent no certificate", ALERT.certificateRequired);
        }
        this.#phase = "waitClientFinished";
        return;
      }
      case "waitClientFinished": {
        if (type !== MSG_FINISHED) break;
        this.#send(RECORD_HANDSHAKE, handshake(MSG_FINISHED, {}));
        if (!this.#requestedCert) this.#authorizationError = "no client certificate was requested";
        this.#open();
        return;
      }
      case "waitServerFinished": {
        if (type !== MSG_FINISHED) break;
        this.#open();
        return;
      }
    }
    fail("sslhandshake", `unexpected handshake message ${type} in ${this.#phase}`, ALERT.unexpectedMessage);
  }

  #open(): void {
    this.#phase = "open";
    const session: TLSSession = { protocol: this.#version, cipher: STANDIN_CIPHER, authorized: this.#authorized };
    if (this.#alpn !== undefined) session.alpn = this.#alpn;
    if (this.#peer) session.peerCertificate = info(this.#peer);
    if (!this.#authorized && this.#authorizationError) session.authorizationError = this.#authorizationError;
    this.#session = session;
    this.#emit(() => {
      if (this.#phase !== "open") return;
      this.#app.onWritable?.call(this.#app.target, this.#writable()); // "connected": the handshake is done
      if (this.#plainBytes > 0) this.#app.onReadable?.call(this.#app.target, this.#plainBytes);
    });
  }

  #fatal(e: Failed): void {
    if (e.alert !== undefined) this.#send(RECORD_ALERT, new Uint8Array([2, e.alert]));
    this.#phase = "failed";
    this.#flushOut();
    this.#transport.close();
    this.#emit(() => this.#app.onError?.call(this.#app.target, "error", e.failure));
  }

  // ---------------------------------------------------------------- sending

  #send(type: number, payload: Uint8Array): void {
    const r = new Uint8Array(HEADER + payload.length);
    r[0] = type;
    r[1] = payload.length >> 8;
    r[2] = payload.length & 0xff;
    r.set(payload, HEADER);
    this.#out.push(r);
    this.#flushOut();
  }

  #flushOut(): void {
    while (this.#out.length && this.#tw > 0) {
      const head = this.#out[0];
      const n = Math.min(head.length, this.#tw);
      try {
        this.#tw = this.#transport.write(n === head.length ? head : head.subarray(0, n));
      } catch (e) {
        if (e instanceof RangeError && this.#tw === Infinity) {
          this.#tw = 0; // the count was not known and is too low: wait for onWritable
          return;
        }
        return; // the transport failed: its onError follows
      }
      if (n === head.length) this.#out.shift();
      else this.#out[0] = head.subarray(n);
    }
    if (this.#out.length === 0 && this.#endAfterOut) {
      this.#endAfterOut = false;
      try {
        this.#transport.end();
      } catch {
        /* failed meanwhile */
      }
    }
  }

  #writable(): number {
    if (this.#phase !== "open" || this.#out.length > 0 || this.#ended) return 0;
    const tw = this.#tw === Infinity ? 0 : this.#tw;
    return Math.max(0, tw - HEADER * Math.ceil(tw / STANDIN_MAX_RECORD));
  }

  #versions(): TLSVersion[] {
    const s = this.#secure;
    const lo = VERSIONS.indexOf(s.minVersion ?? "TLSv1.2");
    const hi = VERSIONS.indexOf(s.maxVersion ?? "TLSv1.3");
    return VERSIONS.slice(lo, hi + 1);
  }

  #maybeEnd(): void {
    if (this.#peerClosed && this.#plainBytes === 0 && !this.#endDelivered && this.#phase === "open") {
      this.#endDelivered = true;
      this.#emit(() => {
        if (this.#phase === "open") this.#app.onEnd?.call(this.#app.target);
      });
    }
  }

  /** Callbacks always run from an event of their own, never inside a call into this object. */
  #emit(fn: () => void): void {
    this.#host.defer(() => {
      if (this.#phase !== "closed") fn();
    });
  }
}

function handshake(type: number, body: unknown): Uint8Array {
  const json = encodeUtf8(JSON.stringify(body));
  const out = new Uint8Array(1 + json.length);
  out[0] = type;
  out.set(json, 1);
  return out;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
