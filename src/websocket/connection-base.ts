/**
 * The bottom of a WebSocket connection: its fields, the flag bits of `_f`, the state few
 * connections need (`Extra`), the parser's sink, the options and `readyState`. The class is
 * built in layers, one concern per file, every method on a prototype:
 *
 *   WebSocketBase (connection-base.ts) → WebSocketReading (connection-read.ts)
 *     → WebSocketWriting (connection-write.ts) → WebSocketClosing (connection-close.ts)
 *     → WebSocketKeepalive (connection-keepalive.ts) → WebSocket (connection.ts: the coroutine,
 *     information)
 *
 * Members named `_…` are internal to these files, not part of the API. A lower layer calls up
 * only through the abstract methods declared here (a ping's answer, a protocol error, the peer's
 * close frame, the watchdog's tick).
 *
 * Memory (docs/device.md, "Memory"; docs/contributing.md): one per connection on the device. On
 * XS every field is a 16-byte slot, and so is every `#private` method (XS installs those on each
 * instance), so the methods are prototype methods, the booleans are bits of `_f`, and what only
 * some connections need is in `_x`, made on first use.
 */
import { SocketError, type SocketErrorCode } from "../errors.js";
import type { Socket } from "../socket/socket.js";
import { FrameParser, type FramePiece, type FrameSink } from "./frame-parser.js";
import type { FrameAssembler, Frame, MessageAssembler } from "./assemble.js";
import { isByteLimit, wsDefaults, type WebSocketLimits } from "./limits.js";
import { CLOSED, CLOSING, OPEN, type ReadyState, type WsCode } from "./codes.js";
import type { Watched } from "../watchdog.js";
import { Queue } from "../base/queue.js";

export interface WebSocketOptions {
  /** Largest frame accepted and the size messages are cut to when sent (inclusive); default 65536. */
  maxFrame?: number;
  /** Largest message `readMessage` assembles (inclusive); default 65536. */
  maxMessage?: number;
  /**
   * How long `close()` waits for the peer's close frame and TCP close; default 2000 ms. A close
   * frame that could not leave within it (a peer that does not read) aborts the connection.
   */
  closeTimeout?: number;
  /** Nothing received and no message sent for this long (ms): closed with 1001; 0: never. Default `wsDefaults.idleTimeout`. */
  idleTimeout?: number;
  /** Keepalive: a ping after this long (ms) without traffic (nothing received, no message sent); 0 (default): off. */
  pingInterval?: number;
  /** After a keepalive ping, a peer silent this long (ms) is dead: abort, 1006. Default `wsDefaults.pongTimeout`. */
  pongTimeout?: number;
}

type Timing = Pick<WebSocketLimits, "idleTimeout" | "pingInterval" | "pongTimeout">;

/**
 * A WebSocket failure. `wsCode` is its stable name and `closeCode` the close code that goes with
 * it: the one we sent after a protocol error, 1006 when the connection dropped or never opened
 * (src/websocket/codes.ts; docs/api.md, *WebSocket failure codes*). `code` stays the socket's
 * vocabulary: `socketreadfailed` for a read, `socketwritefailed` for a write after the close,
 * `invalidsocketcon` or `timeout` for a refused handshake.
 */
export class WebSocketError extends SocketError {
  readonly wsCode: WsCode;
  readonly closeCode: number;
  constructor(wsCode: WsCode, closeCode: number, detail: string, code: SocketErrorCode = "socketreadfailed") {
    super(code, `websocket ${closeCode} ${wsCode}: ${detail}`);
    this.wsCode = wsCode;
    this.closeCode = closeCode;
  }
}

const RANDOM_BATCH = 256;

/** What a read returns: a piece as it arrives, a whole frame, or a whole message. */
export const PIECE = 0;
export const FRAME = 1;
export const MESSAGE = 2;
export type Want = typeof PIECE | typeof FRAME | typeof MESSAGE;

/** A whole message, as `readMessage` returns it. */
export type Message = { data: Uint8Array; isText: boolean };
export type ReadResult = FramePiece | Frame | Message;

