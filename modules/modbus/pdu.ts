/**
 * The Modbus PDU codec (function code + data), with no I/O: requests encoded by the client and
 * decoded by the server, responses encoded by the server and decoded by the client, and the
 * protocol's quantity limits. Function codes 1, 2, 3, 4, 5, 6, 15, 16, 22 and 23.
 *
 * - `encodeRequest` validates its arguments and throws `SocketError("incorrectuse")` for a
 *   request the protocol cannot carry.
 * - `decodeRequest` never throws: a request a server must refuse gives `{ exception }` (1 for an
 *   unknown function, 3 for a bad quantity or a length that does not fit the function).
 * - `decodeResponse` throws `ModbusError` for an exception response and `ModbusFrameError` for a
 *   response that does not fit its request.
 */
import { SocketError } from "../cosock.js";
import { EXCEPTION, ModbusError, ModbusFrameError } from "./errors.js";

export const FC = Object.freeze({
  READ_COILS: 0x01,
  READ_DISCRETE_INPUTS: 0x02,
  READ_HOLDING_REGISTERS: 0x03,
  READ_INPUT_REGISTERS: 0x04,
  WRITE_SINGLE_COIL: 0x05,
  WRITE_SINGLE_REGISTER: 0x06,
  WRITE_MULTIPLE_COILS: 0x0f,
  WRITE_MULTIPLE_REGISTERS: 0x10,
  MASK_WRITE_REGISTER: 0x16,
  READ_WRITE_MULTIPLE_REGISTERS: 0x17,
} as const); // `as const`: Moddable's typings declare Object.freeze without literal types

/**
 * Quantity limits of the specification (a PDU is at most 253 bytes, §4.1), by section of the
 * "MODBUS Application Protocol Specification V1.1b3" (MB spec).
 */
export const LIMITS = Object.freeze({
  /** FC 1, 2: coils or discrete inputs per read (MB spec §6.1, §6.2: 1 to 0x7D0). */
  readBits: 2000,
  /** FC 3, 4, and the read part of FC 23: registers per read (§6.3, §6.4, §6.17: 1 to 0x7D). */
  readRegisters: 125,
  /** FC 15: coils per write (§6.11: 1 to 0x7B0). */
  writeBits: 1968,
  /** FC 16: registers per write (§6.12: 1 to 0x7B). */
  writeRegisters: 123,
  /** FC 23: registers in the write part (§6.17: 1 to 0x79). */
  readWriteWrite: 121,
});

export type ReadRequest = {
  fc: 0x01 | 0x02 | 0x03 | 0x04;
  address: number;
  quantity: number;
};
export type WriteCoilRequest = { fc: 0x05; address: number; value: boolean };
export type WriteRegisterRequest = { fc: 0x06; address: number; value: number };
export type WriteCoilsRequest = { fc: 0x0f; address: number; values: boolean[] };
export type WriteRegistersRequest = { fc: 0x10; address: number; values: number[] };
export type MaskWriteRequest = { fc: 0x16; address: number; andMask: number; orMask: number };
export type ReadWriteRequest = {
  fc: 0x17;
  readAddress: number;
  readQuantity: number;
  writeAddress: number;
  values: number[];
};
export type ModbusRequest =
  | ReadRequest
  | WriteCoilRequest
  | WriteRegisterRequest
  | WriteCoilsRequest
  | WriteRegistersRequest
  | MaskWriteRequest
  | ReadWriteRequest;

/** What a request yields: bits (FC 1, 2), registers (FC 3, 4, 23), or nothing (writes). */
export type Result = boolean[] | number[] | undefined;

const isBitRead = (fc: number) => fc === FC.READ_COILS || fc === FC.READ_DISCRETE_INPUTS;

// ------------------------------------------------------------------ client side: requests out

function misuse(message: string): never {
  throw new SocketError("incorrectuse", message);
}

function checkAddress(address: number, quantity: number, what = "address"): void {
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) misuse(`${what} ${address} is not 0..65535`);
  if (address + quantity > 0x10000) misuse(`${what} ${address} + quantity ${quantity} passes 65536`);
}

