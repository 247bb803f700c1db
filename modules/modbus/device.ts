/**
 * The Modbus data model of a server, with no I/O: four areas (coils, discrete inputs, holding
 * registers, input registers), each served from a table (an array changed in place by writes) or
 * from callbacks (sync or async), and `execute(pdu)` that turns a request PDU into a response
 * PDU — a normal one or an exception:
 *
 * - 1 illegal function: an unknown function code, an area that is not served, a write to an
 *   area without `write`;
 * - 2 illegal data address: outside a table (callbacks throw `new ModbusError(2)`);
 * - 3 illegal data value: a quantity outside the protocol's limits, a byte count or PDU length
 *   that does not fit the function, a coil value other than 0xFF00 / 0x0000;
 * - 4 server device failure: a callback threw something other than a `ModbusError`, or returned
 *   the wrong number of values (reported through `log`).
 *
 * A callback that throws a `ModbusError` answers with that error's exception code.
 */
import { EXCEPTION, ModbusError } from "./errors.js";
import { decodeRequest, encodeException, encodeResponse, FC, isRefusal, type ModbusRequest, type Result } from "./pdu.js";

type MaybePromise<T> = T | Promise<T>;

/** Coils or discrete inputs served by callbacks. `address` is the 0-based protocol address. */
export interface BitArea {
  read(address: number, quantity: number): MaybePromise<ArrayLike<boolean>>;
  /** Absent for a read-only area (writes answer exception 1). */
  write?(address: number, values: boolean[]): MaybePromise<void>;
}

/** Holding or input registers served by callbacks (values 0..65535). */
export interface RegisterArea {
  read(address: number, quantity: number): MaybePromise<ArrayLike<number>>;
  write?(address: number, values: number[]): MaybePromise<void>;
}

/** An area: a table (element i is address i; writes change it in place) or callbacks. */
export type Bits = boolean[] | BitArea;
export type Registers = number[] | Uint16Array | RegisterArea;

export interface DeviceData {
  coils?: Bits;
  discreteInputs?: Bits;
  holdingRegisters?: Registers;
  inputRegisters?: Registers;
}

/** What was written, for `onWrite`. */
export type AreaName = "coils" | "holdingRegisters";

export interface DeviceOptions {
  /** Called after every successful write (FC 5, 6, 15, 16, 22, 23). */
  onWrite?(area: AreaName, address: number, count: number): void;
  /** Where callback failures are reported. */
  log?(message: string): void;
}

interface Area<T> {
  read(address: number, quantity: number): MaybePromise<ArrayLike<T>>;
  write?(address: number, values: T[]): MaybePromise<void>;
}

/** A table as an area: exception 2 outside it. */
function tableArea<T>(table: { length: number; [i: number]: T }, copy: (t: typeof table, a: number, n: number) => ArrayLike<T>): Area<T> {
  const check = (address: number, n: number) => {
    if (address + n > table.length) {
      const which = `addresses ${address}..${address + n - 1} (the table has ${table.length})`;
      throw new ModbusError(EXCEPTION.ILLEGAL_DATA_ADDRESS, 0, which);
    }
  };
  return {
    read(address, n) {
      check(address, n);
      return copy(table, address, n);
    },
    write(address, values) {
      check(address, values.length);
      for (let i = 0; i < values.length; i++) table[address + i] = values[i];
    },
  };
}

function area<T>(a: T[] | Uint16Array | Area<T> | undefined): Area<T> | undefined {
  if (a === undefined) return undefined;
  if (Array.isArray(a)) return tableArea<T>(a, (t, s, n) => (t as T[]).slice(s, s + n));
  if (a instanceof Uint16Array) return tableArea(a, (t, s, n) => (t as Uint16Array).slice(s, s + n)) as unknown as Area<T>;
  return a as Area<T>;
}

export class ModbusDevice {
  #coils: Area<boolean> | undefined;
  #discreteInputs: Area<boolean> | undefined;
  #holdingRegisters: Area<number> | undefined;
  #inputRegisters: Area<number> | undefined;
  #options: DeviceOptions;

  constructor(data: DeviceData, options: DeviceOptions = {}) {
    this.#coils = area<boolean>(data.coils);
    this.#discreteInputs = area<boolean>(data.discreteInputs);
    this.#holdingRegisters = area<number>(data.holdingRegisters);
    this.#inputRegisters = area<number>(data.inputRegisters);
    this.#options = options;
  }