// bits of `_f`
export const CLOSE_SENT = 1;
export const EOF = 2;
export const INFLIGHT = 4; // a socket read is in flight (its outcome comes to readDone)
export const PONG_BUSY = 8; // a pong is on its way out (a newer ping's payload waits in _x.pong)
export const CLOSE_OUT = 16; // our close frame left (or there is none to send): close() may linger
export const WATCHED = 32; // under the watchdog (idle timeout, keepalive)
export const WANT_SHIFT = 6; // bits 6-7: what the waiting read wants (PIECE, FRAME or MESSAGE)
export const WANT_BITS = 3 << WANT_SHIFT;
const STATE_SHIFT = 8; // bits 8-9: readyState (OPEN, CLOSING or CLOSED; it only moves forward)
const STATE_BITS = 3 << STATE_SHIFT;

export const noop = (): void => undefined;

/** What only some connections need, made on first use. */
export interface Extra {
  failure?: WebSocketError;
  sentCode?: number; // the code of our close frame (1005: it had none)
  closing?: Promise<void>;
  frames?: FrameAssembler; // readFrame
  random?: Uint8Array; // a client's masking keys
  randomAt?: number;
  writeLock?: Promise<unknown>; // a fragmented send in progress
  pongWaiters?: (() => void)[];
  pullers?: (() => void)[]; // ping and the closing handshake waiting for a socket read
  pong?: Uint8Array; // the newest ping's payload, answered once the pong before it left
  pings?: Uint8Array[]; // pings the parser reported, answered when it returns (Sink)
  pingAt?: number; // host time of the keepalive ping not answered yet
  timing?: Timing; // idle timeout and keepalive when options set them (else wsDefaults)
  closeCode?: number; // the peer's close frame (kept here: most connections never see one while idle)
  closeReason?: string;
}

/**
 * The parser's sink: one small object per connection whose methods are shared, rather than an
 * object of five arrow functions (about 1 KB per connection on 32-bit XS).
 */
class Sink implements FrameSink {
  readonly ws: WebSocketBase;
  constructor(ws: WebSocketBase) {
    this.ws = ws;
  }
  onData(piece: FramePiece): void {
    (this.ws._pieces ??= new Queue()).push(piece);
  }
  // A ping, a close frame and an error are answered by _absorb once the parser has returned,
  // in the order they came (a ping's pong first; a close frame or an error is the last thing
  // the parser reports): answers are writes, and on top of the parser's frames they do not fit
  // the device's 384-slot stack (docs/device.md, "As strict as the device").
  onPing(payload: Uint8Array): void {
    ((this.ws._x ??= {}).pings ??= []).push(payload.slice());
  }
  onPong(): void {
    const x = this.ws._x;
    const waiters = x?.pongWaiters;
    if (x) x.pongWaiters = undefined;
    if (waiters) for (const w of waiters) w();
  }
  onClose(code: number, reason: string): void {
    const x = (this.ws._x ??= {});
    x.closeCode = code;
    x.closeReason = reason;
    this.ws._enter(CLOSING);
  }
  onError(): void {} // the parser keeps it (`error`)
}

export abstract class WebSocketBase implements Watched {
  readonly sock: Socket;
  readonly role: "server" | "client";
  /** The subprotocol agreed in the handshake ("" if none). */
  readonly protocol: string;
  readonly maxFrame: number;
  readonly maxMessage: number;
  readonly closeTimeout: number;

  _parser: FrameParser;
  _f = OPEN << STATE_SHIFT;
  _pieces: Queue<FramePiece> | undefined;
  _messages: MessageAssembler | undefined;
  _x: Extra | undefined;
  // the waiting read (`read`, `readFrame`, `readMessage`)
  _resume: ((value: ReadResult | null | PromiseLike<never>) => void) | undefined;
  _timeout: number | undefined;
  _deadline: number | undefined;
  _active = 0; // host time of the last traffic: bytes from the peer or a message sent (watched only)

