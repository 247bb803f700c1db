/**
 * A WebSocket connection over a runtime `Socket`: the codec (frame parser and writer) joined to
 * the socket's reads and its flow-controlled writes. Reads deliver data as it trickles in, like
 * the seed (example 15); `readFrame` and `readMessage` assemble. Pings are answered; exactly one
 * close frame is sent per connection; after a protocol error the close frame with its code is
 * sent, then the connection is half-closed and drained.
 *
 * Why one file of ~750 lines: reading, writing, closing and keepalive share the connection's
 * `#private` state (the flag bits of `#f`, the rarely used `#x`), which modules cannot share; split
 * in layers like `src/socket/`, those fields would become `_name` properties first. Not done yet.
 */
import { SocketError, type SocketErrorCode } from "../errors.js";
import type { Socket, CoMode, ReadOutcome } from "../socket/socket.js";
import { toBytes, type Payload } from "../bytes.js";
import { FrameParser, type FramePiece, type FrameSink } from "./frame-parser.js";
import {
  encodeClose,
  encodeFrame,
  encodeFrameBytes,
  encodePing,
  encodePong,
  fragment,
  frameBytes,
  type EncodedFrame,
} from "./frame-writer.js";
import { OP_BINARY, OP_TEXT } from "./opcodes.js";
import { FrameAssembler, MessageAssembler, type Frame } from "./assemble.js";
import { CLOSE_ABNORMAL, CLOSE_GOING_AWAY, CLOSE_NO_STATUS, CLOSE_NORMAL } from "./close.js";
import { isByteLimit, wsDefaults, type WebSocketLimits } from "./limits.js";
import { CLOSED, CLOSING, CONNECTING, OPEN, type ReadyState, type WsCode } from "./codes.js";
import { RESOLVED_TRUE } from "../waiter.js";
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

const noop = (): void => undefined;

/** What a read returns: a piece as it arrives, a whole frame, or a whole message. */
const PIECE = 0;
const FRAME = 1;
const MESSAGE = 2;
type Want = typeof PIECE | typeof FRAME | typeof MESSAGE;

/** A whole message, as `readMessage` returns it. */
type Message = { data: Uint8Array; isText: boolean };
type ReadResult = FramePiece | Frame | Message;

/** Frames with payloads up to this size are joined with their header into one write. */
const JOIN_LIMIT = 4096;

/** A read that has no result yet: a socket read is in flight. */
const WAIT = 0;
// bits of WebSocket.#f
const CLOSE_SENT = 1;
const EOF = 2;
const INFLIGHT = 4; // a socket read is in flight (its outcome comes to readDone)
const PONG_BUSY = 8; // a pong is on its way out (a newer ping's payload waits in #x.pong)
const CLOSE_OUT = 16; // our close frame left (or there is none to send): close() may linger
const WATCHED = 32; // under the watchdog (idle timeout, keepalive)
const WANT_SHIFT = 6; // bits 6-7: what the waiting read wants (PIECE, FRAME or MESSAGE)
const WANT_BITS = 3 << WANT_SHIFT;
const STATE_SHIFT = 8; // bits 8-9: readyState (OPEN, CLOSING or CLOSED; it only moves forward)
const STATE_BITS = 3 << STATE_SHIFT;

const EMPTY = new Uint8Array(0);

/** What only some connections need, made on first use. */
interface Extra {
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
  pings?: Uint8Array[]; // pings the parser reported, answered when it returns (#Sink)
  pingAt?: number; // host time of the keepalive ping not answered yet
  timing?: Timing; // idle timeout and keepalive when options set them (else wsDefaults)
  closeCode?: number; // the peer's close frame (kept here: most connections never see one while idle)
  closeReason?: string;
}

/** A connection: per connection on the device, so it follows the XS memory rules (docs/contributing.md). */
export class WebSocket implements Watched {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  readonly sock: Socket;
  readonly role: "server" | "client";
  /** The subprotocol agreed in the handshake ("" if none). */
  readonly protocol: string;
  readonly maxFrame: number;
  readonly maxMessage: number;
  readonly closeTimeout: number;
  /** The peer's close code once its close frame arrived (1005 when it had none). */
  get closeCode(): number | undefined {
    return this.#x?.closeCode;
  }
  /** The peer's close reason ("" until its close frame, or when it had none). */
  get closeReason(): string {
    return this.#x?.closeReason ?? "";
  }

