/**
 * A small HTTP/1.1 server on the runtime (the part of Lua Server Pages a device needs). Each
 * connection is served by its own coroutine; request handlers (the LSP-page analogue) run in the
 * runtime's worker pool once a request head has come (a peer stalling in the TLS handshake or in
 * the head holds no worker). Keep-alive, limits on the head (400/414/431/505, 408 on a slow head),
 * one deadline for head and body (408), on the body (413) and on connections (503). A handler may
 * take the connection over (`req.takeSocket()`, used by `req2sock`) and `server.serve(sock)` gives
 * one back (`sock2req`).
 */
import { SocketError, isSocketError } from "../errors.js";
import { httpDefaults, type HttpLimits } from "../options.js";
import type { Runtime } from "../runtime.js";
import type { Socket } from "../socket/socket.js";
import { toBytes, type Payload } from "../bytes.js";
import { decodeUtf8 } from "../base/utf8.js";
import { BodyReader, bodyFraming, writeChunk, writeLastChunk } from "./body.js";
import { HttpError, STATUS_TEXT, awaitHead, formatHead, hasToken, readRequestHead, type Headers, type RequestHead } from "./head.js";
import type { TLSServerOptions } from "../tls.js";

export type Handler = (req: HttpRequest, res: HttpResponse) => unknown;

export interface HttpServerOptions {
  port?: number;
  intf?: string;
  limits?: Partial<HttpLimits>;
  /** Run handlers in the worker pool (default true); false runs them in the connection's coroutine. */
  pool?: boolean;
  /** Serve HTTPS (and wss://): certificate, key and the listener's TLS options. */
  tls?: TLSServerOptions;
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class HttpRequest {
  readonly method: string;
  readonly target: string;
  readonly path: string;
  readonly query: string;
  readonly version: "1.0" | "1.1";
  readonly headers: Headers;
  readonly server: HttpServer;
  /** @internal */ readonly sock: Socket;
  /** @internal */ readonly reader: BodyReader;
  #taken = false;

  constructor(server: HttpServer, sock: Socket, head: RequestHead, reader: BodyReader) {
    this.server = server;
    this.sock = sock;
    this.method = head.method;
    this.target = head.target;
    this.path = head.path;
    this.query = head.query;
    this.version = head.version;
    this.headers = head.headers;
    this.reader = reader;
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase());
  }

  /** The whole body (at most `maxBody` bytes: 413 beyond; not in by `requestTimeout`: 408). */
  async body(): Promise<Uint8Array> {
    try {
      return await this.reader.all(this.server.limits.maxBody);
    } catch (e) {
      if (isSocketError(e, "timeout")) throw new HttpError(408, "request body not received in time");
      throw e;
    }
  }

  async text(): Promise<string> {
    return decodeUtf8(await this.body());
  }

