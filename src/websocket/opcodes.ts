/** WebSocket frame opcodes (RFC 6455 §5.2) and the limits that do not depend on options. */

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Largest payload of a control frame (close, ping, pong). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest close reason in bytes: a control payload less the 2-byte code. */
export const MAX_CLOSE_REASON = 123;

export function isControlOpcode(opcode: number): boolean {
  return opcode >= 0x8;
}

export function isKnownOpcode(opcode: number): boolean {
  return opcode <= OP_BINARY || (opcode >= OP_CLOSE && opcode <= OP_PONG);
}