  /** The response PDU to a request PDU (never throws). */
  async execute(pdu: Uint8Array): Promise<Uint8Array> {
    const req = decodeRequest(pdu);
    if (isRefusal(req)) return encodeException(req.fc, req.exception);
    try {
      return encodeResponse(req, await this.#run(req));
    } catch (e) {
      if (e instanceof ModbusError) return encodeException(req.fc, e.exception);
      this.#options.log?.(`modbus server: function ${req.fc} failed: ${(e as Error)?.message ?? e}`);
      return encodeException(req.fc, EXCEPTION.SERVER_DEVICE_FAILURE);
    }
  }

  async #run(req: ModbusRequest): Promise<Result> {
    switch (req.fc) {
      case FC.READ_COILS:
        return bits(await need(this.#coils, req.fc).read(req.address, req.quantity), req.quantity);
      case FC.READ_DISCRETE_INPUTS:
        return bits(await need(this.#discreteInputs, req.fc).read(req.address, req.quantity), req.quantity);
      case FC.READ_HOLDING_REGISTERS:
        return words(await need(this.#holdingRegisters, req.fc).read(req.address, req.quantity), req.quantity);
      case FC.READ_INPUT_REGISTERS:
        return words(await need(this.#inputRegisters, req.fc).read(req.address, req.quantity), req.quantity);
      case FC.WRITE_SINGLE_COIL:
        await writer(this.#coils, req.fc)(req.address, [req.value]);
        this.#written("coils", req.address, 1);
        return undefined;
      case FC.WRITE_MULTIPLE_COILS:
        await writer(this.#coils, req.fc)(req.address, req.values);
        this.#written("coils", req.address, req.values.length);
        return undefined;
      case FC.WRITE_SINGLE_REGISTER:
        await writer(this.#holdingRegisters, req.fc)(req.address, [req.value]);
        this.#written("holdingRegisters", req.address, 1);
        return undefined;
      case FC.WRITE_MULTIPLE_REGISTERS:
        await writer(this.#holdingRegisters, req.fc)(req.address, req.values);
        this.#written("holdingRegisters", req.address, req.values.length);
        return undefined;
      case FC.MASK_WRITE_REGISTER: {
        const hr = need(this.#holdingRegisters, req.fc);
        const write = writer(hr, req.fc);
        const [current] = words(await hr.read(req.address, 1), 1);
        await write(req.address, [((current & req.andMask) | (req.orMask & ~req.andMask)) & 0xffff]);
        this.#written("holdingRegisters", req.address, 1);
        return undefined;
      }
      case FC.READ_WRITE_MULTIPLE_REGISTERS: {
        const hr = need(this.#holdingRegisters, req.fc);
        await writer(hr, req.fc)(req.writeAddress, req.values); // the write comes first (spec 6.17)
        this.#written("holdingRegisters", req.writeAddress, req.values.length);
        return words(await hr.read(req.readAddress, req.readQuantity), req.readQuantity);
      }
    }
  }

  #written(area: AreaName, address: number, count: number): void {
    this.#options.onWrite?.(area, address, count);
  }
}

function need<T>(a: Area<T> | undefined, fc: number): Area<T> {
  if (!a) throw new ModbusError(EXCEPTION.ILLEGAL_FUNCTION, fc, "this area is not served");
  return a;
}

function writer<T>(a: Area<T> | undefined, fc: number): (address: number, values: T[]) => MaybePromise<void> {
  const area = need(a, fc);
  if (!area.write) throw new ModbusError(EXCEPTION.ILLEGAL_FUNCTION, fc, "this area is read-only");
  return area.write.bind(area);
}

function counted<T>(got: ArrayLike<T>, n: number): void {
  if (!got || got.length !== n) throw new Error(`a read callback returned ${got?.length} values for ${n} addresses`);
}

function bits(got: ArrayLike<boolean>, n: number): boolean[] {
  counted(got, n);
  return Array.from(got, (b) => !!b);
}

function words(got: ArrayLike<number>, n: number): number[] {
  counted(got, n);
  const out = Array.from(got);
  for (const v of out)
    if (!Number.isInteger(v) || v < -0x8000 || v > 0xffff) throw new Error(`a read callback returned the register value ${v}`);
  return out.map((v) => v & 0xffff);
}
