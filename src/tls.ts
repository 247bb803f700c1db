/**
 * TLS for the runtime: the options of `connect(…, { tls })`, `bind(…, { tls })` and
 * `sock.upgrade(tls)`, their defaults, the translation of host failures into the seed's SSL error
 * codes, and what `trusted()`, `cipher()` and `certificate()` report. The handshake itself is the
 * host's (`HostTLS` in host.ts); the socket's part of it (the handshake's phases) is in socket/tls-phase.ts.
 *
 * Verification is on by default: a client connection to a server whose certificate does not chain
 * to a trusted CA, has expired, or does not match the name fails with `sslnottrusted` unless the
 * caller passes `verify: false` (the reference system connects anyway and leaves the check to the
 * caller; `trusted()` still reports it here).
 */
import { SocketError } from "./errors.js";
import type { CertificateInfo, HostErrorReason, PEM, TLSFailure, TLSSecureOptions, TLSSession, TLSVersion } from "./host.js";
import { matchesName } from "./base/names.js";

export { matchesName };

export type { PEM, CertificateInfo, TLSSession, TLSVersion };

/** TLS options of a client: `rt.connect(host, port, { tls })`, `sock.upgrade(tls)`. */
export interface TLSOptions {
  /** Trusted CA certificates (PEM); default: the host's trust store. */
  ca?: PEM | PEM[];
  /** SNI and the name the certificate must match; default: the host name given to `connect`. */
  serverName?: string;
  /** ALPN protocols to offer, most preferred first. */
  alpn?: string[];
  /** Refuse an untrusted or mismatched certificate with `sslnottrusted`. Default true. */
  verify?: boolean;
  /** A client certificate (chain) and its key, for servers that ask for one. */
  cert?: PEM;
  key?: PEM;
  /** ms the handshake may take; then it fails with `sslhandshake`. Default `tlsDefaults.handshakeTimeout`. */
  handshakeTimeout?: number;
  minVersion?: TLSVersion;
  maxVersion?: TLSVersion;
}

/** TLS options of a server: `rt.bind(port, { tls })`, or `sock.upgrade({ server: true, … })`. */
export interface TLSServerOptions {
  /** Marks options for the server side of `upgrade` (STARTTLS); not needed with `bind`. */
  server?: true;
  /** This server's certificate (chain) and private key (PEM). */
  cert: PEM;
  key: PEM;
  /** Ask each client for a certificate. Default false. */
  requestCert?: boolean;
  /**
   * With `requestCert`: a client without a certificate, or with one that does not chain to `ca`,
   * fails the handshake (`sslnottrusted` here, an alert at the client). Default true. With false,
   * such clients are accepted and `trusted()` tells.
   */
  verify?: boolean;
  /** CAs trusted to sign client certificates; default: the host's trust store. */
  ca?: PEM | PEM[];
  /** ALPN protocols this server accepts, most preferred first. */
  alpn?: string[];
  /** ms an accepted connection's handshake may take. Default `tlsDefaults.handshakeTimeout`. */
  handshakeTimeout?: number;
  minVersion?: TLSVersion;
  maxVersion?: TLSVersion;
}

export const tlsDefaults = Object.freeze({
  /** A handshake that has not completed after this many ms fails with `sslhandshake`. */
  handshakeTimeout: 10000,
  verify: true,
});

/** Why `trusted()` is false, in the seed's words: certificate, name, both, or no certificate. */
export type TrustError = "cert" | "cn" | "certcn" | "none";

/** What `cipher()` reports. */
export interface CipherInfo {
  /** e.g. "TLS_AES_256_GCM_SHA384". */
  name: string;
  /** e.g. "TLSv1.3". */
  protocol: string;
  /** The negotiated ALPN protocol, if any. */
  alpn?: string;
}

/** A handshake to run: what the host gets, plus the runtime's own part. */
export interface TLSPlan {
  secure: TLSSecureOptions;
  handshakeTimeout: number;
}

function list(pem: PEM | PEM[] | undefined): PEM[] | undefined {
  if (pem === undefined) return undefined;
  return Array.isArray(pem) ? pem : [pem];
}

function timeoutOf(ms: number | undefined): number {
  const t = ms ?? tlsDefaults.handshakeTimeout;
  if (!(t > 0)) throw new SocketError("incorrectuse", "handshakeTimeout must be > 0 ms");
  return t;
}

/** The host's parameters of a client handshake; `peerHost` is the name the socket connected to. */
export function clientPlan(options: TLSOptions | true, peerHost: string | undefined): TLSPlan {
  const o: TLSOptions = options === true ? {} : options;
  if ((o.cert === undefined) !== (o.key === undefined))
    throw new SocketError("incorrectuse", "a client certificate needs both cert and key");
  return {
    handshakeTimeout: timeoutOf(o.handshakeTimeout),
    secure: {
      role: "client",
      serverName: o.serverName ?? peerHost,
      ca: list(o.ca),
      verify: o.verify ?? tlsDefaults.verify,
      cert: o.cert,
      key: o.key,
      alpn: o.alpn,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
    },
  };
}

/** The host's parameters of a server handshake. */
export function serverPlan(o: TLSServerOptions): TLSPlan {
  if (o.cert === undefined || o.key === undefined) throw new SocketError("incorrectuse", "a TLS server needs cert and key");
  return {
    handshakeTimeout: timeoutOf(o.handshakeTimeout),
    secure: {
      role: "server",
      ca: list(o.ca),
      verify: o.verify ?? tlsDefaults.verify,
      requestCert: o.requestCert === true,
      cert: o.cert,
      key: o.key,
      alpn: o.alpn,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
    },
  };
}

/** Server options (with `server: true`) or client options, as `upgrade` takes them. */
export function isServerOptions(o: TLSOptions | TLSServerOptions | true): o is TLSServerOptions {
  return o !== true && (o as TLSServerOptions).server === true;
}

/** `sslnotenabled`: the host has no TLS. */
export function notEnabled(): SocketError {
  return new SocketError("sslnotenabled", "this host has no TLS");
}

/**
 * The error a failed TLS connection reports. A TLS failure named by the host keeps its code;
 * a connection that broke or ended during the handshake is an `sslhandshake` failure; after the
 * handshake, a broken connection is an ordinary one (`undefined`: the socket's usual errors apply).
 */
export function tlsError(tls: TLSFailure | undefined, reason: HostErrorReason | "end", handshaking: boolean): SocketError | undefined {
  if (tls) return new SocketError(tls.code, tls.detail);
  if (!handshaking) return undefined;
  const why = reason === "end" ? "the peer closed the connection" : `connection ${reason === "error" ? "failed" : reason}`;
  return new SocketError("sslhandshake", `${why} during the TLS handshake`);
}

export function handshakeTimedOut(ms: number): SocketError {
  return new SocketError("sslhandshake", `the TLS handshake did not complete within ${ms} ms`);
}

// ---------------------------------------------------------------- what was negotiated

/** `trusted(name)`: undefined when trusted, else why not. */
export function trustError(session: TLSSession | undefined, name: string | undefined): TrustError | undefined {
  const cert = session?.peerCertificate;
  if (!session || !cert) return "none";
  const chain = session.authorized;
  const named = name === undefined || matchesName(cert, name);
  if (chain && named) return undefined;
  if (!chain && !named) return "certcn";
  return chain ? "cn" : "cert";
}

export function cipherOf(session: TLSSession | undefined): CipherInfo | undefined {
  if (!session) return undefined;
  const c: CipherInfo = { name: session.cipher, protocol: session.protocol };
  if (session.alpn) c.alpn = session.alpn;
  return c;
}
