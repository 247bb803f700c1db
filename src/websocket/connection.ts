/**
 * A WebSocket connection over a runtime `Socket`: the codec (frame parser and writer) joined to
 * the socket's reads and its flow-controlled writes. Reads deliver data as it trickles in, like
 * the seed (example 15); `readFrame` and `readMessage` assemble. Pings are answered; exactly one
 * close frame is sent per connection; after a protocol error the close frame with its code is
 * sent, then the connection is half-closed and drained.
 */
import { SocketError } from "../errors.js";
import type { Socket, CoMode } from "../socket.js";
import { toBytes, type Payload } from "../bytes.js";
import { FrameParser, type FramePiece, type FrameSink } from "./frame-parser.js";
import { encodeClose, encodeFrame, encodePing, encodePong, fragment, frameBytes, type EncodedFrame } from "./frame-writer.js";
import { FrameAssembler, MessageAssembler, type Frame } from "./assemble.js";
import { CLOSE_ABNORMAL, CLOSE_NO_STATUS, CLOSE_NORMAL } from "./close.js";
import { wsDefaults } from "./limits.js";

export interface WebSocketOptions {
  /** Largest frame accepted and the size messages are cut to when sent (inclusive); default 65536. */
  maxFrame?: number;
  /** Largest message `readMessage` assembles (inclusive); default 65536. */
  maxMessage?: number;
  /** How long `close()` waits for the peer's close frame and TCP close; default 2000 ms. */
  closeTimeout?: number;
}

/** A protocol failure: `closeCode` is the close code sent (or 1006 when the connection dropped). */
export class WebSocketError extends SocketError {
  readonly closeCode: number;
  constructor(closeCode: number, detail: string) {
    super("socketreadfailed", `websocket ${closeCode}: ${detail}`);
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

export class WebSocket {
  readonly sock: Socket;
  readonly role: "server" | "client";
  /** The subprotocol agreed in the handshake ("" if none). */
  readonly protocol: string;
  readonly maxFrame: number;
  readonly maxMessage: number;
  readonly closeTimeout: number;
  /** The peer's close code and reason once its close frame arrived (1005 when it had none). */
  closeCode: number | undefined;
  closeReason = "";

  #parser: FrameParser;
  #pieces: FramePiece[] = [];
  #head = 0;
  #failure: WebSocketError | undefined;
  #closeSent = false;
  #closing: Promise<void> | undefined;
  // made on first use: readFrame, a client's first mask, a fragmented send, a ping
  #frames: FrameAssembler | undefined;
  #messages: MessageAssembler;
  #random: Uint8Array | undefined;
  #randomAt = 0;
  #writeLock: Promise<unknown> | undefined;
  #pongWaiters: (() => void)[] | undefined;

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
      this.ws.#pieces.push(piece);
    }
    onPing(payload: Uint8Array): void {
      const ws = this.ws;
      ws.#sendControl(encodePong(payload.slice(), ws.#mask()));
    }
    onPong(): void {
      const ws = this.ws;
      const waiters = ws.#pongWaiters;
      ws.#pongWaiters = undefined;
      if (waiters) for (const w of waiters) w();
    }
    onClose(code: number, reason: string): void {
      const ws = this.ws;
      ws.closeCode = code;
      ws.closeReason = reason;
      ws.#answerClose(code);
    }
    onError(code: number, reason: string): void {
      this.ws.#protocolError(code, reason);
    }
  };

  constructor(sock: Socket, role: "server" | "client", protocol = "", options: WebSocketOptions = {}) {
    this.sock = sock;
    this.role = role;
    this.protocol = protocol;
    this.maxFrame = options.maxFrame ?? wsDefaults.maxFrame;
    this.maxMessage = options.maxMessage ?? wsDefaults.maxMessage;
    this.closeTimeout = options.closeTimeout ?? 2000;
    this.#messages = new MessageAssembler(this.maxMessage);
    this.#parser = new FrameParser(new WebSocket.#Sink(this), { role, maxFrame: this.maxFrame });
  }

