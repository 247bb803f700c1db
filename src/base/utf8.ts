/**
 * UTF-8 encoding and decoding without depending on TextEncoder/TextDecoder globals (the device
 * has none). Where the engine provides them they are used, since they are much faster.
 */
type Encoder = { encode(s: string): Uint8Array };
type Decoder = { decode(b: Uint8Array): string };
const g = globalThis as { TextEncoder?: new () => Encoder; TextDecoder?: new () => Decoder };
const nativeEncoder = g.TextEncoder ? new g.TextEncoder() : undefined;
const nativeDecoder = g.TextDecoder ? new g.TextDecoder() : undefined;

export function encodeUtf8(s: string): Uint8Array {
  if (nativeEncoder) return nativeEncoder.encode(s);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/** Decodes UTF-8; malformed sequences become U+FFFD. */
export function decodeUtf8(b: Uint8Array): string {
  if (nativeDecoder) return nativeDecoder.decode(b);
  let s = "";
  for (let i = 0; i < b.length; ) {
    const c = b[i++];
    let cp = 0xfffd;
    let need = 0;
    let min = 0;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c < 0xe0) (need = 1), (cp = c & 31), (min = 0x80);
    else if (c >= 0xe0 && c < 0xf0) (need = 2), (cp = c & 15), (min = 0x800);
    else if (c >= 0xf0 && c < 0xf5) (need = 3), (cp = c & 7), (min = 0x10000);
    let k = 0;
    for (; k < need && i < b.length && (b[i] & 0xc0) === 0x80; k++) cp = (cp << 6) | (b[i++] & 63);
    if (k < need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) cp = 0xfffd;
    s += String.fromCodePoint(cp);
  }
  return s;
}
