/**
 * Modbus TCP framing: the MBAP header (transaction id, protocol id 0, length, unit id) in front
 * of a PDU, and a streaming parser that cuts frames out of whatever chunks TCP delivers. The
 * parser keeps the chunks as they came and copies a frame only when it spans chunks; a short
 * frame waits for more bytes; a header that cannot be Modbus (wrong protocol id, a length out of
 * range) makes the stream unusable and is reported once, as a `ModbusFrameError`.
 */
import { ModbusFrameError } from "./errors.js";

// Sections cited: "MODBUS Messaging on TCP/IP Implementation Guide V1.0b" (TCP guide) for the MBAP
// header, "MODBUS Application Protocol Specification V1.1b3" (MB spec) for the PDU.

/** MBAP header bytes including the unit id (TCP guide §3.1.3). */
export const MBAP_HEADER = 7;
/** Longest PDU (function code + data): MB spec §4.1 (256-byte serial ADU less address and CRC). */
export const MAX_PDU = 253;
/** Longest ADU (MBAP header + PDU): 260 bytes. */
export const MAX_ADU = MBAP_HEADER + MAX_PDU;
/** The MBAP length field counts the unit id and the PDU: 2 (unit id, function code) to 254. */
export const MIN_LENGTH = 2;
export const MAX_LENGTH = 1 + MAX_PDU;

export interface Adu {
  transactionId: number;
  unitId: number;
  /** Function code and data. */
  pdu: Uint8Array;
}

/** An ADU: the MBAP header, then `pdu`. */
export function encodeAdu(transactionId: number, unitId: number, pdu: Uint8Array): Uint8Array {
  // MB spec §4.1: a PDU is a function code and at most 252 bytes of data
  if (pdu.length < 1 || pdu.length > MAX_PDU) throw new ModbusFrameError(`PDU of ${pdu.length} bytes (1 to ${MAX_PDU})`);
  const out = new Uint8Array(MBAP_HEADER + pdu.length);
  const len = pdu.length + 1;
  out[0] = (transactionId >> 8) & 0xff;
  out[1] = transactionId & 0xff;
  // protocol id 0 (bytes 2, 3)
  out[4] = len >> 8;
  out[5] = len & 0xff;
  out[6] = unitId & 0xff;
  out.set(pdu, MBAP_HEADER);
  return out;
}

/**
 * Cuts ADUs out of a byte stream. `push` chunks, then call `next` until it returns undefined.
 * Per connection on the device: follows the XS memory rules (docs/contributing.md).
 */
export class MbapParser {
  #chunks: Uint8Array[] = [];
  #offset = 0; // consumed bytes of chunks[0]
  #buffered = 0;
  #failed: ModbusFrameError | undefined;

  /** Adds received bytes (kept by reference, not copied). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * The next complete ADU, or undefined until more bytes arrive. Throws `ModbusFrameError` when
   * the stream is not Modbus TCP (and again on every later call).
   */
  next(): Adu | undefined {
    if (this.#failed) throw this.#failed;
    const have = this.#buffered;
    if (have >= 4) {
      const protocol = (this._peek(2) << 8) | this._peek(3);
      // TCP guide §3.1.3: Protocol Identifier 0 = MODBUS
      if (protocol !== 0) return this._fail(`protocol id 0x${protocol.toString(16).padStart(4, "0")} is not 0 (not Modbus TCP)`);
    }
    if (have < 6) return undefined;
    const length = (this._peek(4) << 8) | this._peek(5);
    // TCP guide §3.1.3: Length counts the unit id and the PDU; MB spec §4.1 bounds the PDU
    if (length < MIN_LENGTH) return this._fail(`MBAP length ${length} is too small (at least ${MIN_LENGTH}: unit id and function code)`);
    if (length > MAX_LENGTH)
      return this._fail(`MBAP length ${length} is too big (an ADU is at most ${MAX_ADU} bytes, length at most ${MAX_LENGTH})`);
    if (have < 6 + length) return undefined;
    const frame = this._take(6 + length);
    return {
      transactionId: (frame[0] << 8) | frame[1],
      unitId: frame[6],
      pdu: frame.subarray(MBAP_HEADER),
    };
  }

  private _fail(reason: string): never {
    this.#failed = new ModbusFrameError(reason);
    this.#chunks = [];
    this.#buffered = 0;
    throw this.#failed;
  }

  /** The byte `i` positions ahead (i < buffered). */
  private _peek(i: number): number {
    let at = this.#offset + i;
    for (const c of this.#chunks) {
      if (at < c.length) return c[at];
      at -= c.length;
    }
    return 0; // not reached: callers check `buffered`
  }

  /** Consumes `n` bytes (n ≤ buffered): a view when they lie in one chunk, else a copy. */
  private _take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      if (this.#offset === first.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      const k = Math.min(c.length - this.#offset, n - filled);
      out.set(c.subarray(this.#offset, this.#offset + k), filled);
      filled += k;
      this.#offset += k;
      if (this.#offset === c.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    return out;
  }
}