  // Per-connection memory matters on the device (docs/device.md, "Memory"): every field is a
  // 16-byte slot on XS, and so is every `#private` method (XS installs those on each instance),
  // so the internal methods are TypeScript-private prototype methods (`_name`), the booleans are
  // bits of `#f`, and what only some connections need is in `#x`, made on first use.
  #parser: FrameParser;
  #f = OPEN << STATE_SHIFT;
  #pieces: Queue<FramePiece> | undefined;
  #messages: MessageAssembler | undefined;
  #x: Extra | undefined;
  // the waiting read (`read`, `readFrame`, `readMessage`)
  #resume: ((value: ReadResult | null | PromiseLike<never>) => void) | undefined;
  #timeout: number | undefined;
  #deadline: number | undefined;
  #active = 0; // host time of the last traffic: bytes from the peer or a message sent (watched only)

  /**
   * The parser's sink: one small object per connection whose methods are shared, rather than an
   * object of five arrow functions (about 1 KB per connection on 32-bit XS).
   */
  static #Sink = class implements FrameSink {
    readonly ws: WebSocket;
    constructor(ws: WebSocket) {
      this.ws = ws;
    }
    onData(piece: FramePiece): void {
      (this.ws.#pieces ??= new Queue()).push(piece);
    }
    // A ping, a close frame and an error are answered by _absorb once the parser has returned,
    // in the order they came (a ping's pong first; a close frame or an error is the last thing
    // the parser reports): answers are writes, and on top of the parser's frames they do not fit
    // the device's 384-slot stack (docs/device.md, "As strict as the device").
    onPing(payload: Uint8Array): void {
      ((this.ws.#x ??= {}).pings ??= []).push(payload.slice());
    }
    onPong(): void {
      const ws = this.ws;
      const x = ws.#x;
      const waiters = x?.pongWaiters;
      if (x) x.pongWaiters = undefined;
      if (waiters) for (const w of waiters) w();
    }
    onClose(code: number, reason: string): void {
      const x = (this.ws.#x ??= {});
      x.closeCode = code;
      x.closeReason = reason;
      this.ws._enter(CLOSING);
    }
    onError(): void {} // the parser keeps it (`error`)
  };

  constructor(sock: Socket, role: "server" | "client", protocol = "", options: WebSocketOptions = {}) {
    this.sock = sock;
    this.role = role;
    this.protocol = protocol;
    this.maxFrame = options.maxFrame ?? wsDefaults.maxFrame;
    this.maxMessage = options.maxMessage ?? wsDefaults.maxMessage;
    this.closeTimeout = options.closeTimeout ?? 2000;
    const { idleTimeout, pingInterval, pongTimeout } = options;
    if (idleTimeout !== undefined || pingInterval !== undefined || pongTimeout !== undefined)
      this.#x = {
        timing: {
          idleTimeout: idleTimeout ?? wsDefaults.idleTimeout,
          pingInterval: pingInterval ?? wsDefaults.pingInterval,
          pongTimeout: pongTimeout ?? wsDefaults.pongTimeout,
        },
      };
    if (!isByteLimit(this.maxMessage)) throw new SocketError("incorrectuse", "maxMessage must be a non-negative integer");
    if (!(this.idleTimeout >= 0 && this.pingInterval >= 0 && this.pongTimeout > 0))
      throw new SocketError("incorrectuse", "idleTimeout and pingInterval must be >= 0, pongTimeout > 0");
    this.#parser = new FrameParser(new WebSocket.#Sink(this), { role, maxFrame: this.maxFrame });
    if (this.idleTimeout > 0 || this.pingInterval > 0) {
      const now = sock.rt.host.now();
      this.#active = now;
      this.#f |= WATCHED;
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
    return ((this.#f & STATE_BITS) >> STATE_SHIFT) as ReadyState;
  }

  /** Moves `readyState` forward to `s` (never back). */
  private _enter(s: ReadyState): void {
    if ((this.#f & STATE_BITS) >> STATE_SHIFT < s) this.#f = (this.#f & ~STATE_BITS) | (s << STATE_SHIFT);
  }

  // ------------------------------------------------------------------ reading
  //
  // No async functions and no promise per chunk: the socket hands each chunk to `readDone` (the
  // WebSocket is its `ReadConsumer`), and a waiting reader costs one promise and its resolve
  // function. (On 32-bit XS an `async` function suspended in `await` costs about 1 KB, a `then`
  // about 400 B plus its functions.)

  /**
   * The next piece of a data frame as it arrives: `{ data, isText, fin, bytesRead, frameLen }`
   * (a frame is complete when `bytesRead === frameLen`; a message when also `fin`). Null after
   * the peer's close frame (see `closeCode`). Throws `timeout` (the connection stays usable) or a
   * `WebSocketError` after a protocol error or a dropped connection.
   */
  read(timeout?: number): Promise<FramePiece | null> {
    return this._next(PIECE, timeout) as Promise<FramePiece | null>;
  }

  /**
   * The loop of `read`, `readFrame` and `readMessage`: takes the pieces the parser delivered and
   * hands each to `what` until it makes a result; with none left, waits for the socket. Each
   * wait gets the whole `timeout`, counted from the last piece taken.
   */
  private _next(what: Want, timeout: number | undefined): Promise<ReadResult | null> {
    if (this.#resume) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this WebSocket"));
    this.#f = (this.#f & ~WANT_BITS) | (what << WANT_SHIFT);
    this.#timeout = timeout;
    this.#deadline = timeout === undefined ? undefined : this.sock.rt.host.now() + timeout;
    let r: ReadResult | null | typeof WAIT;
    try {
      r = this._step();
    } catch (e) {
      return Promise.reject(e);
    }
    if (r !== WAIT) return Promise.resolve(r);
    return new Promise<ReadResult | null>((resolve) => (this.#resume = resolve));
  }

  /** Makes progress on the waiting read: its result, or WAIT (a socket read is in flight). */
  private _step(): ReadResult | null | typeof WAIT {
    for (;;) {
      const p = this.#pieces?.shift();
      if (p) {
        const r = this._take(((this.#f & WANT_BITS) >> WANT_SHIFT) as Want, p);
        if (r !== undefined) return r;
        if (this.#timeout !== undefined) this.#deadline = this.sock.rt.host.now() + this.#timeout;
        continue;
      }
      const failure = this.#x?.failure;
      if (failure) throw failure;
      if (this.closeCode !== undefined || this.#f & EOF) return null;
      const left = this.#deadline === undefined ? undefined : this.#deadline - this.sock.rt.host.now();
      if (left !== undefined && left <= 0) throw new SocketError("timeout");
      if (!this._fill(left)) return WAIT;
    }
  }

  /** A piece for `read`, or the frame or message it completes (undefined: not yet). */
  private _take(what: Want, p: FramePiece): ReadResult | undefined {
    if (what === PIECE) return p;
    if (what === FRAME) return ((this.#x ??= {}).frames ??= new FrameAssembler()).push(p);
    const r = (this.#messages ??= new MessageAssembler(this.maxMessage)).push(p);
    if (!r) return undefined;
    if (r.ok) return { data: r.data, isText: r.isText };
    this._protocolError(r.wsCode, r.code, r.reason);
    throw this.#x!.failure!;
  }

  /**
   * Reads from the socket into the parser: true if something was read now, false if a read is
   * in flight (its outcome comes to `readDone`). One socket read at a time, shared by the user's
   * read, `ping` and the closing handshake.
   */
  private _fill(timeout: number | undefined): boolean {
    if (this.#f & INFLIGHT) return false;
    const outcome = this.sock.readInto(this, timeout);
    if (outcome === undefined) {
      this.#f |= INFLIGHT;
      return false;
    }
    this._absorb(outcome);
    return true;
  }

  /** @internal The socket read's outcome (`ReadConsumer`). */
  readDone(outcome: ReadOutcome): void {
    this.#f &= ~INFLIGHT;
    this._absorb(outcome);
    this._wakePullers();
    const resume = this.#resume;
    if (!resume) return;
    let r: ReadResult | null | typeof WAIT;
    try {
      r = this._step();
    } catch (e) {
      this.#resume = undefined;
      resume(Promise.reject(e));
      return;
    }
    if (r === WAIT) return;
    this.#resume = undefined;
    resume(r);
  }

  /** Takes in what one socket read gave. */
  private _absorb(outcome: ReadOutcome): void {
    if (outcome === null) {
      this.#f |= EOF;
      if (this.closeCode === undefined && !(this.#f & CLOSE_SENT))
        this._fail(new WebSocketError("abnormalclosure", CLOSE_ABNORMAL, "connection closed without a close frame"));
      return;
    }
    if (outcome instanceof SocketError) {
      if (outcome.code === "timeout") return; // the waiting reader's deadline decides
      if (outcome.code === "socketclosed" && this.#f & CLOSE_SENT) {
        this.#f |= EOF;
        return;
      }
      this._fail(new WebSocketError("abnormalclosure", CLOSE_ABNORMAL, `connection failed (${outcome.message})`));
      return;
    }
    if (this.#f & WATCHED) {
      this.#active = this.sock.rt.host.now();
      const x = this.#x;
      if (x?.pingAt !== undefined) x.pingAt = undefined; // anything from the peer answers a keepalive ping
    }
    const parser = this.#parser;
    if (parser.done) return;
    parser.push(outcome);
    // what the parser reported that needs an answer (see #Sink)
    const x = this.#x;
    const pings = x?.pings;
    if (pings) {
      x!.pings = undefined;
      for (const p of pings) this._pong(p);
    }
    if (parser.done) {
      const error = parser.error;
      if (error) this._protocolError(error.wsCode, error.code, error.reason);
      else if (this.closeCode !== undefined) this._answerClose(this.closeCode);
    }
  }

  /** Keeps the first failure. */
  private _fail(e: WebSocketError): void {
    const x = (this.#x ??= {});
    x.failure ??= e;
    this._enter(CLOSING);
  }

  /**
   * Waits for one socket read (for `ping` and the closing handshake, which read on the
   * connection's behalf): resolves after the next outcome, whoever started the read.
   */
  private _pull(timeout: number | undefined): Promise<void> {
    const p = new Promise<void>((resolve) => ((this.#x ??= {}).pullers ??= []).push(resolve));
    if (this._fill(timeout)) this._wakePullers();
    return p;
  }

  private _wakePullers(): void {
    const x = this.#x;
    const waiting = x?.pullers;
    if (!waiting) return;
    x.pullers = undefined;
    for (const w of waiting) w();
  }

  /** The next whole frame (`{ data, isText, fin, opcode }`), or null after the peer's close. */
  readFrame(timeout?: number): Promise<Frame | null> {
    return this._next(FRAME, timeout) as Promise<Frame | null>;
  }

  /**
   * The next whole message (`{ data, isText }`), at most `maxMessage` bytes; a larger one closes
   * the connection with 1009 and throws. Null after the peer's close.
   */
  readMessage(timeout?: number): Promise<{ data: Uint8Array; isText: boolean } | null> {
    return this._next(MESSAGE, timeout) as Promise<Message | null>;
  }

  // ------------------------------------------------------------------ writing

  /**
   * Sends a message: text when `isText` (strings default to text), else binary. A message over
   * `maxFrame` is fragmented. Suspends under the socket's flow control.
   */
  write(data: Payload, isText: boolean = typeof data === "string"): Promise<true> {
    if (this.#f & CLOSE_SENT || this.#x?.failure) return Promise.reject(this._closedError());
    if (this.#f & WATCHED) this.#active = this.sock.rt.host.now();
    const bytes = toBytes(data);
    if (bytes.length <= this.maxFrame) {
      // one frame: header and payload go into the queue together, nothing can come between
      const opcode = isText ? OP_TEXT : OP_BINARY;
      if (bytes.length <= JOIN_LIMIT) return this.sock.write(encodeFrameBytes(opcode, true, bytes, this._mask()));
      return this._sendFrame(encodeFrame({ opcode, payload: bytes, mask: this._mask() }));
    }
    // several frames: no other message may interleave (control frames may)
    const x = (this.#x ??= {});
    const done = (x.writeLock ?? Promise.resolve()).then(async () => {
      for (const spec of fragment(bytes, isText, this.maxFrame)) {
        spec.mask = this._mask();
        await this._sendFrame(encodeFrame(spec));
      }
      return true as const;
    });
    x.writeLock = done.catch(() => undefined);
    return done;
  }

  /**
   * Sends a message without ever suspending: true when queued, or the socket's queued byte count
   * when its queue is full (nothing is taken). The message's frames go into the queue together
   * (joined: one copy), so nothing can come between them.
   */
  trywrite(data: Payload, isText: boolean = typeof data === "string"): true | number {
    if (this.#f & CLOSE_SENT || this.#x?.failure) throw this._closedError();
    const sock = this.sock;
    if (sock.queued > 0 && sock.queued >= sock.queuelen()) return sock.queued;
    if (this.#f & WATCHED) this.#active = sock.rt.host.now();
    const bytes = toBytes(data);
    const frames: Uint8Array[] = [];
    let total = 0;
    for (const spec of fragment(bytes, isText, this.maxFrame)) {
      const f = encodeFrame({ ...spec, mask: this._mask() });
      frames.push(f.header, f.payload);
      total += f.header.length + f.payload.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    return sock.trywrite(all);
  }

  /**
   * Sends a ping; resolves when a pong comes back, throws `timeout` after `timeout` ms. While it
   * waits it reads on behalf of the connection, so the caller may be the only reader (data
   * that arrives meanwhile stays queued for `read`).
   */
  async ping(data: Payload = new Uint8Array(0), timeout = this.closeTimeout): Promise<void> {
    let ponged = false;
    const onPong = () => (ponged = true);
    ((this.#x ??= {}).pongWaiters ??= []).push(onPong);
    try {
      await this._sendFrame(encodePing(toBytes(data), this._mask()));
      const end = this.sock.rt.host.now() + timeout;
      while (!ponged) {
        const failure = this.#x?.failure;
        if (failure) throw failure;
        if (this.closeCode !== undefined || this.#f & EOF) throw new SocketError("socketclosed", "closed before the pong");
        const left = end - this.sock.rt.host.now();
        if (left <= 0) throw new SocketError("timeout", "no pong");
        await this._pull(left);
      }
    } finally {
      const waiters = this.#x?.pongWaiters;
      const i = waiters ? waiters.indexOf(onPong) : -1;
      if (i >= 0) waiters!.splice(i, 1);
    }
  }

  /** Why a write cannot go out: the failure, or the close frame that was sent. */
  private _closedError(): WebSocketError {
    const x = this.#x;
    if (x?.failure) return x.failure;
    // RFC 6455 §5.5.1: after sending a close frame, an endpoint sends no more data
    const code = this.closeCode ?? x?.sentCode ?? CLOSE_NO_STATUS;
    return new WebSocketError("closed", code, "the WebSocket is closing", "socketwritefailed");
  }

  private _sendFrame(frame: EncodedFrame): Promise<true> {
    const { header, payload } = frame;
    // A small frame goes out as one write (one host write, one TCP segment): joining costs less
    // than a second write. A masked frame is already one buffer; a large payload is not copied.
    if (payload.length <= JOIN_LIMIT || (header.buffer === payload.buffer && header.byteOffset + header.length === payload.byteOffset))
      return this.sock.write(frameBytes(frame));
    return this.sock.writeParts(header, payload); // one writer: nothing comes between them
  }

  /**
   * Answers a ping. One pong at a time is on its way out: pings that arrive meanwhile only
   * replace the payload waiting to be answered (RFC 6455 5.5.3 allows answering the most recent
   * ping only), so a peer that pings and never reads costs one pong, not one per ping.
   */
  private _pong(payload: Uint8Array): void {
    if (this.#f & CLOSE_SENT || this.sock.closed) return;
    if (this.#f & PONG_BUSY) {
      (this.#x ??= {}).pong = payload;
      return;
    }
    const p = this._sendFrame(encodePong(payload, this._mask()));
    if (p === RESOLVED_TRUE) return; // accepted at once (sent, or queued below suspendAt)
    this.#f |= PONG_BUSY;
    const sent = () => {
      this.#f &= ~PONG_BUSY;
      const x = this.#x;
      const next = x?.pong;
      if (next) {
        x!.pong = undefined;
        this._pong(next);
      }
    };
    p.then(sent, sent);
  }

  /** A client's masking key: 4 fresh random bytes from the host; none on a server. */
  private _mask(): Uint8Array | undefined {
    if (this.role === "server") return undefined;
    const x = (this.#x ??= {});
    let random = x.random;
    let at = x.randomAt ?? 0;
    if (random === undefined || at + 4 > random.length) {
      random = x.random = this.sock.rt.host.randomBytes(RANDOM_BATCH);
      at = 0;
    }
    x.randomAt = at + 4;
    return random.subarray(at, at + 4);
  }

  // ------------------------------------------------------------------ closing

  /**
   * Starts or completes the close handshake: sends one close frame (default 1000), waits up to
   * `closeTimeout` for the peer's close, then closes the TCP connection. True the first time.
   */
  close(code: number = CLOSE_NORMAL, reason = ""): Promise<boolean> {
    if (this.#f & CLOSE_SENT) return (this.#x?.closing ?? Promise.resolve()).then(() => false);
    this._sendClose(code, reason);
    const closing = ((this.#x ??= {}).closing = this._finish(this.closeCode !== undefined));
    return closing.then(() => true);
  }

  private _sendClose(code: number | undefined, reason = ""): void {
    if (this.#f & CLOSE_SENT) return;
    this.#f |= CLOSE_SENT;
    this._enter(CLOSING);
    (this.#x ??= {}).sentCode = code ?? CLOSE_NO_STATUS;
    if (this.sock.closed || this.#x?.failure?.closeCode === CLOSE_ABNORMAL) {
      this.#f |= CLOSE_OUT; // nobody to tell
      return;
    }
    const p = this._sendFrame(encodeClose(code, reason, this._mask()));
    if (p === RESOLVED_TRUE)
      this.#f |= CLOSE_OUT; // accepted at once
    else p.then(() => (this.#f |= CLOSE_OUT), noop);
  }

  /** The peer's close frame arrived: answer it (once) and end the connection. */
  private _answerClose(code: number): void {
    if (this.#f & CLOSE_SENT) return;
    this._sendClose(code === CLOSE_NO_STATUS ? undefined : code); // echo the peer's code
    (this.#x ??= {}).closing = this._finishSoon(true);
  }

  private _protocolError(wsCode: WsCode, code: number, reason: string): void {
    if (this.#x?.failure) return;
    this._fail(new WebSocketError(wsCode, code, reason));
    const wasSent = this.#f & CLOSE_SENT;
    this._sendClose(code, reason.length <= 123 ? reason : "");
    if (!wasSent) this.#x!.closing = this._finishSoon(false);
  }

  /**
   * `_finish` from a promise job of its own: the answer to a close frame and a protocol error come
   * from deep in the readiness chain (host, dispatcher, socket, parser), and `_finish` goes on
   * down to a socket read and its timer before it first waits; on XS the device's stack is 384
   * slots (docs/device.md, "As strict as the device"). The job is queued before the waiting
   * reader is resumed, so it runs first, as the synchronous start did.
   */
  private _finishSoon(peerClosed: boolean): Promise<void> {
    return Promise.resolve(peerClosed).then((p) => this._finish(p));
  }

  /**
   * After our close frame: half-close (the close frame is flushed first) and read until the peer
   * closes, discarding data, for at most `closeTimeout`; then close the socket.
   */
  private async _finish(peerClosed: boolean): Promise<void> {
    const sock = this.sock;
    this._unwatch();
    if (sock.closed) return this._enter(CLOSED);
    const end = sock.rt.host.now() + this.closeTimeout;
    if (this.role === "server" || peerClosed || this.#x?.failure) sock.shutdown();
    // The wait is bounded even when a read without a timeout is in flight: this timer ends it.
    const stop = sock.rt.dispatcher.timer(this.closeTimeout, () => this._wakePullers());
    // wait for the peer's close frame (unless we have it) and then its TCP close
    while (!(this.#f & EOF) && !sock.closed && this.#x?.failure?.closeCode !== CLOSE_ABNORMAL) {
      const left = end - sock.rt.host.now();
      if (left <= 0) break;
      if (this.closeCode !== undefined && this.role === "client") sock.shutdown();
      await this._pull(left);
    }
    stop();
    // a close frame still stuck behind a full queue (a peer that does not read): abort
    if (this.#f & CLOSE_OUT) sock.close();
    else sock.abort();
    this._enter(CLOSED);
  }

  // ------------------------------------------------------------------ idle timeout and keepalive

  /** Nothing received and no message sent for this long (ms) closes the connection (1001); 0: never. */
  get idleTimeout(): number {
    return (this.#x?.timing ?? wsDefaults).idleTimeout;
  }

  /** Keepalive: a ping after this long (ms) without traffic (nothing received, no message sent); 0: off. */
  get pingInterval(): number {
    return (this.#x?.timing ?? wsDefaults).pingInterval;
  }

  /** After a keepalive ping, a peer silent this long (ms) is dead (abort, 1006). */
  get pongTimeout(): number {
    return (this.#x?.timing ?? wsDefaults).pongTimeout;
  }

  /** @internal The watchdog's check (watchdog.ts): false when the connection leaves the watch. */
  watchTick(now: number): boolean {
    if (!(this.#f & WATCHED)) return false;
    if (!(this.#f & INFLIGHT)) {
      // bytes that wait in the socket are traffic too: take them in, unless the reader has
      // not taken what it was given (then the silence is the application's, not the peer's)
      if (this.#pieces?.length) this.#active = now;
      else if (!this.sock.closed && this._fill(undefined)) this._wakePullers();
    }
    const x = this.#x;
    if (this.sock.closed || this.#f & (CLOSE_SENT | EOF) || x?.failure || this.closeCode !== undefined) {
      this.#f &= ~WATCHED;
      return false; // closing: the closing handshake has its own bound
    }
    const pingAt = x?.pingAt;
    if (pingAt !== undefined && now - pingAt >= this.pongTimeout) {
      this._dead();
      return false;
    }
    const quiet = now - this.#active;
    if (this.idleTimeout > 0 && quiet >= this.idleTimeout) {
      const why = `nothing received or sent for ${this.idleTimeout} ms (idleTimeout)`;
      this._fail(new WebSocketError("idletimeout", CLOSE_GOING_AWAY, why));
      this._sendClose(CLOSE_GOING_AWAY, "idle");
      this.#x!.closing = this._finish(false);
      return false;
    }
    if (this.pingInterval > 0 && pingAt === undefined && quiet >= this.pingInterval) {
      (this.#x ??= {}).pingAt = now;
      this._sendFrame(encodePing(EMPTY, this._mask())).catch(noop);
    }
    return true;
  }

  /** The peer did not answer a keepalive ping: it is gone. Abort; reads fail with 1006. */
  private _dead(): void {
    this._unwatch();
    const why = `no answer to a keepalive ping within ${this.pongTimeout} ms (pongTimeout)`;
    this._fail(new WebSocketError("pongtimeout", CLOSE_ABNORMAL, why));
    this.#f |= CLOSE_SENT | CLOSE_OUT;
    this.#x!.closing = Promise.resolve();
    this.sock.abort();
    this._enter(CLOSED);
  }

  private _unwatch(): void {
    if (!(this.#f & WATCHED)) return;
    this.#f &= ~WATCHED;
    this.sock.rt.watchdog.unwatch(this);
  }

  // ------------------------------------------------------------------ coroutines and information

  /**
   * Runs `fn(ws, ...args)` as the connection's coroutine ("s" cosocket by default for a
   * WebSocket). When it returns, the close handshake is done (1000) if nobody closed yet.
   */
  event<A extends unknown[]>(fn: (ws: WebSocket, ...args: A) => unknown, mode: CoMode = "s", ...args: A): this {
    // The socket runs the coroutine for this WebSocket and calls coroutineEnded() at its end: one
    // reaction on fn's promise in all (a wrapper would cost a closure and a second reaction).
    this.sock.eventFor(this, fn as (ws: WebSocket, ...args: unknown[]) => unknown, mode, args);
    return this;
  }

  /** @internal The coroutine started by `event` ended: the close handshake (1000) unless closed already. */
  coroutineEnded(): void {
    this.close().then(noop, noop);
  }

  /** The peer's close frame arrived or ours was sent. */
  get closing(): boolean {
    return (this.#f & CLOSE_SENT) !== 0 || this.closeCode !== undefined;
  }

  get closed(): boolean {
    return this.sock.closed;
  }

  peername() {
    return this.sock.peername();
  }

  sockname() {
    return this.sock.sockname();
  }

  state() {
    return this.sock.state();
  }
}
