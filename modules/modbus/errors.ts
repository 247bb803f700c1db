/**
 * Modbus errors. A `ModbusError` is a Modbus exception response (the peer understood the request
 * and refused it); a `ModbusFrameError` is a frame or PDU that breaks the protocol (garbage, a
 * wrong length, a response that does not fit its request). Timeouts and connection failures are
 * the runtime's `SocketError`s (`timeout`, `socketclosed`, ...).
 */

/** Modbus exception codes (Modbus Application Protocol v1.1b3, section 7). */
export const EXCEPTION = Object.freeze({
  ILLEGAL_FUNCTION: 0x01,
  ILLEGAL_DATA_ADDRESS: 0x02,
  ILLEGAL_DATA_VALUE: 0x03,
  SERVER_DEVICE_FAILURE: 0x04,
  ACKNOWLEDGE: 0x05,
  SERVER_DEVICE_BUSY: 0x06,
  MEMORY_PARITY_ERROR: 0x08,
  GATEWAY_PATH_UNAVAILABLE: 0x0a,
  GATEWAY_TARGET_FAILED: 0x0b,
});

const NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x01: "IllegalFunction",
  0x02: "IllegalDataAddress",
  0x03: "IllegalDataValue",
  0x04: "ServerDeviceFailure",
  0x05: "Acknowledge",
  0x06: "ServerDeviceBusy",
  0x08: "MemoryParityError",
  0x0a: "GatewayPathUnavailable",
  0x0b: "GatewayTargetFailedToRespond",
});

/** The name of an exception code ("IllegalDataAddress"), or "Exception0xNN" for an unknown one. */
export function exceptionName(code: number): string {
  return NAMES[code] ?? `Exception0x${code.toString(16).padStart(2, "0")}`;
}

/** A Modbus exception: thrown by the client when the server answers with one, and by server
 * callbacks to answer with one. */
export class ModbusError extends Error {
  /** The exception code (1 illegal function, 2 illegal data address, ...). */
  readonly exception: number;
  /** Its name, e.g. "IllegalDataAddress". */
  readonly exceptionName: string;
  /** The function code of the refused request (0 when not known). */
  readonly functionCode: number;

  constructor(exception: number, functionCode = 0, detail?: string) {
    const name = exceptionName(exception);
    super(`Modbus exception ${exception} (${name})` + (functionCode ? ` to function ${functionCode}` : "") + (detail ? `: ${detail}` : ""));
    this.exception = exception;
    this.exceptionName = name;
    this.functionCode = functionCode;
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "ModbusError";
  }
}

/** A frame or PDU that breaks the protocol. */
export class ModbusFrameError extends Error {
  constructor(message: string) {
    super(message);
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "ModbusFrameError";
  }
}