  // ------------------------------------------------------------------ reading

  /**
   * The next piece of a data frame as it arrives: `{ data, isText, fin, bytesRead, frameLen }`
   * (a frame is complete when `bytesRead === frameLen`; a message when also `fin`). Null after
   * the peer's close frame (see `closeCode`). Throws `timeout` (the connection stays usable) or a
   * `WebSocketError` after a protocol error or a dropped connection.
   */
  read(timeout?: number): Promise<FramePiece | null> {
    return this.#next(PIECE, timeout) as Promise<FramePiece | null>;
  }

  /**
   * The loop of `read`, `readFrame` and `readMessage`: takes the pieces the parser delivered and
   * hands each to `what` until it makes a result; with none left, waits for one socket read and
   * goes on. Each wait gets the whole `timeout`, counted from the last piece taken. No async
   * functions: a waiting reader costs one pending reaction, where an async function suspended
   * in `await` costs about 1.2 KB on 32-bit XS (and readMessage over read would hold two).
   */
  #next(what: Want, timeout: number | undefined): Promise<ReadResult | null> {
    try {
      return Promise.resolve(this.#step(what, timeout, timeout === undefined ? undefined : this.sock.rt.host.now() + timeout));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #step(what: Want, timeout: number | undefined, deadline: number | undefined): ReadResult | null | Promise<ReadResult | null> {
    for (;;) {
      if (this.#head < this.#pieces.length) {
        const p = this.#pieces[this.#head++];
        if (this.#head === this.#pieces.length) {
          this.#pieces.length = 0;
          this.#head = 0;
        }
        const r = this.#take(what, p);
        if (r !== undefined) return r;
        if (timeout !== undefined) deadline = this.sock.rt.host.now() + timeout;
        continue;
      }
      if (this.#failure) throw this.#failure;
      if (this.closeCode !== undefined || this.#eof) return null;
      const left = deadline === undefined ? undefined : deadline - this.sock.rt.host.now();
      if (left !== undefined && left <= 0) throw new SocketError("timeout");
      return this.#pull(left).then(() => this.#step(what, timeout, deadline));
    }
  }

  /** A piece for `read`, or the frame or message it completes (undefined: not yet). */
  #take(what: Want, p: FramePiece): ReadResult | undefined {
    if (what === PIECE) return p;
    if (what === FRAME) return (this.#frames ??= new FrameAssembler()).push(p);
    const r = this.#messages.push(p);
    if (!r) return undefined;
    if (r.ok) return { data: r.data, isText: r.isText };
    this.#protocolError(r.code, r.reason);
    throw this.#failure!;
  }

  #inflight: Promise<void> | undefined;
  #eof = false;

  /**
   * Reads one chunk from the socket into the parser. The user's reads and the closing handshake
   * share one read at a time; a waiter that did not start it just waits for it to finish.
   */
  #pull(timeout: number | undefined): Promise<void> {
    if (this.#inflight) return this.#inflight;
    // no async frames here: one read and one reaction per chunk (this is the per-message path)
    const run = this.sock.read(timeout).then(this.#onChunk, this.#onReadError);
    this.#inflight = run;
    return run;
  }

  #onChunk = (chunk: Uint8Array | null): void => {
    this.#inflight = undefined;
    if (chunk === null) {
      this.#eof = true;
      if (this.closeCode === undefined && !this.#closeSent)
        this.#failure ??= new WebSocketError(CLOSE_ABNORMAL, "connection closed without a close frame");
      return;
    }
    if (!this.#parser.done) this.#parser.push(chunk);
  };

  #onReadError = (e: unknown): void => {
    this.#inflight = undefined;
    if (e instanceof SocketError && e.code === "timeout") return;
    if (e instanceof SocketError && e.code === "socketclosed" && this.#closeSent) {
      this.#eof = true;
      return;
    }
    this.#failure ??= new WebSocketError(CLOSE_ABNORMAL, `connection failed (${(e as Error).message})`);
  };

  /** The next whole frame (`{ data, isText, fin, opcode }`), or null after the peer's close. */
  readFrame(timeout?: number): Promise<Frame | null> {
    return this.#next(FRAME, timeout) as Promise<Frame | null>;
  }

  /**
   * The next whole message (`{ data, isText }`), at most `maxMessage` bytes; a larger one closes
   * the connection with 1009 and throws. Null after the peer's close.
   */
  readMessage(timeout?: number): Promise<{ data: Uint8Array; isText: boolean } | null> {
    return this.#next(MESSAGE, timeout) as Promise<Message | null>;
  }

  // ------------------------------------------------------------------ writing

  /**
   * Sends a message: text when `isText` (strings default to text), else binary. A message over
   * `maxFrame` is fragmented. Suspends under the socket's flow control.
   */
  write(data: Payload, isText: boolean = typeof data === "string"): Promise<true> {
    if (this.#closeSent || this.#failure)
      return Promise.reject(this.#failure ?? new SocketError("socketwritefailed", "the WebSocket is closing"));
    const bytes = toBytes(data);
    if (bytes.length <= this.maxFrame) {
      // one frame: header and payload go into the queue together, nothing can come between
      return this.#sendFrame(encodeFrame({ opcode: isText ? 1 : 2, payload: bytes, mask: this.#mask() }));
    }
    // several frames: no other message may interleave (control frames may)
    const done = (this.#writeLock ?? Promise.resolve()).then(async () => {
      for (const spec of fragment(bytes, isText, this.maxFrame)) {
        spec.mask = this.#mask();
        await this.#sendFrame(encodeFrame(spec));
      }
      return true as const;
    });
    this.#writeLock = done.catch(() => undefined);
    return done;
  }

  /**
   * Sends a message without ever suspending: true when queued, or the socket's queued byte count
   * when its queue is full (nothing is taken). The message's frames go into the queue together
   * (joined: one copy), so nothing can come between them.
   */
  trywrite(data: Payload, isText: boolean = typeof data === "string"): true | number {
    if (this.#closeSent || this.#failure) throw this.#failure ?? new SocketError("socketwritefailed", "the WebSocket is closing");
    const sock = this.sock;
    if (sock.queued > 0 && sock.queued >= sock.queuelen()) return sock.queued;
    const bytes = toBytes(data);
    const frames: Uint8Array[] = [];
    let total = 0;
    for (const spec of fragment(bytes, isText, this.maxFrame)) {
      const f = encodeFrame({ ...spec, mask: this.#mask() });
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
    (this.#pongWaiters ??= []).push(onPong);
    try {
      await this.#sendFrame(encodePing(toBytes(data), this.#mask()));
      const end = this.sock.rt.host.now() + timeout;
      while (!ponged) {
        if (this.#failure) throw this.#failure;
        if (this.closeCode !== undefined || this.#eof) throw new SocketError("socketclosed", "closed before the pong");
        const left = end - this.sock.rt.host.now();
        if (left <= 0) throw new SocketError("timeout", "no pong");
        await this.#pull(left);
      }
    } finally {
      const waiters = this.#pongWaiters;
      const i = waiters ? waiters.indexOf(onPong) : -1;
      if (i >= 0) waiters!.splice(i, 1);
    }
  }

  #sendFrame(frame: EncodedFrame): Promise<true> {
    const { header, payload } = frame;
    // A small frame goes out as one write (one host write, one TCP segment): joining costs less
    // than a second write. A masked frame is already one buffer; a large payload is not copied.
    if (payload.length <= JOIN_LIMIT || (header.buffer === payload.buffer && header.byteOffset + header.length === payload.byteOffset))
      return this.sock.write(frameBytes(frame));
    this.sock.write(header).catch(() => undefined);
    return this.sock.write(payload);
  }

  #sendControl(frame: EncodedFrame): void {
    if (this.#closeSent || this.sock.closed) return;
    this.#sendFrame(frame).catch(() => undefined);
  }

  /** A client's masking key: 4 fresh random bytes from the host; none on a server. */
  #mask(): Uint8Array | undefined {
    if (this.role === "server") return undefined;
    let random = this.#random;
    if (random === undefined || this.#randomAt + 4 > random.length) {
      random = this.#random = this.sock.rt.host.randomBytes(RANDOM_BATCH);
      this.#randomAt = 0;
    }
    const key = random.subarray(this.#randomAt, this.#randomAt + 4);
    this.#randomAt += 4;
    return key;
  }

  // ------------------------------------------------------------------ closing

  /**
   * Starts or completes the close handshake: sends one close frame (default 1000), waits up to
   * `closeTimeout` for the peer's close, then closes the TCP connection. True the first time.
   */
  close(code: number = CLOSE_NORMAL, reason = ""): Promise<boolean> {
    if (this.#closeSent) return (this.#closing ?? Promise.resolve()).then(() => false);
    this.#sendClose(code, reason);
    this.#closing = this.#finish(this.closeCode !== undefined);
    return this.#closing.then(() => true);
  }

  #sendClose(code: number | undefined, reason = ""): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    if (this.sock.closed || this.#failure?.closeCode === CLOSE_ABNORMAL) return; // nobody to tell
    this.#sendFrame(encodeClose(code, reason, this.#mask())).catch(() => undefined);
  }

  /** The peer's close frame arrived: answer it (once) and end the connection. */
  #answerClose(code: number): void {
    if (this.#closeSent) return;
    this.#sendClose(code === CLOSE_NO_STATUS ? undefined : code); // echo the peer's code
    this.#closing = this.#finish(true);
  }

  #protocolError(code: number, reason: string): void {
    if (this.#failure) return;
    this.#failure = new WebSocketError(code, reason);
    const wasSent = this.#closeSent;
    this.#sendClose(code, reason.length <= 123 ? reason : "");
    if (!wasSent) this.#closing = this.#finish(false);
  }

  /**
   * After our close frame: half-close (the close frame is flushed first) and read until the peer
   * closes, discarding data, for at most `closeTimeout`; then close the socket.
   */
  async #finish(peerClosed: boolean): Promise<void> {
    const sock = this.sock;
    if (sock.closed) return;
    const end = sock.rt.host.now() + this.closeTimeout;
    if (this.role === "server" || peerClosed || this.#failure) sock.shutdown();
    // wait for the peer's close frame (unless we have it) and then its TCP close
    while (!this.#eof && !sock.closed && (this.#failure === undefined || this.#failure.closeCode !== CLOSE_ABNORMAL)) {
      const left = end - sock.rt.host.now();
      if (left <= 0) break;
      if (this.closeCode !== undefined && this.role === "client") sock.shutdown();
      await this.#pull(left);
    }
    sock.close();
  }

  // ------------------------------------------------------------------ coroutines and information

  /**
   * Runs `fn(ws, ...args)` as the connection's coroutine ("s" cosocket by default for a
   * WebSocket). When it returns, the close handshake is done (1000) if nobody closed yet.
   */
  event<A extends unknown[]>(fn: (ws: WebSocket, ...args: A) => unknown, mode: CoMode = "s", ...args: A): this {
    // a reaction on fn's promise rather than an async wrapper awaiting it: the wrapper's
    // suspended frame would cost more (about 1.4 KB on 32-bit XS, the reaction about 1 KB)
    this.sock.event(
      (_s: Socket, ...a: A) => {
        let result: unknown;
        try {
          result = fn(this, ...a);
        } catch (e) {
          result = Promise.reject(e);
        }
        return Promise.resolve(result).then(
          () => this.close().then(noop, noop),
          (e: unknown) =>
            this.close().then(
              () => Promise.reject(e),
              () => Promise.reject(e),
            ),
        );
      },
      mode,
      ...args,
    );
    return this;
  }

  /** The peer's close frame arrived or ours was sent. */
  get closing(): boolean {
    return this.#closeSent || this.closeCode !== undefined;
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
