/**
 * The WebSocket frame parser: a streaming state machine, independent of the socket.
 *
 * `push(chunk)` takes bytes as they arrive, in any chunking (down to one byte at a time). Data
 * frames are handed to the sink as pieces while they trickle in — never joined up front; only
 * header bytes (kept as numbers) and control payloads (≤125 bytes) are buffered. Control frames
 * are handed over whole. The first protocol error is reported once with the close code to send,
 * and the parser then ignores all further input; so does a received close frame.
 *
 * Pieces are views into the pushed chunk (zero-copy); masked payload bytes are unmasked in place,
 * so the parser owns a chunk once it is pushed. With `copy: true` every piece is a fresh array.
 */
import { SocketError } from "../errors.js";
import { CLOSE_INVALID_PAYLOAD, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, parseClosePayload } from "./close.js";
import type { CloseStatus } from "./close.js";
import type { WsProtocolCode } from "./codes.js";
import { isByteLimit, wsDefaults } from "./limits.js";
import { xorMask } from "./mask.js";
import { MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT } from "./opcodes.js";
import { Utf8Validator } from "./utf8-validator.js";

/** A piece of a data frame, like the seed's `data, isText, bytesRead, frameLen` (example 15). */
export interface FramePiece {
  /** Payload bytes of this piece (unmasked); empty for an empty frame. */
  readonly data: Uint8Array;
  /** The message is text (also on its continuation frames); its UTF-8 is already validated. */
  readonly isText: boolean;
  /** This frame is the message's last (FIN); the message ends when `fin && bytesRead === frameLen`. */
  readonly fin: boolean;
  /** The frame's own opcode: 1 text or 2 binary for a message's first frame, 0 for a continuation. */
  readonly opcode: number;
  /** Payload bytes of this frame delivered so far, this piece included. */
  readonly bytesRead: number;
  /** The frame's payload length; the frame is complete when `bytesRead === frameLen`. */
  readonly frameLen: number;
  /** This is the frame's first piece. */
  readonly first: boolean;
}

/** Where the parser delivers what it reads. Callbacks must not throw. */
export interface FrameSink {
  /** A piece of a text or binary frame. */
  onData(piece: FramePiece): void;
  /** A ping: the owner answers with a pong carrying the same payload. */
  onPing(payload: Uint8Array): void;
  onPong(payload: Uint8Array): void;
  /** A valid close frame (code 1005 when it carried none). The parser reads nothing more. */
  onClose(code: number, reason: string): void;
  /**
   * A protocol error, reported once: send a close frame with `code`; the parser reads nothing
   * more. `wsCode` names the failure (src/websocket/codes.ts).
   */
  onError(code: number, reason: string, wsCode: WsProtocolCode): void;
}

export interface FrameParserOptions {
  /** A server requires masked frames; a client refuses them. */
  role: "server" | "client";
  /** Largest frame payload accepted, inclusive (default 65536); larger → 1009. */
  maxFrame?: number;
  /** Hand out fresh copies instead of views into the pushed chunks (default false). */
  copy?: boolean;
}

const S_HEAD0 = 0; // FIN, RSV, opcode
const S_HEAD1 = 1; // MASK, 7-bit length
const S_LENGTH = 2; // 16- or 64-bit extended length
const S_MASK = 3; // masking key
const S_DATA = 4; // data frame payload, delivered in pieces
const S_CONTROL = 5; // control frame payload, buffered
const S_DONE = 6; // after a close frame or an error

const EMPTY = new Uint8Array(0);