  constructor(sock: Socket, role: "server" | "client", protocol = "", options: WebSocketOptions = {}) {
    this.sock = sock;
    this.role = role;
    this.protocol = protocol;
    this.maxFrame = options.maxFrame ?? wsDefaults.maxFrame;
    this.maxMessage = options.maxMessage ?? wsDefaults.maxMessage;
    this.closeTimeout = options.closeTimeout ?? 2000;
    const { idleTimeout, pingInterval, pongTimeout } = options;
    if (idleTimeout !== undefined || pingInterval !== undefined || pongTimeout !== undefined)
      this._x = {
        timing: {
          idleTimeout: idleTimeout ?? wsDefaults.idleTimeout,
          pingInterval: pingInterval ?? wsDefaults.pingInterval,
          pongTimeout: pongTimeout ?? wsDefaults.pongTimeout,
        },
      };
    if (!isByteLimit(this.maxMessage)) throw new SocketError("incorrectuse", "maxMessage must be a non-negative integer");
    if (!(this.idleTimeout >= 0 && this.pingInterval >= 0 && this.pongTimeout > 0))
      throw new SocketError("incorrectuse", "idleTimeout and pingInterval must be >= 0, pongTimeout > 0");
    this._parser = new FrameParser(new Sink(this), { role, maxFrame: this.maxFrame });
    if (this.idleTimeout > 0 || this.pingInterval > 0) {
      const now = sock.rt.host.now();
      this._active = now;
      this._f |= WATCHED;
      let shortest = this.idleTimeout > 0 ? this.idleTimeout : Infinity;
      if (this.pingInterval > 0) shortest = Math.min(shortest, this.pingInterval, this.pongTimeout);
      sock.rt.watchdog.watch(this, shortest);
    }
  }

  /**
   * WHATWG-style state: `OPEN` (1) from the handshake on (a `WebSocket` is made once it
   * succeeded, so `CONNECTING` is never seen), `CLOSING` (2) once a close frame was sent or
   * received or the connection failed, `CLOSED` (3) once the TCP connection is closed.
   */
  get readyState(): ReadyState {
    if (this.sock.closed) return CLOSED; // also when the socket was closed under us (shutdown, abort)
    return ((this._f & STATE_BITS) >> STATE_SHIFT) as ReadyState;
  }

  /** Moves `readyState` forward to `s` (never back). */
  _enter(s: ReadyState): void {
    if ((this._f & STATE_BITS) >> STATE_SHIFT < s) this._f = (this._f & ~STATE_BITS) | (s << STATE_SHIFT);
  }

  /** The peer's close code once its close frame arrived (1005 when it had none). */
  get closeCode(): number | undefined {
    return this._x?.closeCode;
  }

  /** The peer's close reason ("" until its close frame, or when it had none). */
  get closeReason(): string {
    return this._x?.closeReason ?? "";
  }

  /** Nothing received and no message sent for this long (ms) closes the connection (1001); 0: never. */
  get idleTimeout(): number {
    return (this._x?.timing ?? wsDefaults).idleTimeout;
  }

  /** Keepalive: a ping after this long (ms) without traffic (nothing received, no message sent); 0: off. */
  get pingInterval(): number {
    return (this._x?.timing ?? wsDefaults).pingInterval;
  }

  /** After a keepalive ping, a peer silent this long (ms) is dead (abort, 1006). */
  get pongTimeout(): number {
    return (this._x?.timing ?? wsDefaults).pongTimeout;
  }

  /** Keeps the first failure. */
  _fail(e: WebSocketError): void {
    const x = (this._x ??= {});
    x.failure ??= e;
    this._enter(CLOSING);
  }

  /** A client's masking key: 4 fresh random bytes from the host; none on a server. */
  _mask(): Uint8Array | undefined {
    if (this.role === "server") return undefined;
    const x = (this._x ??= {});
    let random = x.random;
    let at = x.randomAt ?? 0;
    if (random === undefined || at + 4 > random.length) {
      random = x.random = this.sock.rt.host.randomBytes(RANDOM_BATCH);
      at = 0;
    }
    x.randomAt = at + 4;
    return random.subarray(at, at + 4);
  }

  // the layers above
  /** Answers a ping (connection-write.ts). */
  abstract _pong(payload: Uint8Array): void;
  /** Fails the connection with a protocol error and its close code (connection-close.ts). */
  abstract _protocolError(wsCode: WsCode, code: number, reason: string): void;
  /** The peer's close frame arrived (connection-close.ts). */
  abstract _answerClose(code: number): void;
  /** The watchdog's check (connection-keepalive.ts). */
  abstract watchTick(now: number): boolean;
}
