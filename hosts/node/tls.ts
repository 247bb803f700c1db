/**
 * The seam's TLS (`HostTLS`, src/host.ts) over `node:tls`.
 *
 * `wrap` takes over a connected `NodeTCP`: `release()` gives back its `net.Socket`, paused, with the
 * runtime's read-ahead and every unread byte put back at the front of the stream; `node:tls` feeds
 * those bytes to the handshake before reading more (TLSSocket's initRead), and sends its first
 * bytes after the plaintext already written. The result is a `NodeTCP` over the `TLSSocket`
 * (plaintext in and out, the same buffering and flow control), whose "connected" event is emitted
 * here once the handshake completed and passed the checks below.
 *
 * Verification: a client uses Node's own (`rejectUnauthorized` = verify; chain, validity and
 * name). A server asking for a certificate lets OpenSSL refuse a client that sends none (the
 * client receives an alert), and refuses an untrusted one itself after the handshake.
 * Errors are mapped to the runtime's SSL codes by `tlsFailure`.
 */
import type { X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import type {
  CertificateInfo,
  HostErrorReason,
  HostTLS,
  PEM,
  TLS,
  TLSFailure,
  TLSSecureOptions,
  TLSSession,
  TLSWrapOptions,
} from "../../src/host.js";
import { errorCode } from "./errors.js";
import { NodeTCP, type TCPLimits } from "./tcp.js";

/** Emitted on the TLSSocket when the handshake completed and was accepted. */
const SECURED = "cosock:secured";

export function nodeTLS(limits: TCPLimits): HostTLS {
  return { prepare: contextFor, wrap: (options) => wrapTLS(options, limits) };
}

/** A TLS connection: a NodeTCP over a TLSSocket, plus what the handshake negotiated. */
export class NodeTLS extends NodeTCP implements TLS {
  #session: TLSSession | undefined;

  get session(): TLSSession | undefined {
    return this.#session;
  }

  /** @internal */
  secured(session: TLSSession): void {
    this.#session = session;
  }
}

function wrapTLS(options: TLSWrapOptions, limits: TCPLimits): NodeTLS {
  const from = options.from;
  if (!(from instanceof NodeTCP) || from instanceof NodeTLS) throw new Error("not a plain TCP socket of this host");
  const secure = options.secure;
  const context = contextFor(secure); // throws on a bad certificate or key, before taking the socket
  const raw = from.release(options.buffered);
  let socket: tls.TLSSocket;
  try {
    socket = secure.role === "client" ? clientSocket(raw, secure, context) : serverSocket(raw, secure, context);
  } catch (e) {
    raw.destroy();
    throw e;
  }

  // The first TLS failure is kept so that the onError the NodeTCP calls can name it.
  let failure: TLSFailure | undefined;
  let established = false;
  socket.prependListener("error", (error: Error) => {
    failure ??= tlsFailure(error, established);
  });
  const wrapped = new NodeTLS(
    socket,
    {
      onReadable: options.onReadable,
      onWritable: options.onWritable,
      onEnd: options.onEnd,
      onError(reason: HostErrorReason) {
        options.onError?.call(this, reason, failure);
      },
      target: options.target,
    },
    limits,
    false,
    SECURED,
  );

  const done = (session: TLSSession): void => {
    established = true;
    wrapped.secured(session);
    socket.emit(SECURED);
  };
  if (secure.role === "client") {
    socket.once("secureConnect", () => done(describe(socket, socket.authorized, socket.authorizationError)));
  } else {
    socket.once("secure", () => {
      let authorized = false;
      let why: string | undefined = "no client certificate was requested";
      if (secure.requestCert) {
        const err = verifyError(socket);
        authorized = err === null && socket.getPeerX509Certificate() !== undefined;
        why = authorized ? undefined : (err?.message ?? "the client sent no certificate");
        if (!authorized && secure.verify) {
          socket.destroy(err ?? Object.assign(new Error(why), { code: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE" }));
          return;
        }
      }
      done(describe(socket, authorized, why));
    });
  }
  return wrapped;
}

function pem(p: PEM): string | Buffer {
  return typeof p === "string" ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

function clientSocket(raw: net.Socket, s: TLSSecureOptions, context: tls.SecureContext): tls.TLSSocket {
  const name = s.serverName ?? raw.remoteAddress ?? "localhost";
  return tls.connect({
    socket: raw,
    host: name, // the name Node checks the certificate against
    servername: net.isIP(name) === 0 ? name : undefined, // SNI carries host names only
    secureContext: context,
    rejectUnauthorized: s.verify,
    // Without verification the name is not checked here either: `authorized` then reports the
    // chain alone, and the runtime checks names itself (`trusted(name)`).
    checkServerIdentity: s.verify ? tls.checkServerIdentity : () => undefined,
    ALPNProtocols: s.alpn,
  });
}

/**
 * One secure context (certificates, key, CAs, versions) per options object: a listener's accepted
 * connections share one. Without `ca` the context trusts Node's default roots.
 */
const contexts = new WeakMap<TLSSecureOptions, tls.SecureContext>();

function contextFor(s: TLSSecureOptions): tls.SecureContext {
  let context = contexts.get(s);
  if (context === undefined) {
    if (s.role === "server" && (s.cert === undefined || s.key === undefined)) throw new Error("a TLS server needs cert and key");
    context = tls.createSecureContext({
      cert: s.cert === undefined ? undefined : pem(s.cert),
      key: s.key === undefined ? undefined : pem(s.key),
      ca: s.ca?.map(pem),
      minVersion: s.minVersion,
      maxVersion: s.maxVersion,
    });
    contexts.set(s, context);
  }
  return context;
}

function serverSocket(raw: net.Socket, s: TLSSecureOptions, context: tls.SecureContext): tls.TLSSocket {
  return new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    requestCert: s.requestCert === true,
    // OpenSSL then refuses a client without a certificate, with an alert the client sees.
    rejectUnauthorized: s.requestCert === true && s.verify,
    ALPNProtocols: s.alpn,
  });
}

/**
 * The chain verification result of a server-side TLSSocket. Node computes it for every peer
 * certificate but exposes it publicly only on sockets a `tls.Server` created; this reads the same
 * value those use. Without it (a future Node), the certificate counts as untrusted.
 */
function verifyError(socket: tls.TLSSocket): Error | null {
  const handle = (socket as unknown as { ssl?: { verifyError?: () => Error | null } }).ssl;
  if (typeof handle?.verifyError !== "function") return new Error("cannot verify the client certificate on this Node");
  return handle.verifyError();
}

function describe(socket: tls.TLSSocket, authorized: boolean, authorizationError: unknown): TLSSession {
  const cipher = socket.getCipher();
  const x509 = socket.getPeerX509Certificate();
  const session: TLSSession = {
    protocol: socket.getProtocol() ?? cipher.version,
    cipher: cipher.standardName ?? cipher.name,
    authorized,
  };
  if (typeof socket.alpnProtocol === "string") session.alpn = socket.alpnProtocol;
  if (x509) session.peerCertificate = certificateInfo(x509);
  if (!authorized && authorizationError) session.authorizationError = String(authorizationError);
  return session;
}

export function certificateInfo(x: X509Certificate): CertificateInfo {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (x.subjectAltName ?? "").split(/,\s*/)) {
    const m = /^(DNS|IP Address):"?(.*?)"?$/.exec(entry);
    if (m) (m[1] === "DNS" ? dnsNames : ipAddresses).push(m[2]);
  }
  const info: CertificateInfo = {
    subject: x.subject.split("\n").join(", "),
    issuer: x.issuer.split("\n").join(", "),
    dnsNames,
    ipAddresses,
    validFrom: Date.parse(x.validFrom),
    validTo: Date.parse(x.validTo),
    fingerprint: x.fingerprint256,
    serialNumber: x.serialNumber,
  };
  const cn = /^CN=(.*)$/m.exec(x.subject);
  if (cn) info.commonName = cn[1];
  return info;
}

/** OpenSSL's certificate verification results, and Node's name check: the peer is not trusted. */
const NOT_TRUSTED =
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME_INVALID$|ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE$)/;
/** An alert the peer sent (OpenSSL names them "sslv3/tlsv1/tlsv13 alert …"). */
const ALERT_RECEIVED = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/;
const CRYPTO = /BAD_RECORD_MAC|DECRYPTION_FAILED|BAD_DECRYPT/;

/**
 * The runtime's SSL code for a Node error on a TLS socket, or undefined for a failure of the
 * connection under an established TLS session (reset, EPIPE: the socket's ordinary errors).
 */
export function tlsFailure(error: Error, established: boolean): TLSFailure | undefined {
  const code = errorCode(error) ?? "";
  const detail = error.message || code;
  if (NOT_TRUSTED.test(code)) return { code: "sslnottrusted", detail };
  if (code === "ERR_SSL_SSLV3_ALERT_CLOSE_NOTIFY") return { code: "sslclosenotify", detail };
  if (ALERT_RECEIVED.test(code)) return { code: "sslalertrecv", detail };
  if (CRYPTO.test(code)) return { code: established ? "sslcryptoerr" : "sslhandshake", detail };
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_")) return { code: "sslhandshake", detail };
  if (!established) return { code: "sslhandshake", detail };
  return undefined;
}