/** A protocol error: the close code to send, why, and the failure's stable name. */
export interface ProtocolFailure extends CloseStatus {
  readonly wsCode: WsProtocolCode;
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class FrameParser {
  /** The error reported, if any. */
  error: ProtocolFailure | undefined;
  /** The close frame received, if any. */
  closed: CloseStatus | undefined;

  private readonly sink: FrameSink;
  private readonly server: boolean;
  private readonly maxFrame: number;
  private readonly copy: boolean;
  private readonly utf8 = new Utf8Validator();
  private readonly key = new Uint8Array(4);

  private state = S_HEAD0;
  private fin = false;
  private opcode = 0;
  private isText = false;
  private masked = false;
  /** Opcode of the fragmented message in progress, 0 when none. */
  private message = 0;
  private lengthBytes = 0;
  private keyBytes = 0;
  private frameLen = 0;
  private bytesRead = 0;
  private control: Uint8Array = EMPTY;

  constructor(sink: FrameSink, options: FrameParserOptions) {
    if (options.role !== "server" && options.role !== "client") {
      throw new SocketError("incorrectuse", 'role must be "server" or "client"');
    }
    const maxFrame = options.maxFrame ?? wsDefaults.maxFrame;
    if (!isByteLimit(maxFrame)) throw new SocketError("incorrectuse", "maxFrame must be a non-negative integer");
    this.sink = sink;
    this.server = options.role === "server";
    this.maxFrame = maxFrame;
    this.copy = options.copy === true;
  }

  /** True after a close frame or an error: further input is ignored. */
  get done(): boolean {
    return this.state === S_DONE;
  }

  /** True between messages: no frame partly read and no fragmented message in progress. */
  get idle(): boolean {
    return this.state === S_HEAD0 && this.message === 0;
  }

  /** Consumes `chunk`. With `copy` off the parser may modify it (unmasking) and hands out views of it. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      switch (this.state) {
        case S_HEAD0:
          if (!this.head0(chunk[pos++])) return;
          break;
        case S_HEAD1:
          if (!this.head1(chunk[pos++])) return;
          break;
        case S_LENGTH: {
          const b = chunk[pos++];
          // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0 (and §10.4: far over any cap)
          if (this.lengthBytes === 8 && b >= 0x80) {
            return this.fail("frametoobig", CLOSE_TOO_BIG, "64-bit length with the top bit set");
          }
          this.frameLen = this.frameLen * 256 + b;
          if (--this.lengthBytes === 0 && !this.haveLength()) return;
          break;
        }
        case S_MASK:
          this.key[this.keyBytes++] = chunk[pos++];
          if (this.keyBytes === 4 && !this.startPayload()) return;
          break;
        case S_DATA: {
          const start = pos;
          const rest = this.frameLen - this.bytesRead;
          pos = n - pos > rest ? pos + rest : n;
          if (!this.piece(chunk, start, pos)) return;
          break;
        }
        case S_CONTROL: {
          const rest = this.frameLen - this.bytesRead;
          const end = n - pos > rest ? pos + rest : n;
          this.control.set(chunk.subarray(pos, end), this.bytesRead);
          this.bytesRead += end - pos;
          pos = end;
          if (this.bytesRead === this.frameLen && !this.endControl()) return;
          break;
        }
        default:
          return;
      }
    }
  }

  private fail(wsCode: WsProtocolCode, code: number, reason: string): void {
    this.state = S_DONE;
    this.error = { code, reason, wsCode };
    this.control = EMPTY;
    this.sink.onError(code, reason, wsCode);
  }

  private head0(b: number): boolean {
    // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them (none is negotiated)
    if ((b & 0x70) !== 0) {
      this.fail("rsvbits", CLOSE_PROTOCOL_ERROR, "RSV bits set without a negotiated extension");
      return false;
    }
    const fin = (b & 0x80) !== 0;
    const opcode = b & 0x0f;
    if (opcode === OP_CONTINUATION) {
      // RFC 6455 §5.4: a continuation frame only follows a first frame without FIN
      if (this.message === 0) {
        this.fail("unexpectedcontinuation", CLOSE_PROTOCOL_ERROR, "continuation frame without a message in progress");
        return false;
      }
      this.isText = this.message === OP_TEXT;
      if (fin) this.message = 0;
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      // RFC 6455 §5.4: a fragmented message's frames are not interleaved with another message's
      if (this.message !== 0) {
        this.fail("expectedcontinuation", CLOSE_PROTOCOL_ERROR, "new message while a fragmented message is in progress");
        return false;
      }
      this.isText = opcode === OP_TEXT;
      if (!fin) this.message = opcode;
    } else if (opcode === OP_CLOSE || opcode === OP_PING || opcode === OP_PONG) {
      // RFC 6455 §5.5: control frames MUST NOT be fragmented
      if (!fin) {
        this.fail("fragmentedcontrol", CLOSE_PROTOCOL_ERROR, "fragmented control frame");
        return false;
      }
    } else {
      // RFC 6455 §5.2: opcodes 3-7 and 0xB-0xF are reserved; a recipient fails the connection
      this.fail("badopcode", CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
      return false;
    }
    this.fin = fin;
    this.opcode = opcode;
    this.state = S_HEAD1;
    return true;
  }

  private head1(b: number): boolean {
    const masked = (b & 0x80) !== 0;
    // RFC 6455 §5.1: a client masks every frame, a server masks none
    if (masked !== this.server) {
      if (this.server) this.fail("unmaskedframe", CLOSE_PROTOCOL_ERROR, "unmasked frame from a client");
      else this.fail("maskedframe", CLOSE_PROTOCOL_ERROR, "masked frame from a server");
      return false;
    }
    this.masked = masked;
    const len = b & 0x7f;
    if (this.opcode >= OP_CLOSE) {
      // RFC 6455 §5.5: control frames carry at most 125 bytes
      if (len > MAX_CONTROL_PAYLOAD) {
        this.fail("controltoolong", CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes");
        return false;
      }
      // RFC 6455 §5.5.1: a close frame's body, if any, starts with a 2-byte code
      if (len === 1 && this.opcode === OP_CLOSE) {
        this.fail("badclosepayload", CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
        return false;
      }
    }
    // RFC 6455 §5.2: 126 → a 16-bit length follows, 127 → a 64-bit one
    if (len >= 126) {
      this.lengthBytes = len === 126 ? 2 : 8;
      this.frameLen = 0;
      this.state = S_LENGTH;
      return true;
    }
    this.frameLen = len;
    return this.haveLength();
  }

  private haveLength(): boolean {
    // RFC 6455 §10.4, §7.4.1 (1009): an implementation limits frame size; refused from the length alone
    if (this.frameLen > this.maxFrame && this.opcode < OP_CLOSE) {
      this.fail("frametoobig", CLOSE_TOO_BIG, `frame of ${this.frameLen} bytes over the cap of ${this.maxFrame}`);
      return false;
    }
    if (this.masked) {
      this.keyBytes = 0;
      this.state = S_MASK;
      return true;
    }
    return this.startPayload();
  }

  private startPayload(): boolean {
    this.bytesRead = 0;
    if (this.opcode >= OP_CLOSE) {
      this.control = this.frameLen === 0 ? EMPTY : new Uint8Array(this.frameLen);
      this.state = S_CONTROL;
      return this.frameLen === 0 ? this.endControl() : true;
    }
    this.state = S_DATA;
    return this.frameLen === 0 ? this.piece(EMPTY, 0, 0) : true;
  }

  /** Delivers `chunk[start..end)` of the current data frame. */
  private piece(chunk: Uint8Array, start: number, end: number): boolean {
    let data: Uint8Array;
    if (this.copy) data = chunk.slice(start, end);
    else if (start === 0 && end === chunk.length) data = chunk;
    else data = chunk.subarray(start, end);
    const before = this.bytesRead;
    if (this.masked) xorMask(data, this.key, before);
    const bytesRead = before + (end - start);
    this.bytesRead = bytesRead;
    const frameDone = bytesRead === this.frameLen;
    // RFC 6455 §8.1 (1007, §7.4.1): a text message is UTF-8; fail as soon as a byte cannot be
    if (this.isText) {
      if (this.utf8.push(data) !== -1) {
        this.fail("invalidutf8", CLOSE_INVALID_PAYLOAD, "invalid UTF-8 in a text message");
        return false;
      }
      if (frameDone && this.fin && !this.utf8.complete) {
        this.fail("invalidutf8", CLOSE_INVALID_PAYLOAD, "text message ends inside a UTF-8 sequence");
        return false;
      }
    }
    if (frameDone) this.state = S_HEAD0;
    this.sink.onData({
      data,
      isText: this.isText,
      fin: this.fin,
      opcode: this.opcode,
      bytesRead,
      frameLen: this.frameLen,
      first: before === 0,
    });
    return true;
  }

  private endControl(): boolean {
    const payload = this.control;
    this.control = EMPTY;
    if (this.masked) xorMask(payload, this.key, 0);
    this.state = S_HEAD0;
    if (this.opcode === OP_PING) this.sink.onPing(payload);
    else if (this.opcode === OP_PONG) this.sink.onPong(payload);
    else {
      const close = parseClosePayload(payload);
      if (!close.ok) {
        this.fail(close.wsCode, close.code, close.reason);
        return false;
      }
      this.state = S_DONE;
      this.closed = { code: close.code, reason: close.reason };
      this.sink.onClose(close.code, close.reason);
      return false;
    }
    return true;
  }
}
