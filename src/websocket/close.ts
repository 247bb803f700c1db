/** Close codes (RFC 6455 §7.4), and the close frame payload: a 2-byte code and a UTF-8 reason. */
import { SocketError } from "../errors.js";
import { decodeUtf8, encodeUtf8 } from "../base/utf8.js";
import { MAX_CLOSE_REASON } from "./opcodes.js";
import { isValidUtf8 } from "./utf8-validator.js";
import type { WsProtocolCode } from "./codes.js";

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** Never sent: stands for "the close frame carried no code". */
export const CLOSE_NO_STATUS = 1005;
/** Never sent: stands for "the connection dropped without a close frame". */
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_MANDATORY_EXTENSION = 1010;
export const CLOSE_INTERNAL_ERROR = 1011;

/** A close code and reason: what a close frame carries, and how codec errors are reported. */
export interface CloseStatus {
  readonly code: number;
  readonly reason: string;
}

/**
 * The outcome of a check that can fail with a close code (`ok: false` carries the code to send
 * and the failure's stable name, src/websocket/codes.ts).
 */
export type CloseResult = ({ readonly ok: true } & CloseStatus) | ({ readonly ok: false; readonly wsCode: WsProtocolCode } & CloseStatus);

/**
 * True for a code that may appear in a close frame: 1000–1003, 1007–1014 and 3000–4999.
 * 1004–1006 and 1015 are reserved or local-only, 1016–2999 unassigned, ≥5000 out of range.
 */
export function isValidCloseCode(code: number): boolean {
  // RFC 6455 §7.4.1 (1000-1011; 1004 reserved, 1005, 1006 and 1015 never in a frame; 1012-1014
  // registered with IANA since), §7.4.2 (0-999 unused, 3000-3999 registered, 4000-4999 private)
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}

function closeFailure(wsCode: WsProtocolCode, code: number, reason: string): CloseResult {
  return { ok: false, code, reason, wsCode };
}

/**
 * Reads a received close frame's payload. Empty → code 1005 (no status). A 1-byte payload or an
 * invalid code → `ok: false` with 1002; a reason that is not UTF-8 → `ok: false` with 1007.
 */
export function parseClosePayload(payload: Uint8Array): CloseResult {
  // RFC 6455 §7.1.5: no code in the frame → 1005
  if (payload.length === 0) return { ok: true, code: CLOSE_NO_STATUS, reason: "" };
  // RFC 6455 §5.5.1: a body starts with a 2-byte code
  if (payload.length === 1) return closeFailure("badclosepayload", CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
  const code = (payload[0] << 8) | payload[1];
  // RFC 6455 §7.4.1, §7.4.2: a code that may not be sent
  if (!isValidCloseCode(code)) return closeFailure("badclosecode", CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
  const reason = payload.subarray(2);
  // RFC 6455 §5.5.1: the reason is UTF-8 (§8.1: else 1007)
  if (!isValidUtf8(reason)) return closeFailure("invalidutf8", CLOSE_INVALID_PAYLOAD, "close reason is not UTF-8");
  return { ok: true, code, reason: reason.length === 0 ? "" : decodeUtf8(reason) };
}

/**
 * Builds a close frame's payload. No code → an empty payload (then the reason must be empty).
 * Throws `incorrectuse` for a code that may not be sent or a reason over 123 bytes.
 */
export function encodeClosePayload(code?: number, reason: string | Uint8Array = ""): Uint8Array {
  const r = typeof reason === "string" ? encodeUtf8(reason) : reason;
  if (code === undefined) {
    // RFC 6455 §5.5.1: a reason only follows a code
    if (r.length !== 0) throw new SocketError("incorrectuse", "a close reason needs a close code");
    return new Uint8Array(0);
  }
  // RFC 6455 §7.4.1, §7.4.2: only codes that may appear in a frame
  if (!isValidCloseCode(code)) throw new SocketError("incorrectuse", `close code ${code} may not be sent`);
  // RFC 6455 §5.5: 125 bytes of body at most, 2 of them the code
  if (r.length > MAX_CLOSE_REASON) throw new SocketError("incorrectuse", `close reason over ${MAX_CLOSE_REASON} bytes`);
  // RFC 6455 §5.5.1: the reason is UTF-8
  if (typeof reason !== "string" && !isValidUtf8(r)) throw new SocketError("incorrectuse", "close reason is not UTF-8");
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}
