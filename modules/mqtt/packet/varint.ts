/** MQTT's Variable Byte Integer: 1 to 4 bytes, 7 bits each, least significant first (max 268435455). */
import { MqttError, malformed } from "../errors.js";

export const MAX_VARINT = 268435455;

export function varintLength(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VARINT) throw new MqttError("incorrectuse", `${n} does not fit a variable byte integer`);
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** The fewest bytes that hold `n` [MQTT-1.5.5-1]. */
export function writeVarint(n: number, buf: Uint8Array, off: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[off++] = b;
  } while (n > 0);
  return off;
}

/** Reads a variable byte integer at `off` (not past `end`); returns it and the offset after it. */
export function readVarint(buf: Uint8Array, off: number, end: number, what: string): [number, number] {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (off >= end) throw malformed(`${what} runs past the end of the packet`);
    const b = buf[off++];
    n += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [n, off];
    mul *= 128;
  }
  throw malformed(`${what} is a variable byte integer longer than 4 bytes`); // MQTT 5 §1.5.5
}
