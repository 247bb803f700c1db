/** Modbus TCP on cosockets: a client, a server, and their codec. */
export { ModbusClient, clientDefaults, type ModbusClientOptions, type RequestOptions } from "./client.js";
export { ModbusServer, serverDefaults, type ModbusServerOptions, type ModbusServerStat } from "./server.js";
export {
  ModbusDevice,
  type DeviceData,
  type DeviceOptions,
  type BitArea,
  type RegisterArea,
  type Bits,
  type Registers,
  type AreaName,
} from "./device.js";
export { ModbusError, ModbusFrameError, EXCEPTION, exceptionName } from "./errors.js";
export {
  FC,
  LIMITS,
  encodeRequest,
  decodeRequest,
  encodeResponse,
  decodeResponse,
  encodeException,
  isRefusal,
  packBits,
  unpackBits,
  type ModbusRequest,
  type Result,
  type Refusal,
} from "./pdu.js";
export { encodeAdu, MbapParser, MBAP_HEADER, MAX_ADU, MAX_PDU, type Adu } from "./mbap.js";
export {
  encodeWord,
  encodeDword,
  encodeFloat,
  encodeDouble,
  encodeString,
  decodeWord,
  decodeDword,
  decodeFloat,
  decodeDouble,
  decodeString,
  type ValueOptions,
  type Order,
} from "./values.js";