  /** A query parameter (application/x-www-form-urlencoded). */
  param(name: string): string | undefined {
    for (const pair of this.query.split("&")) {
      const eq = pair.indexOf("=");
      const k = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " "));
      if (k === name) return eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " "));
    }
    return undefined;
  }

  peername() {
    return this.sock.peername();
  }

  /**
   * Takes the connection away from the HTTP server (for an upgrade or a raw socket). Bytes the
   * client sent after the head stay readable on the socket. The server no longer reads, writes
   * or closes it.
   */
  takeSocket(): Socket {
    if (this.#taken) throw new SocketError("incorrectuse", "the connection was already taken");
    this.#taken = true;
    this.sock.detach();
    return this.sock;
  }

  get taken(): boolean {
    return this.#taken;
  }
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class HttpResponse {
  #sock: Socket;
  #version: "1.0" | "1.1";
  #status = 200;
  #reason: string | undefined;
  #headers = new Map<string, [string, string]>();
  #headSent = false;
  #chunked = false;
  #finished = false;
  keepAlive: boolean;

  constructor(sock: Socket, version: "1.0" | "1.1", keepAlive: boolean) {
    this.#sock = sock;
    this.#version = version;
    this.keepAlive = keepAlive;
  }

  status(code: number, reason?: string): this {
    if (this.#headSent) throw new SocketError("incorrectuse", "the head was already sent");
    this.#status = code;
    this.#reason = reason;
    return this;
  }

  header(name: string, value: string | number): this {
    if (this.#headSent) throw new SocketError("incorrectuse", "the head was already sent");
    this.#headers.set(name.toLowerCase(), [name, String(value)]);
    return this;
  }

  get headersSent(): boolean {
    return this.#headSent;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get statusCode(): number {
    return this.#status;
  }

  private _head(): string {
    if (!this.keepAlive) this.#headers.set("connection", ["Connection", "close"]);
    const reason = this.#reason ?? STATUS_TEXT[this.#status] ?? "Status";
    this.#headSent = true;
    return formatHead(`HTTP/1.1 ${this.#status} ${reason}`, this.#headers.values());
  }

  /** Sends the whole response with a Content-Length. */
  async send(body: Payload = ""): Promise<void> {
    if (this.#finished || this.#headSent) throw new SocketError("incorrectuse", "the response was already started");
    const bytes = toBytes(body);
    this.#headers.set("content-length", ["Content-Length", String(bytes.length)]);
    this.#finished = true;
    await this.#sock.write(this._head());
    if (bytes.length) await this.#sock.write(bytes);
  }

  /** Sends a piece of the body: chunked on HTTP/1.1, else until the connection closes. */
  async write(data: Payload): Promise<void> {
    if (this.#finished) throw new SocketError("incorrectuse", "the response has ended");
    if (!this.#headSent) {
      if (this.#version === "1.1") {
        this.#chunked = true;
        this.#headers.set("transfer-encoding", ["Transfer-Encoding", "chunked"]);
      } else this.keepAlive = false;
      await this.#sock.write(this._head());
    }
    const bytes = toBytes(data);
    if (this.#chunked) await writeChunk(this.#sock, bytes);
    else await this.#sock.write(bytes);
  }

  /** Ends the response (an empty one if nothing was sent). */
  async end(): Promise<void> {
    if (this.#finished) return;
    if (!this.#headSent) return this.send();
    this.#finished = true;
    if (this.#chunked) await writeLastChunk(this.#sock);
  }

  /** @internal the head line and fields for a raw writer (the WebSocket handshake). */
  rawHead(): string {
    this.#finished = true;
    return this._head();
  }
}

export class HttpServer {
  readonly rt: Runtime;
  readonly limits: Readonly<HttpLimits>;
  readonly handler: Handler;
  #listener: Socket | undefined;
  #usePool: boolean;
  #connections = new Set<Socket>();
  #webSockets = new Set<Socket>(); // upgraded (req2sock): counted against maxWebSockets while open

  private constructor(rt: Runtime, handler: Handler, options: HttpServerOptions) {
    this.rt = rt;
    this.handler = handler;
    this.limits = Object.freeze({ ...httpDefaults, ...options.limits });
    this.#usePool = options.pool !== false;
  }

  static async listen(rt: Runtime, handler: Handler, options: HttpServerOptions = {}): Promise<HttpServer> {
    const server = new HttpServer(rt, handler, options);
    const listener = await rt.bind(options.port ?? 0, { intf: options.intf, tls: options.tls });
    server.#listener = listener;
    listener.event(async (l: Socket) => {
      for (;;) {
        const s = await l.accept();
        if (!s) break;
        // from a promise job of its own, not on this loop's frames: serving a connection starts
        // with a descent to its first read (serve, #one, awaitHead, the read timer), and on XS
        // the device's stack is 384 slots (docs/device.md, "As strict as the device")
        void Promise.resolve(s).then(server.#serveJob);
      }
    });
    return server;
  }

  #serveJob = (s: Socket): Promise<void> => this.serve(s);

  get port(): number {
    return this.#listener?.sockname()?.port ?? 0;
  }

  get connections(): number {
    return this.#connections.size;
  }

  /** WebSockets upgraded from this server's requests and still open. */
  get webSockets(): number {
    for (const s of this.#webSockets) if (s.closed) this.#webSockets.delete(s);
    return this.#webSockets.size;
  }

  /** @internal A slot for an upgraded WebSocket on `sock`; false when `maxWebSockets` are open. */
  admitWebSocket(sock: Socket): boolean {
    if (this.webSockets >= this.limits.maxWebSockets) return false;
    this.#webSockets.add(sock);
    return true;
  }

  /** Stops listening and closes every connection it serves. */
  close(): void {
    this.#listener?.close();
    for (const s of [...this.#connections]) s.close();
  }

  /**
   * Serves HTTP on a connection until it closes or is taken over. Also hands a connection back
   * to the server (`sock2req`): bytes already buffered on the socket are read as the next request.
   */
  async serve(sock: Socket): Promise<void> {
    sock.detach();
    if (this.#connections.size >= this.limits.maxConnections) {
      await this.#fail(sock, new HttpError(503, "too many connections"), "1.1");
      sock.close();
      return;
    }
    this.#connections.add(sock);
    let taken = false;
    try {
      for (let first = true; ; first = false) {
        taken = await this.#one(sock, first);
        if (taken) return;
        if (sock.closed) return;
      }
    } catch (e) {
      if (!(e instanceof SocketError) && !(e instanceof HttpError) && !(e instanceof Stop))
        this.rt.options.log(`cosock http: ${(e as Error)?.stack ?? e}`);
    } finally {
      this.#connections.delete(sock);
      if (!taken) sock.close();
    }
  }

  /** One request/response exchange; true if the handler took the connection. */
  async #one(sock: Socket, first: boolean): Promise<boolean> {
    const limits = this.limits;
    // the request's clocks start at its first byte; waiting for it costs no worker
    if (!(await awaitHead(sock, first ? limits.headerTimeout : limits.keepAliveTimeout))) throw new Stop();
    const begun = this.rt.host.now();
    const deadline = begun + limits.requestTimeout;
    let head: RequestHead | null;
    try {
      head = await readRequestHead(sock, limits, Math.min(deadline, begun + limits.headerTimeout));
    } catch (e) {
      if (e instanceof HttpError) await this.#fail(sock, e, "1.1");
      throw e;
    }
    if (!head) throw new Stop();
    let framing;
    try {
      framing = bodyFraming(head.headers, true);
    } catch (e) {
      if (e instanceof HttpError) await this.#fail(sock, e, head.version);
      throw e;
    }
    const conn = head.headers.get("connection");
    const keepAlive = head.version === "1.1" ? !hasToken(conn, "close") : hasToken(conn, "keep-alive");
    const reader = new BodyReader(sock, framing, deadline);
    const req = new HttpRequest(this, sock, head, reader);
    const res = new HttpResponse(sock, head.version, keepAlive);
    try {
      await (this.#usePool ? this.rt.pool.run(this.handler, req, res) : this.handler(req, res));
    } catch (e) {
      if (req.taken) return true;
      if (isSocketError(e) && e.code !== "busy") throw e;
      const err =
        e instanceof HttpError ? e : isSocketError(e, "busy") ? new HttpError(503, "server busy") : new HttpError(500, "handler failed");
      if (!(e instanceof HttpError) && !isSocketError(e, "busy"))
        this.rt.options.log(`cosock http: handler for ${head.method} ${head.target} failed: ${(e as Error)?.stack ?? e}`);
      if (res.headersSent) throw new Stop();
      await this.#fail(sock, err, head.version);
      throw new Stop();
    }
    if (req.taken) return true;
    await res.end();
    // a body the handler left unread is dropped if it is small and in time; else the connection closes
    if (!res.keepAlive || !(await reader.drain(limits.maxDrain))) throw new Stop();
    return false;
  }

  async #fail(sock: Socket, e: HttpError, version: "1.0" | "1.1"): Promise<void> {
    const res = new HttpResponse(sock, version, false);
    res.status(e.status).header("Content-Type", "text/plain");
    for (const [k, v] of Object.entries(e.headers)) res.header(k, v);
    await res.send(`${e.message}\n`).catch(() => undefined);
  }
}

/** Ends a connection's loop without an error worth logging. */
class Stop extends Error {}
