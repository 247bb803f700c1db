/**
 * Assembly of the parser's pieces into whole frames or whole messages, for owners that do not
 * want to handle data as it trickles in (the seed's "assemble complete frames" helper, example 15).
 * Feed every piece, in order. A frame or message that arrived as one piece is returned as is
 * (no copy); otherwise the bytes are copied once into a buffer sized from the frame lengths.
 */
import { SocketError } from "../errors.js";
import { CLOSE_TOO_BIG } from "./close.js";
import type { CloseResult } from "./close.js";
import { isByteLimit, wsDefaults } from "./limits.js";
import type { FramePiece } from "./frame-parser.js";

export interface Frame {
  readonly data: Uint8Array;
  readonly isText: boolean;
  /** Last frame of its message. */
  readonly fin: boolean;
  /** 1 text, 2 binary, 0 continuation. */
  readonly opcode: number;
}

/**
 * Joins the pieces of each frame; `push` returns the frame once its last piece is in.
 * Per connection on the device: follows the XS memory rules (docs/contributing.md).
 */
export class FrameAssembler {
  private buf: Uint8Array | undefined;

  push(piece: FramePiece): Frame | undefined {
    const { data, bytesRead, frameLen } = piece;
    if (piece.first) {
      if (bytesRead === frameLen) return { data, isText: piece.isText, fin: piece.fin, opcode: piece.opcode };
      this.buf = new Uint8Array(frameLen);
    }
    const buf = this.buf;
    if (buf === undefined || buf.length !== frameLen) throw new SocketError("incorrectuse", "piece out of order");
    buf.set(data, bytesRead - data.length);
    if (bytesRead !== frameLen) return undefined;
    this.buf = undefined;
    return { data: buf, isText: piece.isText, fin: piece.fin, opcode: piece.opcode };
  }

  reset(): void {
    this.buf = undefined;
  }
}

export interface Message {
  readonly ok: true;
  readonly data: Uint8Array;
  readonly isText: boolean;
}

/** A whole message, or (`ok: false`) the close code and reason to send: 1009 when over the cap. */
export type MessageResult = Message | Extract<CloseResult, { ok: false }>;

/**
 * Joins the frames of each message under a cap of `maxMessage` bytes (inclusive, default 65536).
 * The cap is checked when a frame starts, from its length, before its payload is stored; over the
 * cap `push` returns `ok: false` with 1009 once, then skips the rest of that message.
 * Per connection on the device: follows the XS memory rules (docs/contributing.md).
 */
export class MessageAssembler {
  readonly maxMessage: number;
  private buf: Uint8Array | undefined;
  private length = 0;
  private isText = false;
  private skipping = false;

  constructor(maxMessage: number = wsDefaults.maxMessage) {
    if (!isByteLimit(maxMessage)) throw new SocketError("incorrectuse", "maxMessage must be a non-negative integer");
    this.maxMessage = maxMessage;
  }

  push(piece: FramePiece): MessageResult | undefined {
    const { data, bytesRead, frameLen, fin } = piece;
    if (piece.first) {
      // RFC 6455 §5.4: a message starts with a text or binary frame, continuation frames follow
      if (piece.opcode !== 0) {
        this.buf = undefined;
        this.length = 0;
        this.isText = piece.isText;
        this.skipping = false;
      }
      if (this.skipping) return this.skip(piece);
      const need = this.length + frameLen;
      // RFC 6455 §10.4, §7.4.1 (1009): a limit on message size, checked from the frame lengths
      if (need > this.maxMessage) {
        this.buf = undefined;
        this.length = 0;
        this.skipping = true;
        this.skip(piece);
        return { ok: false, code: CLOSE_TOO_BIG, reason: `message over the cap of ${this.maxMessage} bytes`, wsCode: "messagetoobig" };
      }
      if (piece.opcode !== 0 && fin && bytesRead === frameLen) return { ok: true, data, isText: piece.isText };
      this.reserve(need, fin);
    } else if (this.skipping) return this.skip(piece);
    const buf = this.buf;
    if (buf === undefined) throw new SocketError("incorrectuse", "piece out of order");
    buf.set(data, this.length);
    this.length += data.length;
    if (!fin || bytesRead !== frameLen) return undefined;
    this.buf = undefined;
    const length = this.length;
    this.length = 0;
    return { ok: true, data: buf.length === length ? buf : buf.subarray(0, length), isText: this.isText };
  }

  reset(): void {
    this.buf = undefined;
    this.length = 0;
    this.skipping = false;
  }

  private skip(piece: FramePiece): undefined {
    if (piece.fin && piece.bytesRead === piece.frameLen) this.skipping = false;
    return undefined;
  }

  /** Makes room for `need` bytes: exactly on the last frame, with doubling (under the cap) before. */
  private reserve(need: number, last: boolean): void {
    const old = this.buf;
    const cap = old === undefined ? 0 : old.length;
    if (old !== undefined && (cap === need || (!last && cap >= need))) return;
    let size = need;
    if (!last) {
      const doubled = cap * 2;
      if (doubled > size) size = doubled < this.maxMessage ? doubled : this.maxMessage;
    }
    const buf = new Uint8Array(size);
    if (old !== undefined && this.length > 0) buf.set(old.subarray(0, this.length));
    this.buf = buf;
  }
}