function checkQuantity(quantity: number, max: number, what: string): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > max) misuse(`${what} ${quantity} is not 1..${max}`);
}

/** A register value: 0..65535, or -32768..-1 (sent in two's complement). */
function register(v: number): number {
  if (!Number.isInteger(v) || v < -0x8000 || v > 0xffff) misuse(`register value ${v} is not a 16-bit integer`);
  return v & 0xffff;
}

function put16(out: Uint8Array, at: number, v: number): void {
  out[at] = (v >> 8) & 0xff;
  out[at + 1] = v & 0xff;
}

function get16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** Packs bits LSB first, 8 to a byte (the coil layout of FC 1, 2, 15). */
export function packBits(bits: readonly boolean[]): Uint8Array {
  const out = new Uint8Array((bits.length + 7) >> 3);
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

export function unpackBits(bytes: Uint8Array, count: number): boolean[] {
  const out = new Array<boolean>(count);
  for (let i = 0; i < count; i++) out[i] = ((bytes[i >> 3] >> (i & 7)) & 1) === 1;
  return out;
}

function registers(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) put16(out, i * 2, register(values[i]));
  return out;
}

/** A five-byte PDU: function code, address, one 16-bit value (a read's quantity, a single write's value). */
function fcAddressValue(fc: number, address: number, value: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = fc;
  put16(out, 1, address);
  put16(out, 3, value);
  return out;
}

/** The request PDU; throws `incorrectuse` for arguments the protocol cannot carry. */
export function encodeRequest(req: ModbusRequest): Uint8Array {
  switch (req.fc) {
    case FC.READ_COILS:
    case FC.READ_DISCRETE_INPUTS:
    case FC.READ_HOLDING_REGISTERS:
    case FC.READ_INPUT_REGISTERS: {
      checkQuantity(req.quantity, isBitRead(req.fc) ? LIMITS.readBits : LIMITS.readRegisters, "quantity");
      checkAddress(req.address, req.quantity);
      return fcAddressValue(req.fc, req.address, req.quantity);
    }
    case FC.WRITE_SINGLE_COIL: {
      checkAddress(req.address, 1);
      return fcAddressValue(req.fc, req.address, req.value ? 0xff00 : 0x0000);
    }
    case FC.WRITE_SINGLE_REGISTER: {
      checkAddress(req.address, 1);
      return fcAddressValue(req.fc, req.address, register(req.value));
    }
    case FC.WRITE_MULTIPLE_COILS:
      checkQuantity(req.values.length, LIMITS.writeBits, "coil count");
      checkAddress(req.address, req.values.length);
      return writeMultiple(req.fc, req.address, req.values.length, packBits(req.values));
    case FC.WRITE_MULTIPLE_REGISTERS:
      checkQuantity(req.values.length, LIMITS.writeRegisters, "register count");
      checkAddress(req.address, req.values.length);
      return writeMultiple(req.fc, req.address, req.values.length, registers(req.values));
    case FC.MASK_WRITE_REGISTER: {
      checkAddress(req.address, 1);
      const out = new Uint8Array(7);
      out[0] = req.fc;
      put16(out, 1, req.address);
      put16(out, 3, register(req.andMask));
      put16(out, 5, register(req.orMask));
      return out;
    }
    case FC.READ_WRITE_MULTIPLE_REGISTERS: {
      checkQuantity(req.readQuantity, LIMITS.readRegisters, "read quantity");
      checkAddress(req.readAddress, req.readQuantity, "read address");
      checkQuantity(req.values.length, LIMITS.readWriteWrite, "write register count");
      checkAddress(req.writeAddress, req.values.length, "write address");
      const data = registers(req.values);
      const out = new Uint8Array(10 + data.length);
      out[0] = req.fc;
      put16(out, 1, req.readAddress);
      put16(out, 3, req.readQuantity);
      put16(out, 5, req.writeAddress);
      put16(out, 7, req.values.length);
      out[9] = data.length;
      out.set(data, 10);
      return out;
    }
    default:
      return misuse(`function code ${(req as { fc: number }).fc} is not supported`);
  }
}

