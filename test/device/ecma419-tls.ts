/**
 * An emulation of Moddable's TLS client socket (`embedded:io/socket/tcp/tls`,
 * examples/io/tcp/tlssocket/tlssocket.js over modules/crypt/ssl) for running hosts/moddable under
 * Node. From the outside it behaves like Moddable's; inside, the TLS is node:tls (real TLS, so the
 * peers are real TLS servers):
 *
 * - `new TLSSocket({ ...tcpOptions, host, TCP: { io }, secure, onReadable, onWritable, onError })`
 *   makes its TCP socket with `new TCP.io({ ...options, onReadable, onWritable, onError })` (every
 *   option passed on) and sets `readable`/`writable` on it; it reads it with `read(count)` and
 *   writes with `write(bytes)` while the socket's `writable` allows, lowering it as Moddable's
 *   session does.
 * - `secure`: `verify` (default true: chain and validity; NO host-name check, as Moddable's),
 *   `certificate` (one trusted CA, DER), `clientCertificates`/`clientKey` (DER, PKCS#8),
 *   `applicationLayerProtocolNegotiation`. `host` is the SNI name. TLS 1.2 only (Moddable asks
 *   for 0x0303). Without `certificate`, the CAs given as `trusted` stand for the app's CA
 *   resources (none by default).
 * - The handshake starts at the TCP socket's first onWritable. Its end is the first
 *   `onWritable(writable - 96)`; later ones follow the TCP's, minus 96, when above 96.
 * - `onReadable(n)`: n plaintext bytes of the current piece; `read(count)` / `read()` take from
 *   it; the next piece is announced after it was read. `write(bytes)` sends one record at once
 *   and returns the TCP's writable count minus the record and 96; a record that does not fit the
 *   TCP's writable count throws "would block" (lwIP's throw, passed through by Moddable).
 * - Verification is the emulation's own, as Moddable's CertificateManager does it: while the TCP's
 *   bytes pass into node:tls, the server's Certificate message is read and, with `verify`, its
 *   chain must reach a trusted certificate by signature, every certificate on the way valid now;
 *   else "SSL: certificate: auth err" is thrown out of that onReadable, as Moddable's session
 *   throws it. node:tls itself verifies nothing (rejectUnauthorized false).
 * - Other TLS failures are thrown out of a TCP callback too, with Moddable's messages ("SSL:
 *   alert: 2, <n>" for an alert received). node:tls finds those asynchronously, so the emulation
 *   throws them from the next TCP callback (the peer's close follows); Moddable throws them from
 *   the callback that delivered the bytes.
 * - The TCP's onError is passed on as onError() once node:tls has decrypted every byte before it.
 * - `close()` closes the TCP socket; no close_notify is sent.
 * Cipher suites are node:tls's (Moddable offers fewer; which, is not emulated).
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { Duplex } from "node:stream";
import { X509Certificate } from "node:crypto";
import type { PlatformTLS, PlatformTLSFactory, PlatformTLSOptions, PlatformTLSTransport } from "../../hosts/moddable/platform.js";

export interface TLSEmulationOptions {
  /** PEM CA certificates standing for the app's built-in CA resources. Default none. */
  trusted?: string[];
}

/** The per-record overhead the emulation charges a write (TLS 1.2 AES-GCM: header, nonce, tag). */
const RECORD_OVERHEAD = 29;
const MAX_PLAINTEXT = 16384;

function pem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The message Moddable's SSL code would throw for this node:tls failure. */
function moddableError(e: Error): Error {
  const code = String((e as { code?: unknown }).code ?? "");
  const alert = /SSL alert number (\d+)/.exec(e.message);
  if (alert) return new Error(`SSL: alert: 2, ${alert[1]}`);
  if (/^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_CA)/.test(code))
    return new Error(`SSL: certificate: auth err (${code})`);
  return new Error(`SSL: handshake: ${e.message}`);
}

/** Moddable's CertificateManager.verify: each certificate valid now, signed by the next or by a trusted one. */
function chainTrusted(chain: X509Certificate[], trusted: X509Certificate[]): boolean {
  const now = Date.now();
  const valid = (c: X509Certificate) => Date.parse(c.validFrom) < now && now < Date.parse(c.validTo);
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    if (!valid(c)) return false;
    if (trusted.some((t) => valid(t) && c.checkIssued(t) && c.verify(t.publicKey))) return true;
    const next = chain[i + 1];
    if (!next || !c.verify(next.publicKey)) return false;
  }
  return false;
}

