/**
 * MQTT strings: UTF-8 that must be well formed and must not contain U+0000 (MQTT 1.5.4).
 * Encoding writes straight into the packet buffer (no intermediate array); decoding validates
 * while it decodes, and a byte order mark is kept as a character, as the specification asks.
 */
import { MqttError, malformed } from "../errors.js";

/** Bytes `s` takes as UTF-8; throws `incorrectuse` for U+0000 or an unpaired surrogate. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      // MQTT 5 [MQTT-1.5.4-2]; 3.1.1 [MQTT-1.5.3-2]
      if (c === 0) throw new MqttError("incorrectuse", "an MQTT string must not contain U+0000");
      n += 1;
    } else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      // MQTT 5 [MQTT-1.5.4-1]; 3.1.1 [MQTT-1.5.3-1]
      if (d < 0xdc00 || d >= 0xe000) throw new MqttError("incorrectuse", "an MQTT string must not contain an unpaired surrogate");
      n += 4;
      i++;
    } else if (c >= 0xdc00 && c < 0xe000) throw new MqttError("incorrectuse", "an MQTT string must not contain an unpaired surrogate");
    else n += 3;
  }
  return n;
}

/** Writes `s` as UTF-8 at `off` (its length was checked by `utf8Length`); returns the end offset. */
export function writeUtf8(s: string, buf: Uint8Array, off: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) buf[off++] = c;
    else if (c < 0x800) {
      buf[off++] = 0xc0 | (c >> 6);
      buf[off++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c < 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      buf[off++] = 0xf0 | (c >> 18);
      buf[off++] = 0x80 | ((c >> 12) & 63);
      buf[off++] = 0x80 | ((c >> 6) & 63);
      buf[off++] = 0x80 | (c & 63);
    } else {
      buf[off++] = 0xe0 | (c >> 12);
      buf[off++] = 0x80 | ((c >> 6) & 63);
      buf[off++] = 0x80 | (c & 63);
    }
  }
  return off;
}

/**
 * Code units per `String.fromCharCode(...units)`: a call's arguments are on the JavaScript stack
 * (XS: a slot each), and a device's whole stack is 384 slots. Decoding a 200-character topic in
 * one call overflowed it.
 */
const CHUNK = 16;
/** Decoded text is gathered in one string up to about this length, then in a list joined at the end. */
const PIECE = 256;

/**
 * Reads a length-prefixed MQTT string at `off`, not past `end`; returns it and the offset after
 * it. Throws a malformed-packet error (0x81) for a length that runs past `end`, ill-formed UTF-8
 * (overlong forms, surrogates, beyond U+10FFFF, truncated) or U+0000. The length and the decoding
 * are in this one function: a string is read at the deepest point of a packet's decoding (a
 * property inside a will inside a CONNECT), where every frame counts on a device.
 */
export function readString(buf: Uint8Array, off: number, end: number, what: string): [string, number] {
  if (off + 2 > end) throw malformed(`${what} runs past the end of the packet`);
  let i = off + 2;
  const stop = i + ((buf[off] << 8) | buf[off + 1]);
  if (stop > end) throw malformed(`${what} runs past the end of the packet`);
  let s = "";
  let pieces: string[] | undefined;
  const units: number[] = [];
  while (i < stop) {
    const c = buf[i++];
    let cp: number;
    if (c < 0x80) {
      if (c === 0) throw malformed(`${what} contains U+0000`); // MQTT 5 [MQTT-1.5.4-2]; 3.1.1 [MQTT-1.5.3-2]
      cp = c;
    } else {
      let need: number;
      let min: number;
      if (c >= 0xc2 && c < 0xe0) (need = 1), (cp = c & 0x1f), (min = 0x80);
      else if (c >= 0xe0 && c < 0xf0) (need = 2), (cp = c & 0x0f), (min = 0x800);
      else if (c >= 0xf0 && c < 0xf5) (need = 3), (cp = c & 0x07), (min = 0x10000);
      // well-formed UTF-8 (RFC 3629): MQTT 5 [MQTT-1.5.4-1]; 3.1.1 [MQTT-1.5.3-1]
      else throw malformed(`${what} is not valid UTF-8`);
      if (i + need > stop) throw malformed(`${what} is not valid UTF-8 (truncated sequence)`);
      for (; need > 0; need--) {
        const b = buf[i++];
        if ((b & 0xc0) !== 0x80) throw malformed(`${what} is not valid UTF-8`);
        cp = (cp << 6) | (b & 0x3f);
      }
      if (cp < min || cp > 0x10ffff) throw malformed(`${what} is not valid UTF-8 (overlong or out of range)`);
      // no U+D800..U+DFFF: MQTT 5 [MQTT-1.5.4-1]; 3.1.1 [MQTT-1.5.3-1]
      if (cp >= 0xd800 && cp < 0xe000) throw malformed(`${what} contains an encoded surrogate`);
    }
    if (cp < 0x10000) units.push(cp);
    else {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    }
    if (units.length >= CHUNK) {
      if (s.length >= PIECE) {
        (pieces ??= []).push(s);
        s = "";
      }
      s += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  if (units.length) s += String.fromCharCode(...units);
  if (pieces) {
    pieces.push(s);
    s = pieces.join("");
  }
  return [s, stop];
}