// ------------------------------------------------------------------ client side: responses in

/** FC 15 / 16 request: address, quantity, byte count, data. */
function writeMultiple(fc: number, address: number, quantity: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + data.length);
  out[0] = fc;
  put16(out, 1, address);
  put16(out, 3, quantity);
  out[5] = data.length;
  out.set(data, 6);
  return out;
}

function bad(req: ModbusRequest, why: string): never {
  throw new ModbusFrameError(`bad response to function ${req.fc}: ${why}`);
}

function expectLength(req: ModbusRequest, pdu: Uint8Array, n: number): void {
  if (pdu.length !== n) bad(req, `${pdu.length} bytes, expected ${n}`);
}

function expectEcho(req: ModbusRequest, pdu: Uint8Array, at: number, want: number, what: string): void {
  const got = get16(pdu, at);
  if (got !== want) bad(req, `${what} ${got}, expected ${want}`);
}

/**
 * The result of `req` from its response PDU. Throws `ModbusError` for an exception response and
 * `ModbusFrameError` when the response does not fit the request.
 */
export function decodeResponse(req: ModbusRequest, pdu: Uint8Array): Result {
  if (pdu.length === 0) bad(req, "empty PDU");
  const fc = pdu[0];
  // MB spec §7: an exception response is the function code + 0x80 and one exception code
  if (fc === (req.fc | 0x80)) {
    if (pdu.length !== 2) bad(req, `exception response of ${pdu.length} bytes, expected 2`);
    throw new ModbusError(pdu[1], req.fc);
  }
  if (fc !== req.fc) bad(req, `function code ${fc}`);
  switch (req.fc) {
    case FC.READ_COILS:
    case FC.READ_DISCRETE_INPUTS:
    case FC.READ_HOLDING_REGISTERS:
    case FC.READ_INPUT_REGISTERS:
    case FC.READ_WRITE_MULTIPLE_REGISTERS: {
      const quantity = req.fc === FC.READ_WRITE_MULTIPLE_REGISTERS ? req.readQuantity : req.quantity;
      const bits = isBitRead(req.fc);
      const count = bits ? (quantity + 7) >> 3 : quantity * 2;
      // MB spec §6.1-§6.4, §6.17 (responses): byte count N = ⌈quantity / 8⌉ for bits, 2 × quantity for registers
      if (pdu.length < 2 || pdu[1] !== count) bad(req, `byte count ${pdu[1]}, expected ${count}`);
      expectLength(req, pdu, 2 + count);
      const data = pdu.subarray(2);
      if (bits) return unpackBits(data, quantity);
      const out = new Array<number>(quantity);
      for (let i = 0; i < quantity; i++) out[i] = get16(data, i * 2);
      return out;
    }
    case FC.WRITE_SINGLE_COIL:
    case FC.WRITE_SINGLE_REGISTER: {
      // MB spec §6.5, §6.6: the normal response echoes the request
      expectLength(req, pdu, 5);
      expectEcho(req, pdu, 1, req.address, "address");
      const value = req.fc === FC.WRITE_SINGLE_COIL ? (req.value ? 0xff00 : 0) : req.value & 0xffff;
      expectEcho(req, pdu, 3, value, "value");
      return undefined;
    }
    case FC.WRITE_MULTIPLE_COILS:
    case FC.WRITE_MULTIPLE_REGISTERS:
      // MB spec §6.11, §6.12: the response is the address and the quantity written
      expectLength(req, pdu, 5);
      expectEcho(req, pdu, 1, req.address, "address");
      expectEcho(req, pdu, 3, req.values.length, "quantity");
      return undefined;
    case FC.MASK_WRITE_REGISTER:
      // MB spec §6.16: the normal response echoes the request
      expectLength(req, pdu, 7);
      expectEcho(req, pdu, 1, req.address, "address");
      expectEcho(req, pdu, 3, req.andMask & 0xffff, "AND mask");
      expectEcho(req, pdu, 5, req.orMask & 0xffff, "OR mask");
      return undefined;
  }
}

// ------------------------------------------------------------------ server side: requests in

