/**
 * The little of X.509 the device's TLS needs and Moddable's TLSSocket does not tell: PEM to DER,
 * and the names, validity, serial number and issuer of a DER certificate (for `session.peerCertificate`,
 * against which the runtime checks the host name, which Moddable's TLS does not do). A minimal DER reader: definite
 * lengths only, no signature check (Moddable's TLS checks the chain).
 */
import type { CertificateInfo, PEM } from "../../src/host.js";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function base64(text: string): Uint8Array {
  const out = new Uint8Array((text.length * 3) >> 2);
  let n = 0;
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < text.length; i++) {
    const v = B64.indexOf(text[i]!);
    if (v < 0) continue; // line breaks, "=" padding
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

function text(p: PEM): string {
  if (typeof p === "string") return p;
  let s = "";
  for (let i = 0; i < p.length; i++) s += String.fromCharCode(p[i]!);
  return s;
}

/** Every block labelled `label` ("CERTIFICATE", "PRIVATE KEY") in a PEM text, as DER. */
export function pemBlocks(p: PEM, label: string): ArrayBuffer[] {
  const t = text(p);
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const out: ArrayBuffer[] = [];
  for (let at = t.indexOf(begin); at >= 0; at = t.indexOf(begin, at + 1)) {
    const stop = t.indexOf(end, at);
    if (stop < 0) break;
    const der = base64(t.slice(at + begin.length, stop));
    out.push(der.slice().buffer as ArrayBuffer);
  }
  return out;
}

/** A DER element: tag, and where its content starts and ends in `b`. */
interface Element {
  tag: number;
  start: number;
  end: number;
}

function element(b: Uint8Array, at: number): Element {
  const tag = b[at]!;
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start++]!;
  }
  if (start + len > b.length) throw new Error("truncated certificate");
  return { tag, start, end: start + len };
}

function children(b: Uint8Array, e: Element): Element[] {
  const out: Element[] = [];
  for (let at = e.start; at < e.end; ) {
    const c = element(b, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

function ascii(b: Uint8Array, e: Element): string {
  let s = "";
  for (let i = e.start; i < e.end; i++) s += String.fromCharCode(b[i]!);
  // UTF-8 names: decode the escapes a byte-per-char string makes
  try {
    return decodeURIComponent(escape(s));
  } catch {
    return s;
  }
}

function oid(b: Uint8Array, e: Element): string {
  const first = b[e.start]!;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let i = e.start + 1; i < e.end; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

const NAMES: Readonly<Record<string, string>> = Object.freeze({
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
});

/** A distinguished name as "CN=…, O=…", and its common name. */
function dn(b: Uint8Array, e: Element): { text: string; cn?: string } {
  const parts: string[] = [];
  let cn: string | undefined;
  for (const set of children(b, e))
    for (const atv of children(b, set)) {
      const [type, value] = children(b, atv);
      if (!type || !value) continue;
      const id = oid(b, type);
      const v = ascii(b, value);
      if (id === "2.5.4.3") cn ??= v;
      parts.push(`${NAMES[id] ?? id}=${v}`);
    }
  return cn === undefined ? { text: parts.join(", ") } : { text: parts.join(", "), cn };
}

function time(b: Uint8Array, e: Element): number {
  const s = ascii(b, e);
  const long = e.tag === 0x18; // GeneralizedTime
  const y = long ? Number(s.slice(0, 4)) : Number(s.slice(0, 2));
  const year = long ? y : y < 50 ? 2000 + y : 1900 + y;
  const r = s.slice(long ? 4 : 2);
  return Date.UTC(
    year,
    Number(r.slice(0, 2)) - 1,
    Number(r.slice(2, 4)),
    Number(r.slice(4, 6)),
    Number(r.slice(6, 8)),
    Number(r.slice(8, 10)) || 0,
  );
}

function hex(b: Uint8Array, from: number, to: number, sep: string): string {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push((b[i]! < 16 ? "0" : "") + b[i]!.toString(16).toUpperCase());
  return out.join(sep);
}

/**
 * What a DER certificate says. `fingerprint` stays "" on the device host: no SHA-256 in ES2022
 * (Moddable's `crypt` Digest could give it; not wired).
 */
export function certificateInfo(der: Uint8Array): CertificateInfo {
  const cert = element(der, 0);
  const tbs = children(der, cert)[0]!;
  const f = children(der, tbs);
  let i = f[0]!.tag === 0xa0 ? 1 : 0; // [0] version
  const serial = f[i++]!;
  i++; // signature algorithm
  const issuer = dn(der, f[i++]!);
  const [from, to] = children(der, f[i++]!);
  const subject = dn(der, f[i++]!);
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const x of f.slice(i + 1)) {
    if (x.tag !== 0xa3) continue; // [3] extensions
    for (const ext of children(der, children(der, x)[0]!)) {
      const parts = children(der, ext);
      if (oid(der, parts[0]!) !== "2.5.29.17") continue; // subjectAltName
      const names = element(der, parts[parts.length - 1]!.start);
      for (const n of children(der, names)) {
        if (n.tag === 0x82) dnsNames.push(ascii(der, n));
        else if (n.tag === 0x87 && n.end - n.start === 4)
          ipAddresses.push(`${der[n.start]}.${der[n.start + 1]}.${der[n.start + 2]}.${der[n.start + 3]}`);
      }
    }
  }
  let s = serial.start;
  while (s < serial.end - 1 && der[s] === 0) s++;
  const info: CertificateInfo = {
    subject: subject.text,
    issuer: issuer.text,
    dnsNames,
    ipAddresses,
    validFrom: time(der, from!),
    validTo: time(der, to!),
    fingerprint: "",
    serialNumber: hex(der, s, serial.end, ""),
  };
  if (subject.cn !== undefined) info.commonName = subject.cn;
  return info;
}
