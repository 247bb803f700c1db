/**
 * Building WebSocket frames. A frame comes back as its header and its payload, so the socket can
 * write both without joining them: an unmasked payload is the caller's own array (no copy); a
 * masked one is the single copy masking needs, allocated right after the header in one buffer so
 * `frameBytes` can hand out both as one view. A client masks every frame with a fresh random key
 * (from the host); a server never masks.
 */
import { SocketError } from "../errors.js";
import { encodeClosePayload } from "./close.js";
import { isByteLimit, wsDefaults } from "./limits.js";
import { xorMask } from "./mask.js";
import { MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, isKnownOpcode, OP_CLOSE } from "./opcodes.js";

export interface FrameSpec {
  opcode: number;
  /** Last frame of its message (default true; control frames must be final). */
  fin?: boolean;
  payload: Uint8Array;
  /** 4-byte masking key: a fresh random one per frame on a client, none on a server. */
  mask?: Uint8Array;
}

export interface EncodedFrame {
  /** 2 to 14 bytes: FIN, opcode, the shortest length encoding, and the masking key if any. */
  readonly header: Uint8Array;
  /** The payload as sent: the caller's array when unmasked, a masked copy otherwise. */
  readonly payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function headerLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Writes a frame header into `out` at `at`; returns its length. */
function writeHeader(out: Uint8Array, at: number, opcode: number, fin: boolean, length: number, mask?: Uint8Array): number {
  const start = at;
  out[at++] = (fin ? 0x80 : 0) | opcode; // RFC 6455 §5.2: RSV bits 0 (no extension)
  const m = mask ? 0x80 : 0;
  // RFC 6455 §5.2: the minimal number of bytes encodes the length (7 bits, 16 bits, 64 bits)
  if (length < 126) out[at++] = m | length;
  else if (length < 0x10000) {
    out[at++] = m | 126;
    out[at++] = length >> 8;
    out[at++] = length & 0xff;
  } else {
    out[at++] = m | 127;
    const hi = Math.floor(length / 0x100000000);
    const lo = length >>> 0;
    out[at++] = hi >>> 24;
    out[at++] = (hi >> 16) & 0xff;
    out[at++] = (hi >> 8) & 0xff;
    out[at++] = hi & 0xff;
    out[at++] = lo >>> 24;
    out[at++] = (lo >> 16) & 0xff;
    out[at++] = (lo >> 8) & 0xff;
    out[at++] = lo & 0xff;
  }
  if (mask) {
    out[at++] = mask[0];
    out[at++] = mask[1];
    out[at++] = mask[2];
    out[at++] = mask[3];
  }
  return at - start;
}

function check(opcode: number, fin: boolean, length: number, mask: Uint8Array | undefined): void {
  // RFC 6455 §5.2: reserved opcodes are never sent
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15 || !isKnownOpcode(opcode)) {
    throw new SocketError("incorrectuse", `unknown opcode ${opcode}`);
  }
  // RFC 6455 §5.5: control frames are not fragmented and carry at most 125 bytes
  if (opcode >= OP_CLOSE) {
    if (!fin) throw new SocketError("incorrectuse", "control frames cannot be fragmented");
    if (length > MAX_CONTROL_PAYLOAD) throw new SocketError("incorrectuse", "control frame payload over 125 bytes");
  }
  // RFC 6455 §5.3: a masking key is 32 bits
  if (mask !== undefined && mask.length !== 4) throw new SocketError("incorrectuse", "a masking key is 4 bytes");
}

/** A frame header alone, for a payload of `length` bytes the caller sends (and masks) itself. */
export function frameHeader(opcode: number, fin: boolean, length: number, mask?: Uint8Array): Uint8Array {
  check(opcode, fin, length, mask);
  const out = new Uint8Array(headerLength(length, mask !== undefined));
  writeHeader(out, 0, opcode, fin, length, mask);
  return out;
}

/**
 * Encodes one frame. Unmasked: `payload` is passed through untouched. Masked: header and masked
 * payload share one new buffer (the caller's payload is not modified).
 */