/** A request the server must refuse, with the exception to answer and why (for logs). */
export interface Refusal {
  fc: number;
  exception: number;
  reason: string;
}

function refuse(fc: number, exception: number, reason: string): Refusal {
  return { fc, exception, reason };
}

/** Whether `x` is a refusal rather than a request. */
export function isRefusal(x: ModbusRequest | Refusal): x is Refusal {
  return (x as Refusal).exception !== undefined;
}

/**
 * Checks `address + quantity` fits the 16-bit address space (exception 2 beyond it): the state
 * diagrams of MB spec §6.1-§6.17 ("Starting Address + Quantity" OK, else exception 02).
 */
function range(fc: number, address: number, quantity: number): Refusal | undefined {
  return address + quantity > 0x10000
    ? refuse(fc, EXCEPTION.ILLEGAL_DATA_ADDRESS, `address ${address} + quantity ${quantity} passes 65536`)
    : undefined;
}

/**
 * Decodes a request PDU for a server. Never throws: an unknown function gives exception 1, a
 * quantity out of its limits or a length that does not fit the function gives exception 3.
 */
export function decodeRequest(pdu: Uint8Array): ModbusRequest | Refusal {
  const fc = pdu[0] ?? 0;
  const n = pdu.length;
  const value3 = (reason: string) => refuse(fc, EXCEPTION.ILLEGAL_DATA_VALUE, reason);
  const size = (want: number) => value3(`function ${fc} needs a ${want}-byte PDU, got ${n}`);
  switch (fc) {
    case FC.READ_COILS:
    case FC.READ_DISCRETE_INPUTS:
    case FC.READ_HOLDING_REGISTERS:
    case FC.READ_INPUT_REGISTERS: {
      if (n !== 5) return size(5);
      const address = get16(pdu, 1);
      const quantity = get16(pdu, 3);
      const max = isBitRead(fc) ? LIMITS.readBits : LIMITS.readRegisters;
      // MB spec §6.1-§6.4: a quantity out of range is exception 03
      if (quantity < 1 || quantity > max) return value3(`quantity ${quantity} is not 1..${max}`);
      return range(fc, address, quantity) ?? { fc, address, quantity };
    }
    case FC.WRITE_SINGLE_COIL: {
      if (n !== 5) return size(5);
      const v = get16(pdu, 3);
      // MB spec §6.5: 0xFF00 (ON) or 0x0000 (OFF); any other value is exception 03
      if (v !== 0xff00 && v !== 0) return value3(`coil value 0x${v.toString(16)} is not 0xFF00 or 0x0000`);
      return { fc, address: get16(pdu, 1), value: v === 0xff00 };
    }
    case FC.WRITE_SINGLE_REGISTER:
      if (n !== 5) return size(5);
      return { fc, address: get16(pdu, 1), value: get16(pdu, 3) };
    case FC.WRITE_MULTIPLE_COILS: {
      if (n < 6) return size(6);
      const address = get16(pdu, 1);
      const quantity = get16(pdu, 3);
      // MB spec §6.11: 1 ≤ quantity ≤ 0x7B0 and byte count N = ⌈quantity / 8⌉, else exception 03
      if (quantity < 1 || quantity > LIMITS.writeBits) return value3(`quantity ${quantity} is not 1..${LIMITS.writeBits}`);
      const count = (quantity + 7) >> 3;
      if (pdu[5] !== count) return value3(`byte count ${pdu[5]} does not fit ${quantity} coils (${count})`);
      if (n !== 6 + count) return size(6 + count);
      return range(fc, address, quantity) ?? { fc, address, values: unpackBits(pdu.subarray(6), quantity) };
    }
    case FC.WRITE_MULTIPLE_REGISTERS: {
      if (n < 6) return size(6);
      const address = get16(pdu, 1);
      const quantity = get16(pdu, 3);
      // MB spec §6.12: 1 ≤ quantity ≤ 0x7B and byte count 2 × quantity, else exception 03
      if (quantity < 1 || quantity > LIMITS.writeRegisters) return value3(`quantity ${quantity} is not 1..${LIMITS.writeRegisters}`);
      if (pdu[5] !== quantity * 2) return value3(`byte count ${pdu[5]} does not fit ${quantity} registers`);
      if (n !== 6 + quantity * 2) return size(6 + quantity * 2);
      const values = new Array<number>(quantity);
      for (let i = 0; i < quantity; i++) values[i] = get16(pdu, 6 + i * 2);
      return range(fc, address, quantity) ?? { fc, address, values };
    }
    case FC.MASK_WRITE_REGISTER:
      if (n !== 7) return size(7);
      return { fc, address: get16(pdu, 1), andMask: get16(pdu, 3), orMask: get16(pdu, 5) };
    case FC.READ_WRITE_MULTIPLE_REGISTERS: {
      if (n < 10) return size(10);
      const readAddress = get16(pdu, 1);
      const readQuantity = get16(pdu, 3);
      const writeAddress = get16(pdu, 5);
      const quantity = get16(pdu, 7);
      // MB spec §6.17: read 1 to 0x7D, write 1 to 0x79, byte count 2 × write quantity, else exception 03
      if (readQuantity < 1 || readQuantity > LIMITS.readRegisters)
        return value3(`read quantity ${readQuantity} is not 1..${LIMITS.readRegisters}`);
      if (quantity < 1 || quantity > LIMITS.readWriteWrite) return value3(`write quantity ${quantity} is not 1..${LIMITS.readWriteWrite}`);
      if (pdu[9] !== quantity * 2) return value3(`byte count ${pdu[9]} does not fit ${quantity} registers`);
      if (n !== 10 + quantity * 2) return size(10 + quantity * 2);
      const values = new Array<number>(quantity);
      for (let i = 0; i < quantity; i++) values[i] = get16(pdu, 10 + i * 2);
      return (
        range(fc, readAddress, readQuantity) ?? range(fc, writeAddress, quantity) ?? { fc, readAddress, readQuantity, writeAddress, values }
      );
    }
    default:
      // MB spec §7: a function code the server does not support is exception 01
      return refuse(fc, EXCEPTION.ILLEGAL_FUNCTION, `function code ${fc} is not supported`);
  }
}

