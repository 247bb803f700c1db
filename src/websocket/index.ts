/** The WebSocket codec: frame parsing and writing, UTF-8 validation, close codes, assembly. */
export { FrameParser } from "./frame-parser.js";
export type { FramePiece, FrameSink, FrameParserOptions, ProtocolFailure } from "./frame-parser.js";
export { encodeFrame, frameHeader, frameBytes, encodeClose, encodePing, encodePong, fragment, fragmentCount } from "./frame-writer.js";
export type { FrameSpec, EncodedFrame } from "./frame-writer.js";
export { FrameAssembler, MessageAssembler } from "./assemble.js";
export type { Frame, Message, MessageResult } from "./assemble.js";
export {
  CLOSE_NORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_UNSUPPORTED_DATA,
  CLOSE_NO_STATUS,
  CLOSE_ABNORMAL,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_POLICY_VIOLATION,
  CLOSE_TOO_BIG,
  CLOSE_MANDATORY_EXTENSION,
  CLOSE_INTERNAL_ERROR,
  isValidCloseCode,
  parseClosePayload,
  encodeClosePayload,
} from "./close.js";
export type { CloseStatus, CloseResult } from "./close.js";
export { CONNECTING, OPEN, CLOSING, CLOSED } from "./codes.js";
export type { WsCode, WsProtocolCode, WsConnectionCode, WsHandshakeCode, WsUpgradeCode, ReadyState } from "./codes.js";
export { Utf8Validator, isValidUtf8 } from "./utf8-validator.js";
export { xorMask } from "./mask.js";
export { wsDefaults } from "./limits.js";
export type { WebSocketLimits } from "./limits.js";
export {
  OP_CONTINUATION,
  OP_TEXT,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  MAX_CONTROL_PAYLOAD,
  MAX_CLOSE_REASON,
  isControlOpcode,
} from "./opcodes.js";
