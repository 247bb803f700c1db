/** Close codes (RFC 6455 §7.4), and the close frame payload: a 2-byte code and a UTF-8 reason. */
import { SocketError } from "../errors.js";
import { decodeUtf8, encodeUtf8 } from "../base/utf8.js";
import { MAX_CLOSE_REASON } from "./opcodes.js";
import { isValidUtf8 } from "./utf8-validator.js";

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

/** The outcome of a check that can fail with a close code (`ok: false` carries the code to send). */
export type CloseResult = ({ readonly ok: true } & CloseStatus) | ({ readonly ok: false } & CloseStatus);

/**
 * True for a code that may appear in a close frame: 1000–1003, 1007–1014 and 3000–4999.
 * 1004–1006 and 1015 are reserved or local-only, 1016–2999 unassigned, ≥5000 out of range.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

/**
 * Reads a received close frame's payload. Empty → code 1005 (no status). A 1-byte payload or an
 * invalid code → `ok: false` with 1002; a reason that is not UTF-8 → `ok: false` with 1007.
 */
export function parseClosePayload(payload: Uint8Array): CloseResult {
  if (payload.length === 0) return { ok: true, code: CLOSE_NO_STATUS, reason: "" };
  if (payload.length === 1) return { ok: false, code: CLOSE_PROTOCOL_ERROR, reason: "close frame with a 1-byte payload" };
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) return { ok: false, code: CLOSE_PROTOCOL_ERROR, reason: `invalid close code ${code}` };
  const reason = payload.subarray(2);
  if (!isValidUtf8(reason)) return { ok: false, code: CLOSE_INVALID_PAYLOAD, reason: "close reason is not UTF-8" };
  return { ok: true, code, reason: reason.length === 0 ? "" : decodeUtf8(reason) };
}

/**
 * Builds a close frame's payload. No code → an empty payload (then the reason must be empty).
 * Throws `incorrectuse` for a code that may not be sent or a reason over 123 bytes.
 */
export function encodeClosePayload(code?: number, reason: string | Uint8Array = ""): Uint8Array {
  const r = typeof reason === "string" ? encodeUtf8(reason) : reason;
  if (code === undefined) {
    if (r.length !== 0) throw new SocketError("incorrectuse", "a close reason needs a close code");
    return new Uint8Array(0);
  }
  if (!isValidCloseCode(code)) throw new SocketError("incorrectuse", `close code ${code} may not be sent`);
  if (r.length > MAX_CLOSE_REASON) throw new SocketError("incorrectuse", `close reason over ${MAX_CLOSE_REASON} bytes`);
  if (typeof reason !== "string" && !isValidUtf8(r)) throw new SocketError("incorrectuse", "close reason is not UTF-8");
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}
