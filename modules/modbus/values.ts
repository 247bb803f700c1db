/**
 * Values carried in 16-bit registers: word (16 bits), dword (32 bits), float (IEEE 754 single),
 * double (IEEE 754 double) and string, with the byte and word orders devices disagree on.
 *
 * - `byteOrder`: the order of the two bytes inside each register. "big" (the Modbus standard: high
 *   byte first) or "little" (swapped).
 * - `wordOrder`: the order of the registers of a multi-register value. "big" (most significant
 *   register first) or "little" (least significant first, as many PLCs do).
 *
 * With both "big" a float 0xAABBCCDD is registers [0xAABB, 0xCCDD] (often called ABCD);
 * wordOrder "little" gives CDAB, byteOrder "little" BADC, both DCBA.
 *
 * `encode*` return register values to write; `decode*` read from a register array at an index.
 */
import { decodeUtf8, encodeUtf8, SocketError } from "../cosock.js";

export type Order = "big" | "little";

export interface ValueOptions {
  /** Bytes within a register (default "big"). */
  byteOrder?: Order;
  /** Registers within a multi-register value (default "big"). */
  wordOrder?: Order;
  /** Decode words and dwords as two's complement (default false). */
  signed?: boolean;
}

/** Big-endian bytes → registers in the requested order. */
function toRegisters(bytes: Uint8Array, o: ValueOptions): number[] {
  const n = bytes.length >> 1;
  const regs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const hi = bytes[2 * i];
    const lo = bytes[2 * i + 1];
    regs[i] = o.byteOrder === "little" ? (lo << 8) | hi : (hi << 8) | lo;
  }
  if (o.wordOrder === "little") regs.reverse();
  return regs;
}

/** `count` registers at `index`, in the requested order → big-endian bytes. */
function fromRegisters(regs: ArrayLike<number>, index: number, count: number, o: ValueOptions): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index + count > regs.length)
    throw new SocketError("incorrectuse", `need ${count} registers at index ${index}, have ${regs.length}`);
  const out = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) {
    const r = regs[index + (o.wordOrder === "little" ? count - 1 - i : i)] & 0xffff;
    const hi = r >> 8;
    const lo = r & 0xff;
    out[2 * i] = o.byteOrder === "little" ? lo : hi;
    out[2 * i + 1] = o.byteOrder === "little" ? hi : lo;
  }
  return out;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new SocketError("incorrectuse", `${what} ${value} is not an integer in ${min}..${max}`);
}

// ------------------------------------------------------------------ encode: value → registers

/** One register: 0..65535 or -32768..-1. */
export function encodeWord(value: number, o: ValueOptions = {}): number[] {
  checkInt(value, -0x8000, 0xffff, "word");
  const b = new Uint8Array(2);
  view(b).setUint16(0, value & 0xffff);
  return toRegisters(b, o);
}

/** Two registers: 0..2^32-1 or -2^31..-1. */
export function encodeDword(value: number, o: ValueOptions = {}): number[] {
  checkInt(value, -0x80000000, 0xffffffff, "dword");
  const b = new Uint8Array(4);
  view(b).setUint32(0, value >>> 0);
  return toRegisters(b, o);
}

/** Two registers, IEEE 754 single precision. */
export function encodeFloat(value: number, o: ValueOptions = {}): number[] {
  const b = new Uint8Array(4);
  view(b).setFloat32(0, value);
  return toRegisters(b, o);
}

/** Four registers, IEEE 754 double precision. */
export function encodeDouble(value: number, o: ValueOptions = {}): number[] {
  const b = new Uint8Array(8);
  view(b).setFloat64(0, value);
  return toRegisters(b, o);
}

/**
 * A string as UTF-8, two bytes per register (first character in the high byte unless byteOrder
 * is "little"), padded with NUL to `registers` registers (default: just enough). Word order does
 * not apply to strings. Throws `incorrectuse` if it does not fit.
 */
export function encodeString(text: string, registers?: number, o: ValueOptions = {}): number[] {
  const utf8 = encodeUtf8(text);
  const n = registers ?? (utf8.length + 1) >> 1;
  if (utf8.length > n * 2) throw new SocketError("incorrectuse", `string of ${utf8.length} bytes does not fit ${n} registers`);
  const b = new Uint8Array(n * 2);
  b.set(utf8);
  return toRegisters(b, { byteOrder: o.byteOrder });
}

// ------------------------------------------------------------------ decode: registers → value

/** The register at `index` (signed with `signed: true`). */
export function decodeWord(regs: ArrayLike<number>, index = 0, o: ValueOptions = {}): number {
  const d = view(fromRegisters(regs, index, 1, o));
  return o.signed ? d.getInt16(0) : d.getUint16(0);
}

/** The 32-bit integer in the two registers at `index`. */
export function decodeDword(regs: ArrayLike<number>, index = 0, o: ValueOptions = {}): number {
  const d = view(fromRegisters(regs, index, 2, o));
  return o.signed ? d.getInt32(0) : d.getUint32(0);
}

/** The single-precision float in the two registers at `index`. */
export function decodeFloat(regs: ArrayLike<number>, index = 0, o: ValueOptions = {}): number {
  return view(fromRegisters(regs, index, 2, o)).getFloat32(0);
}

/** The double-precision float in the four registers at `index`. */
export function decodeDouble(regs: ArrayLike<number>, index = 0, o: ValueOptions = {}): number {
  return view(fromRegisters(regs, index, 4, o)).getFloat64(0);
}

/** The UTF-8 string in `count` registers at `index`, cut at the first NUL. */
export function decodeString(regs: ArrayLike<number>, index: number, count: number, o: ValueOptions = {}): string {
  const b = fromRegisters(regs, index, count, { byteOrder: o.byteOrder });
  const end = b.indexOf(0);
  return decodeUtf8(end < 0 ? b : b.subarray(0, end));
}