export function emulatedTLS(violations: string[], options: TLSEmulationOptions = {}): PlatformTLSFactory {
  const trusted = options.trusted ?? [];

  class EmuTLSSocket implements PlatformTLS {
    #tcp: PlatformTLSTransport;
    #callbacks: { onReadable(n: number): void; onWritable(n: number): void; onError(): void };
    #node: tls.TLSSocket;
    #duplex: Duplex;
    #ready = false;
    #failure: Error | undefined;
    #out: Buffer[] = [];
    #pieces: Buffer[] = [];
    #data: { bytes: Buffer; at: number } | undefined;
    #announcing = false;
    #closed = false;
    #tcpGone = false;
    #errorSent = false;
    /** With verify: the trusted certificates; undefined once verified or without verify. */
    #trusted: X509Certificate[] | undefined;
    #records = Buffer.alloc(0);
    #handshake = Buffer.alloc(0);

    constructor(o: PlatformTLSOptions) {
      this.#callbacks = { onReadable: o.onReadable, onWritable: o.onWritable, onError: o.onError };
      const s = o.secure;
      this.#duplex = new Duplex({
        read() {},
        write: (chunk: Buffer, _encoding, done) => {
          this.#out.push(chunk);
          this.#flush();
          done();
        },
      });
      this.#duplex.on("error", () => undefined);
      this.#tcp = new o.TCP.io({
        ...o,
        onReadable: (n: number) => this.#tcpReadable(n),
        onWritable: (n: number) => this.#tcpWritable(n),
        onError: () => this.#tcpError(),
      });
      this.#tcp.readable = this.#tcp.writable = 0;
      const ca = s.certificate ? [pem(s.certificate, "CERTIFICATE")] : trusted;
      this.#trusted = s.verify === false ? undefined : ca.map((c) => new X509Certificate(c));
      this.#node = tls.connect({
        socket: this.#duplex,
        servername: net.isIP(o.host) ? undefined : o.host,
        ca: ca.length ? ca : undefined, // none given: Node's roots stand in for the app's CA resources
        rejectUnauthorized: false, // verified here (#verify), as Moddable's CertificateManager does
        checkServerIdentity: () => undefined, // Moddable's TLS does not check the name
        minVersion: "TLSv1.2",
        maxVersion: "TLSv1.2",
        ALPNProtocols: s.applicationLayerProtocolNegotiation,
        cert: s.clientCertificates?.map((c) => pem(c, "CERTIFICATE")).join(""),
        key: s.clientKey ? pem(s.clientKey, "PRIVATE KEY") : undefined,
      });
      this.#node.on("secureConnect", () => {
        this.#ready = true;
        setImmediate(() => {
          const w = this.#tcp.writable;
          if (!this.#closed && !this.#failure && w > 96) this.#callbacks.onWritable(w - 96);
        });
      });
      this.#node.on("data", (chunk: Buffer) => {
        this.#pieces.push(chunk);
        this.#announce();
      });
      this.#node.on("error", (e: Error) => {
        this.#failure ??= moddableError(e);
      });
      this.#node.on("end", this.#gone).on("close", this.#gone);
    }

    #tcpReadable(n: number): void {
      if (this.#failure) throw this.#failure;
      this.#tcp.readable = n;
      this.#pull();
    }

    /** Moves the TCP's bytes into node:tls while little plaintext waits (Moddable reads a record at a time). */
    #pull(): void {
      const waiting = this.#pieces.reduce((n, p) => n + p.length, 0);
      const n = this.#tcp.readable;
      if (n <= 0 || waiting >= MAX_PLAINTEXT || this.#closed) return;
      const bytes = Buffer.from(this.#tcp.read(n) as ArrayBuffer);
      this.#tcp.readable -= n;
      if (this.#trusted) this.#verify(bytes); // throws out of this TCP callback, as Moddable's session
      this.#duplex.push(bytes);
    }

    /** Follows the server's handshake records until its Certificate message, and checks that chain. */
    #verify(bytes: Buffer): void {
      let r = (this.#records = Buffer.concat([this.#records, bytes]));
      while (r.length >= 5 && r.length >= 5 + r.readUInt16BE(3)) {
        const len = r.readUInt16BE(3);
        if (r[0] === 20) {
          this.#trusted = undefined; // ChangeCipherSpec: no Certificate came (a resumed session)
          return;
        }
        if (r[0] === 22) this.#handshake = Buffer.concat([this.#handshake, r.subarray(5, 5 + len)]);
        r = this.#records = r.subarray(5 + len);
      }
      for (let h = this.#handshake; h.length >= 4 && h.length >= 4 + h.readUIntBE(1, 3); ) {
        const len = h.readUIntBE(1, 3);
        if (h[0] === 11) {
          const certs: X509Certificate[] = [];
          for (let at = 7; at + 3 <= 4 + len; ) {
            const n = h.readUIntBE(at, 3);
            certs.push(new X509Certificate(h.subarray(at + 3, at + 3 + n)));
            at += 3 + n;
          }
          const trusted = this.#trusted!;
          this.#trusted = undefined;
          if (!chainTrusted(certs, trusted)) {
            this.#failure = new Error("SSL: certificate: auth err");
            throw this.#failure;
          }
          return;
        }
        h = this.#handshake = h.subarray(4 + len);
      }
    }

    #tcpWritable(n: number): void {
      if (this.#failure) throw this.#failure;
      this.#tcp.writable = n;
      this.#flush();
      if (this.#ready && n > 96) this.#callbacks.onWritable(n - 96);
    }

    #tcpError(): void {
      if (this.#failure) throw this.#failure;
      this.#tcpGone = true;
      this.#duplex.push(null);
      this.#gone(); // node:tls may have ended already (close_notify)
    }

    /** The TCP's end, passed on once node:tls has given every byte before it and all was read. */
    #gone = (): void => {
      if (!this.#tcpGone || this.#errorSent || this.#closed || this.#data || this.#pieces.length) return;
      if (!this.#node.readableEnded && !this.#node.destroyed) return;
      this.#errorSent = true;
      this.#callbacks.onError();
    };

    #flush(): void {
      while (this.#out.length && this.#tcp.writable > 0 && !this.#closed) {
        const chunk = this.#out[0]!;
        const k = Math.min(chunk.length, this.#tcp.writable);
        try {
          this.#tcp.write(new Uint8Array(chunk.buffer, chunk.byteOffset, k));
        } catch (e) {
          this.#failure ??= e as Error;
          return;
        }
        this.#tcp.writable -= k;
        if (k === chunk.length) this.#out.shift();
        else this.#out[0] = chunk.subarray(k);
      }
    }

    #announce(): void {
      if (this.#data || this.#announcing || !this.#pieces.length) return;
      this.#announcing = true;
      setImmediate(() => {
        this.#announcing = false;
        if (this.#closed || this.#data || !this.#pieces.length) return;
        const bytes = this.#pieces.shift()!;
        this.#data = { bytes, at: 0 };
        this.#callbacks.onReadable(bytes.length);
      });
    }

    read(count?: number): ArrayBuffer | undefined {
      const d = this.#data;
      if (!d) return undefined;
      const end = count ? Math.min(d.at + count, d.bytes.length) : d.bytes.length;
      const out = new Uint8Array(d.bytes.subarray(d.at, end)).slice().buffer;
      d.at = end;
      if (d.at >= d.bytes.length) {
        this.#data = undefined;
        this.#pull();
        this.#announce();
        if (!this.#pieces.length && this.#tcpGone) setImmediate(this.#gone);
      }
      return out;
    }

    write(data: ArrayBuffer): number {
      if (!this.#ready) throw new Error("not ready");
      const n = data.byteLength;
      if (n > MAX_PLAINTEXT) {
        violations.push(`TLS write of ${n} bytes: Moddable's session drops a record over ${MAX_PLAINTEXT} bytes`);
        return Math.max(0, this.#tcp.writable - 96);
      }
      const writable = this.#tcp.writable;
      if (n + RECORD_OVERHEAD > writable) {
        violations.push(`TLS write of ${n} bytes with ${writable} writable in the TCP socket ("would block")`);
        throw new Error("would block");
      }
      this.#node.write(Buffer.from(data));
      return Math.max(0, writable - n - RECORD_OVERHEAD - 96);
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      this.#tcp.close();
      this.#node.destroy();
    }
  }

  return (o) => new EmuTLSSocket(o);
}
