/**
 * The NTP/SNTP packet (RFC 5905 section 7.3, RFC 4330), with no I/O: the 48-byte header,
 * timestamps as milliseconds since 1970, and the client request.
 *
 * NTP timestamps are 32 bits of seconds since 1900 and 32 bits of fraction. Seconds with the top
 * bit clear are taken to be in era 1 (from 2036-02-07), as RFC 4330 section 3 advises.
 */

/** Bytes of an NTP header without extensions. */
export const NTP_PACKET_SIZE = 48;
/** Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01 (Unix time). */
export const NTP_UNIX_OFFSET = 2208988800;
const ERA = 2 ** 32;

export const MODE = Object.freeze({ CLIENT: 3, SERVER: 4, BROADCAST: 5 });

export interface NtpTimestamp {
  seconds: number;
  fraction: number;
}

export interface NtpPacket {
  /** Leap indicator: 0 none, 1 last minute has 61 s, 2 has 59 s, 3 unsynchronized. */
  leap: number;
  version: number;
  mode: number;
  /** 0 kiss-o'-death, 1 primary, 2..15 secondary, 16 unsynchronized. */
  stratum: number;
  poll: number;
  precision: number;
  /** Seconds. */
  rootDelay: number;
  /** Seconds. */
  rootDispersion: number;
  /** The reference id's 4 bytes (the kiss code at stratum 0). */
  referenceId: Uint8Array;
  reference: NtpTimestamp;
  originate: NtpTimestamp;
  receive: NtpTimestamp;
  transmit: NtpTimestamp;
}

/** `ms` since 1970 as an NTP timestamp. */
export function toNtp(ms: number): NtpTimestamp {
  const total = ms / 1000 + NTP_UNIX_OFFSET;
  let seconds = Math.floor(total);
  let fraction = Math.round((total - seconds) * ERA);
  if (fraction >= ERA) {
    seconds++;
    fraction = 0;
  }
  return { seconds: seconds % ERA, fraction };
}

/** An NTP timestamp as ms since 1970 (era 1 when the seconds' top bit is clear). */
export function fromNtp(t: NtpTimestamp): number {
  const seconds = t.seconds < 0x80000000 ? t.seconds + ERA : t.seconds;
  return (seconds - NTP_UNIX_OFFSET) * 1000 + (t.fraction / ERA) * 1000;
}

export function isZero(t: NtpTimestamp): boolean {
  return t.seconds === 0 && t.fraction === 0;
}

export function sameTimestamp(a: NtpTimestamp, b: NtpTimestamp): boolean {
  return a.seconds === b.seconds && a.fraction === b.fraction;
}

/** The reference id as text: the kiss code (stratum 0) or source name (stratum 1), else an IPv4 address. */
export function referenceText(p: NtpPacket): string {
  const b = p.referenceId;
  if (p.stratum <= 1) {
    let s = "";
    for (const c of b) if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    return s;
  }
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function getTs(b: Uint8Array, at: number): NtpTimestamp {
  return { seconds: get32(b, at), fraction: get32(b, at + 4) };
}

function putTs(b: Uint8Array, at: number, t: NtpTimestamp): void {
  put32(b, at, t.seconds);
  put32(b, at + 4, t.fraction);
}

/** Parses a header; undefined if shorter than 48 bytes. Extension fields and MAC are ignored. */
export function decodePacket(b: Uint8Array): NtpPacket | undefined {
  if (b.length < NTP_PACKET_SIZE) return undefined;
  return {
    leap: b[0] >> 6,
    version: (b[0] >> 3) & 7,
    mode: b[0] & 7,
    stratum: b[1],
    poll: (b[2] << 24) >> 24,
    precision: (b[3] << 24) >> 24,
    rootDelay: get32(b, 4) / 65536,
    rootDispersion: get32(b, 8) / 65536,
    referenceId: b.slice(12, 16),
    reference: getTs(b, 16),
    originate: getTs(b, 24),
    receive: getTs(b, 32),
    transmit: getTs(b, 40),
  };
}

/** Encodes a header (48 bytes). Root delay and dispersion are in seconds. */
export function encodePacket(p: Partial<NtpPacket>): Uint8Array {
  const b = new Uint8Array(NTP_PACKET_SIZE);
  b[0] = (((p.leap ?? 0) & 3) << 6) | (((p.version ?? 4) & 7) << 3) | ((p.mode ?? MODE.CLIENT) & 7);
  b[1] = p.stratum ?? 0;
  b[2] = (p.poll ?? 0) & 0xff;
  b[3] = (p.precision ?? 0) & 0xff;
  put32(b, 4, Math.round((p.rootDelay ?? 0) * 65536));
  put32(b, 8, Math.round((p.rootDispersion ?? 0) * 65536));
  if (p.referenceId) b.set(p.referenceId.subarray(0, 4), 12);
  const zero = { seconds: 0, fraction: 0 };
  putTs(b, 16, p.reference ?? zero);
  putTs(b, 24, p.originate ?? zero);
  putTs(b, 32, p.receive ?? zero);
  putTs(b, 40, p.transmit ?? zero);
  return b;
}

/**
 * A client request (mode 3) whose transmit timestamp is `transmit`; the server copies it into its
 * reply's originate timestamp, which is how the reply is matched to the request.
 */
export function clientRequest(transmit: NtpTimestamp, version = 4): Uint8Array {
  return encodePacket({ version, mode: MODE.CLIENT, transmit });
}