// ------------------------------------------------------------------ server side: responses out

/** The exception response PDU for function `fc`. */
export function encodeException(fc: number, exception: number): Uint8Array {
  return Uint8Array.of((fc | 0x80) & 0xff, exception & 0xff);
}

/** A read response: the function code, the byte count, the data. */
function withByteCount(fc: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + data.length);
  out[0] = fc;
  out[1] = data.length;
  out.set(data, 2);
  return out;
}

/** The normal response PDU to `req` with its result (bits or registers for reads). */
export function encodeResponse(req: ModbusRequest, result: Result): Uint8Array {
  switch (req.fc) {
    case FC.READ_COILS:
    case FC.READ_DISCRETE_INPUTS:
      return withByteCount(req.fc, packBits(result as boolean[]));
    case FC.READ_HOLDING_REGISTERS:
    case FC.READ_INPUT_REGISTERS:
    case FC.READ_WRITE_MULTIPLE_REGISTERS:
      return withByteCount(req.fc, registers(result as number[]));
    case FC.WRITE_SINGLE_COIL:
    case FC.WRITE_SINGLE_REGISTER: {
      const out = new Uint8Array(5);
      out[0] = req.fc;
      put16(out, 1, req.address);
      put16(out, 3, req.fc === FC.WRITE_SINGLE_COIL ? (req.value ? 0xff00 : 0) : req.value);
      return out;
    }
    case FC.WRITE_MULTIPLE_COILS:
    case FC.WRITE_MULTIPLE_REGISTERS: {
      const out = new Uint8Array(5);
      out[0] = req.fc;
      put16(out, 1, req.address);
      put16(out, 3, req.values.length);
      return out;
    }
    case FC.MASK_WRITE_REGISTER: {
      const out = new Uint8Array(7);
      out[0] = req.fc;
      put16(out, 1, req.address);
      put16(out, 3, req.andMask);
      put16(out, 5, req.orMask);
      return out;
    }
  }
}