export function encodeFrame(spec: FrameSpec): EncodedFrame {
  const { opcode, payload, mask } = spec;
  const fin = spec.fin !== false;
  const length = payload.length;
  check(opcode, fin, length, mask);
  const h = headerLength(length, mask !== undefined);
  if (mask === undefined) {
    const header = new Uint8Array(h);
    writeHeader(header, 0, opcode, fin, length);
    return { header, payload };
  }
  const out = new Uint8Array(h + length);
  writeHeader(out, 0, opcode, fin, length, mask);
  const masked = out.subarray(h);
  masked.set(payload);
  xorMask(masked, mask, 0);
  return { header: out.subarray(0, h), payload: masked };
}

/**
 * One frame as one new array (header, then the payload, masked if `mask`): for small frames, one
 * allocation and one copy instead of a header, a frame object and the join `frameBytes` makes.
 */
export function encodeFrameBytes(opcode: number, fin: boolean, payload: Uint8Array, mask?: Uint8Array): Uint8Array {
  const length = payload.length;
  check(opcode, fin, length, mask);
  const h = headerLength(length, mask !== undefined);
  const out = new Uint8Array(h + length);
  writeHeader(out, 0, opcode, fin, length, mask);
  out.set(payload, h);
  if (mask) xorMask(out.subarray(h), mask, 0);
  return out;
}

/** The whole frame as one array: a view when header and payload are adjacent (masked frames), else a copy. */
export function frameBytes(frame: EncodedFrame): Uint8Array {
  const { header, payload } = frame;
  if (payload.length === 0) return header;
  if (header.buffer === payload.buffer && header.byteOffset + header.length === payload.byteOffset) {
    return new Uint8Array(header.buffer, header.byteOffset, header.length + payload.length);
  }
  const out = new Uint8Array(header.length + payload.length);
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}

/** A close frame; no code → an empty payload. Throws `incorrectuse` for an unsendable code or a reason over 123 bytes. */
export function encodeClose(code?: number, reason: string | Uint8Array = "", mask?: Uint8Array): EncodedFrame {
  return encodeFrame({ opcode: OP_CLOSE, payload: encodeClosePayload(code, reason), mask });
}

/** A ping frame (payload ≤125 bytes). */
export function encodePing(payload: Uint8Array = EMPTY, mask?: Uint8Array): EncodedFrame {
  return encodeFrame({ opcode: OP_PING, payload, mask });
}

/** A pong frame (payload ≤125 bytes): the answer to a ping carries the ping's payload. */
export function encodePong(payload: Uint8Array = EMPTY, mask?: Uint8Array): EncodedFrame {
  return encodeFrame({ opcode: OP_PONG, payload, mask });
}

/**
 * Cuts a message into frames of at most `maxFrame` payload bytes: the first frame has the text or
 * binary opcode, the rest are continuations, the last has FIN. An empty message is one empty
 * frame. Payloads are views of `payload` (no copy); the caller encodes each frame, with a fresh
 * masking key per frame on a client. A text message may be cut inside a UTF-8 sequence (RFC 6455
 * validates UTF-8 per message, not per frame).
 */
export function fragment(
  payload: Uint8Array,
  isText: boolean,
  maxFrame: number = wsDefaults.maxFrame,
): Generator<FrameSpec, void, undefined> {
  if (!isByteLimit(maxFrame) || maxFrame === 0) throw new SocketError("incorrectuse", "maxFrame must be a positive integer");
  return cut(payload, isText ? OP_TEXT : OP_BINARY, maxFrame);
}

function* cut(payload: Uint8Array, opcode: number, maxFrame: number): Generator<FrameSpec, void, undefined> {
  const length = payload.length;
  let at = 0;
  do {
    const end = length - at > maxFrame ? at + maxFrame : length;
    // RFC 6455 §5.4: the first frame has the message's opcode, the rest 0 (continuation), the last FIN
    yield { opcode, fin: end === length, payload: at === 0 && end === length ? payload : payload.subarray(at, end) };
    opcode = OP_CONTINUATION;
    at = end;
  } while (at < length);
}

/** How many frames `fragment` makes of a message of `length` bytes. */
export function fragmentCount(length: number, maxFrame: number = wsDefaults.maxFrame): number {
  return length === 0 ? 1 : Math.ceil(length / maxFrame);
}
