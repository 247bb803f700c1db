/**
 * HTTP/1.1 message heads: reading a request or response head from a socket with limits, and
 * formatting one. A bad head is an `HttpError` carrying the status a server answers with.
 */
import { SocketError } from "../errors.js";
import type { HttpLimits } from "../options.js";
import type { Socket } from "../socket.js";

export class HttpError extends Error {
  readonly status: number;
  /** Header fields the error response must carry (e.g. Sec-WebSocket-Version with 426). */
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(`${status} ${message}`);
    this.status = status;
    this.headers = headers;
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "HttpError";
  }
}

/** Header fields by lower-case name; repeated fields are joined with ", " (RFC 9110 5.3). */
export type Headers = Map<string, string>;

export interface RequestHead {
  method: string;
  /** The request target as sent (e.g. "/path?x=1"). */
  target: string;
  path: string;
  query: string;
  version: "1.0" | "1.1";
  headers: Headers;
}

export interface ResponseHead {
  version: "1.0" | "1.1";
  status: number;
  reason: string;
  headers: Headers;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;

export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
});

/**
 * Reads the lines of a head (up to the empty line). Returns null if the stream ends (or the idle
 * timeout passes) before the first byte. `idle` bounds the wait for the first line, `limits.headerTimeout`
 * the rest.
 */
async function readHeadLines(sock: Socket, limits: HttpLimits, idle: number | undefined, firstLineStatus: number): Promise<string[] | null> {
  const lines: string[] = [];
  let bytes = 0;
  let deadline: number | undefined;
  const now = () => sock.rt.host.now();
  for (;;) {
    const timeout = deadline === undefined ? idle : Math.max(0, deadline - now());
    let line: string | null;
    try {
      line = await sock.readLine({ max: limits.maxLine, timeout });
    } catch (e) {
      if (e instanceof SocketError && e.code === "toolong")
        throw lines.length === 0
          ? new HttpError(firstLineStatus, "request line too long")
          : new HttpError(431, "header line too long");
      if (e instanceof SocketError && e.code === "timeout") {
        if (deadline === undefined && (!e.partial || e.partial.length === 0)) return null; // idle
        throw new HttpError(408, "head not received in time");
      }
      throw e;
    }
    if (deadline === undefined) deadline = now() + limits.headerTimeout;
    if (line === null) {
      if (lines.length === 0) return null;
      throw new HttpError(400, "connection closed inside the head");
    }
    if (line === "") {
      if (lines.length === 0) continue; // an empty line before the start line is tolerated (RFC 9112 2.2)
      return lines;
    }
    bytes += line.length + 2;
    if (bytes > limits.maxHeaderBytes) throw new HttpError(431, "head too large");
    if (lines.length > limits.maxHeaders) throw new HttpError(431, "too many header fields");
    lines.push(line);
  }
}

function parseFields(lines: string[]): Headers {
  const headers: Headers = new Map();
  for (const line of lines) {
    if (line[0] === " " || line[0] === "\t") throw new HttpError(400, "obsolete line folding");
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpError(400, "header field without a name");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HttpError(400, `bad header field name "${name}"`);
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) throw new HttpError(400, `bad value in header field "${name}"`);
    const key = name.toLowerCase();
    const prev = headers.get(key);
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  return headers;
}

function parseVersion(v: string): "1.0" | "1.1" {
  const m = /^HTTP\/(\d)\.(\d)$/.exec(v);
  if (!m) throw new HttpError(400, `bad protocol version "${v}"`);
  if (m[1] !== "1") throw new HttpError(505, `HTTP/${m[1]}.${m[2]} is not supported`);
  return m[2] === "0" ? "1.0" : "1.1";
}

/** Reads a request head; null when the connection ends or idles out before one starts. */
export async function readRequestHead(sock: Socket, limits: HttpLimits, idle?: number): Promise<RequestHead | null> {
  const lines = await readHeadLines(sock, limits, idle, 414);
  if (!lines) return null;
  const parts = lines[0].split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0]) || parts[1] === "") throw new HttpError(400, "bad request line");
  const [method, target, v] = parts;
  const version = parseVersion(v);
  const headers = parseFields(lines.slice(1));
  if (version === "1.1" && !headers.has("host")) throw new HttpError(400, "missing Host header");
  const q = target.indexOf("?");
  return {
    method,
    target,
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? "" : target.slice(q + 1),
    version,
    headers,
  };
}

/** Reads a response head (client side). */
export async function readResponseHead(sock: Socket, limits: HttpLimits, timeout?: number): Promise<ResponseHead> {
  const lines = await readHeadLines(sock, limits, timeout, 431);
  if (!lines) throw new HttpError(502, "connection closed before a response");
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpError(502, "bad status line");
  return { version: parseVersion(m[1]), status: Number(m[2]), reason: m[3] ?? "", headers: parseFields(lines.slice(1)) };
}

/** Formats a head: start line, fields, empty line. Field values must not contain CR or LF. */
export function formatHead(startLine: string, headers: Iterable<[string, string]>): string {
  let out = startLine + "\r\n";
  for (const [name, value] of headers) {
    if (!TOKEN.test(name) || /[\r\n]/.test(value)) throw new SocketError("incorrectuse", `bad header field ${name}`);
    out += `${name}: ${value}\r\n`;
  }
  return out + "\r\n";
}

/** Whether a comma-separated header value contains `token` (case-insensitive). */
export function hasToken(value: string | undefined, token: string): boolean {
  if (!value) return false;
  const t = token.toLowerCase();
  return value.split(",").some((v) => v.trim().toLowerCase() === t);
}
