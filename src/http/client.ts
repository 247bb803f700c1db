/**
 * A small HTTP/1.1 client (the `httpc` analogue): one request per connection. The response's
 * socket stays open for the body, or for `http2sock` after a 101 (WebSocket upgrade).
 */
import { SocketError } from "../errors.js";
import { httpDefaults, type HttpLimits } from "../options.js";
import type { Runtime } from "../runtime.js";
import type { Socket } from "../socket/socket.js";
import { toBytes, type Payload } from "../bytes.js";
import { decodeUtf8 } from "../base/utf8.js";
import { BodyReader, bodyFraming } from "./body.js";
import { formatHead, readResponseHead, type Headers } from "./head.js";
import type { TLSOptions } from "../tls.js";

export interface Url {
  scheme: string;
  host: string;
  port: number;
  /** Path and query. */
  target: string;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = Object.freeze({ http: 80, ws: 80, https: 443, wss: 443 });

/** Parses "scheme://host[:port][/path][?query]" (no URL global on the device). */
export function parseUrl(url: string): Url {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]+\]|[^/:?#]+)(?::(\d{1,5}))?([/?][^#]*)?(#.*)?$/i.exec(url);
  if (!m) throw new SocketError("incorrectuse", `bad URL "${url}"`);
  const scheme = m[1].toLowerCase();
  const port = m[3] !== undefined ? Number(m[3]) : DEFAULT_PORTS[scheme];
  if (port === undefined || port < 1 || port > 65535) throw new SocketError("incorrectuse", `bad port in "${url}"`);
  let target = m[4] ?? "/";
  if (target[0] === "?") target = "/" + target;
  return { scheme, host: m[2].replace(/^\[|\]$/g, ""), port, target };
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Payload;
  /**
   * ms for connecting, and for the whole response head once the request is sent (default
   * `limits.headerTimeout`); then `timeout`. The body must be in by `limits.requestTimeout` after
   * the request; reads after that throw `timeout`. A malformed or oversized response head is an
   * `HttpError` 502 saying what was wrong.
   */
  timeout?: number;
  limits?: Partial<HttpLimits>;
  /** For https:// (and wss://): TLS options; verification is on unless `verify: false`. */
  tls?: TLSOptions;
  /** Send the request on this connected socket instead of opening one (a cosocket's own). */
  socket?: Socket;
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class HttpClientResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: "1.0" | "1.1";
  readonly headers: Headers;
  /** The connection; after a 101 it belongs to whoever calls `http2sock`. */
  readonly socket: Socket;
  /** The header fields this request sent (lower-case names). */
  readonly requestHeaders: Headers;
  readonly #reader: BodyReader;
  readonly #maxBody: number;

  constructor(
    sock: Socket,
    head: { status: number; reason: string; version: "1.0" | "1.1"; headers: Headers },
    reader: BodyReader,
    maxBody: number,
    requestHeaders: Headers,
  ) {
    this.socket = sock;
    this.requestHeaders = requestHeaders;
    this.status = head.status;
    this.reason = head.reason;
    this.version = head.version;
    this.headers = head.headers;
    this.#reader = reader;
    this.#maxBody = maxBody;
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase());
  }

  /** The next piece of the body, or null at its end. */
  read(): Promise<Uint8Array | null> {
    return this.#reader.read();
  }

  /** The whole body (at most `maxBody` bytes); closes the connection afterwards. */
  async body(): Promise<Uint8Array> {
    try {
      return await this.#reader.all(this.#maxBody);
    } finally {
      this.socket.close();
    }
  }

  async text(): Promise<string> {
    return decodeUtf8(await this.body());
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * Sends one request and reads the response head. Not an async function: on XS an async function
 * called from another holds two frames and a host frame until it first waits, and the device's
 * stack is 384 slots (docs/device.md, "As strict as the device"); the connect chain (socket,
 * host, TLS) sits on this frame, and `exchange` starts from a promise job of its own.
 */
export function httpRequest(rt: Runtime, url: string | Url, options: RequestOptions = {}): Promise<HttpClientResponse> {
  let u: Url;
  let connected: Promise<Socket>;
  try {
    u = typeof url === "string" ? parseUrl(url) : url;
    const secure = u.scheme === "https" || u.scheme === "wss";
    if (!secure && u.scheme !== "http" && u.scheme !== "ws") throw new SocketError("incorrectuse", `unsupported scheme ${u.scheme}://`);
    connected = options.socket
      ? Promise.resolve(options.socket)
      : rt.connect(u.host, u.port, { timeout: options.timeout, tls: secure ? (options.tls ?? true) : undefined });
  } catch (e) {
    return Promise.reject(e);
  }
  return connected.then((sock) => exchange(rt, sock, u, options));
}

/** The request and the response head on a connected socket. */
async function exchange(rt: Runtime, sock: Socket, u: Url, options: RequestOptions): Promise<HttpClientResponse> {
  const limits = { ...httpDefaults, ...options.limits };
  try {
    const body = options.body === undefined ? undefined : toBytes(options.body);
    const fields = new Map<string, [string, string]>();
    const set = (k: string, v: string) => fields.set(k.toLowerCase(), [k, v]);
    set("Host", u.port === DEFAULT_PORTS[u.scheme] ? u.host : `${u.host}:${u.port}`);
    if (body) set("Content-Length", String(body.length));
    set("Connection", "close");
    for (const [k, v] of Object.entries(options.headers ?? {})) set(k, v);
    await sock.write(formatHead(`${options.method ?? (body ? "POST" : "GET")} ${u.target} HTTP/1.1`, fields.values()));
    if (body?.length) await sock.write(body);
    const sent = rt.host.now();
    const head = await readResponseHead(sock, limits, Math.min(options.timeout ?? limits.headerTimeout, limits.requestTimeout));
    const framing =
      head.status === 101 || head.status === 204 || head.status === 304 || options.method === "HEAD"
        ? ({ kind: "none" } as const)
        : bodyFraming(head.headers, false);
    const asked: Headers = new Map([...fields].map(([k, [, v]]) => [k, v]));
    const reader = new BodyReader(sock, framing, sent + limits.requestTimeout);
    return new HttpClientResponse(sock, head, reader, limits.maxBody, asked);
  } catch (e) {
    sock.close();
    throw e;
  }
}
