/**
 * HTTP/1.1 message heads: reading a request or response head from a socket with limits, and
 * formatting one. A bad head is an `HttpError` carrying the status a server answers with.
 */
import { SocketError } from "../errors.js";
import type { HttpLimits } from "../options.js";
import type { Socket } from "../socket/socket.js";
import { concat } from "../bytes.js";
import { decodeUtf8 } from "../base/utf8.js";

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
 * Waits for the first bytes of a head (they stay readable). False if the stream ends, or `idle`
 * ms pass, before any byte comes. On a TLS connection this includes the handshake.
 */
export function awaitHead(sock: Socket, idle: number | undefined): Promise<boolean> {
  // not async: the read's timer is set one frame below the caller (see readHeadLines)
  return sock.read(idle).then(
    (d) => {
      if (!d) return false;
      sock.unread(d);
      return true;
    },
    (e: unknown) => {
      if (e instanceof SocketError && e.code === "timeout") return false;
      throw e;
    },
  );
}

type Side = "request" | "response";

/** An error in a head: a request's is answered with its status; a response's is the client's 502. */
function headError(side: Side, status: number, message: string): HttpError {
  return side === "request" ? new HttpError(status, message) : new HttpError(502, `response: ${message}`);
}

const LF = 10;
const CR = 13;
const NO_BYTES = new Uint8Array(0);

/**
 * Reads the lines of a head (up to the empty line) by `deadline` (host time). `start` checks the
 * start line as soon as it has come, so a bad one is refused without waiting for the rest. Returns
 * null if the stream ends before a line.
 *
 * One async function that reads lines itself, straight from `sock.read` (what `sock.readLine`
 * does, line by line: at most `maxLine` bytes, LF or CRLF, the bytes after the head left readable):
 * on XS an async function called from another holds two frames and a host frame until it first
 * waits, and the device's stack is 384 slots (docs/device.md, "As strict as the device"); the
 * head is read on the first-await path of both the HTTP client and server.
 */
async function readHeadLines(
  sock: Socket,
  limits: HttpLimits,
  deadline: number,
  side: Side,
  start: (line: string) => void,
): Promise<string[] | null> {
  const lines: string[] = [];
  const max = limits.maxLine;
  let bytes = 0;
  let empty = 0;
  let buf: Uint8Array = NO_BYTES; // read, not yet taken as lines
  let scanned = 0; // bytes of buf known to hold no LF
  for (;;) {
    let line: string | null;
    const lf = buf.indexOf(LF, scanned);
    if (lf >= 0) {
      const end = lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
      if (end > max) {
        sock.unread(buf);
        throw tooLong(side, lines.length, max);
      }
      line = decodeUtf8(buf.subarray(0, end));
      buf = buf.subarray(lf + 1);
      scanned = 0;
    } else if (buf.length > max + 1) {
      sock.unread(buf);
      throw tooLong(side, lines.length, max);
    } else {
      scanned = buf.length;
      let data: Uint8Array | null;
      try {
        data = await sock.read(Math.max(0, deadline - sock.rt.host.now()));
      } catch (e) {
        sock.unread(buf);
        if (e instanceof SocketError && e.code === "timeout") {
          if (side === "request") throw new HttpError(408, "head not received in time");
          throw new SocketError("timeout", "response head not received in time");
        }
        throw e;
      }
      if (data !== null) {
        buf = concat(buf, data);
        continue;
      }
      // end of stream: what is left is a last line without its end
      line = buf.length ? decodeUtf8(buf) : null;
      buf = NO_BYTES;
    }
    if (line === null) {
      if (lines.length === 0) return null;
      throw headError(side, 400, "connection closed inside the head");
    }
    if (line === "") {
      if (lines.length > 0) {
        sock.unread(buf);
        return lines;
      }
      // empty lines before the start line are tolerated (RFC 9112 2.2), a few of them
      if (++empty > limits.maxEmptyLines) throw headError(side, 400, `more than ${limits.maxEmptyLines} empty lines before the start line`);
      continue;
    }
    if (lines.length === 0) start(line);
    bytes += line.length + 2;
    if (bytes > limits.maxHeaderBytes) throw headError(side, 431, `head over ${limits.maxHeaderBytes} bytes`);
    if (lines.length > limits.maxHeaders) throw headError(side, 431, `more than ${limits.maxHeaders} header fields`);
    lines.push(line);
  }
}

function tooLong(side: Side, lines: number, max: number): HttpError {
  return lines === 0
    ? headError(side, 414, `${side === "request" ? "request" : "status"} line over ${max} bytes`)
    : headError(side, 431, `header line over ${max} bytes`);
}

/** Header fields by lower-case name; a second field named in `once` is an error. */
function parseFields(lines: string[], side: Side, once?: string): Headers {
  const headers: Headers = new Map();
  for (const line of lines) {
    if (line[0] === " " || line[0] === "\t") throw headError(side, 400, "obsolete line folding");
    const colon = line.indexOf(":");
    if (colon <= 0) throw headError(side, 400, "header field without a name");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw headError(side, 400, `bad header field name "${name}"`);
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) throw headError(side, 400, `bad value in header field "${name}"`);
    const key = name.toLowerCase();
    const prev = headers.get(key);
    if (prev !== undefined && key === once) throw headError(side, 400, `more than one ${name} header`);
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  return headers;
}

function parseVersion(v: string, side: Side): "1.0" | "1.1" {
  const m = /^HTTP\/(\d)\.(\d)$/.exec(v);
  if (!m) throw headError(side, 400, `bad protocol version "${v}"`);
  if (m[1] !== "1") throw headError(side, 505, `HTTP/${m[1]}.${m[2]} is not supported`);
  return m[2] === "0" ? "1.0" : "1.1";
}

/** A request target: visible ASCII only (no controls, NUL, spaces or raw non-ASCII: RFC 9112 3.2). */
const TARGET = /^[\x21-\x7e]+$/;

function parseRequestLine(line: string): { method: string; target: string; version: "1.0" | "1.1" } {
  const parts = line.split(" ");
  if (parts.length === 2 && TOKEN.test(parts[0])) throw new HttpError(400, "HTTP/0.9 requests are not served");
  if (parts.length !== 3 || !TOKEN.test(parts[0])) throw new HttpError(400, "bad request line");
  if (!TARGET.test(parts[1])) throw new HttpError(400, "bad request target");
  return { method: parts[0], target: parts[1], version: parseVersion(parts[2], "request") };
}

/**
 * Reads a request head whose first bytes have come (`awaitHead`); it must be complete by
 * `deadline` (host time; 408 otherwise). Null when the connection ends before a line.
 */
export function readRequestHead(sock: Socket, limits: HttpLimits, deadline: number): Promise<RequestHead | null> {
  // not async: one layer fewer above the read (see readHeadLines)
  return readHeadLines(sock, limits, deadline, "request", parseRequestLine).then(requestHead);
}

function requestHead(lines: string[] | null): RequestHead | null {
  if (!lines) return null;
  const { method, target, version } = parseRequestLine(lines[0]);
  const headers = parseFields(lines.slice(1), "request", "host");
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

const STATUS_LINE = /^(HTTP\/\d\.\d) ([1-5]\d\d)(?: ([\t\x20-\x7e\x80-\uffff]*))?$/;

function parseStatusLine(line: string): { version: "1.0" | "1.1"; status: number; reason: string } {
  const m = STATUS_LINE.exec(line);
  if (!m) throw new HttpError(502, `response: bad status line "${line.slice(0, 64)}"`);
  return { version: parseVersion(m[1], "response"), status: Number(m[2]), reason: m[3] ?? "" };
}

/**
 * Reads a response head (client side); it must be complete within `timeout` ms (`timeout`
 * otherwise). A malformed or oversized head is an `HttpError` 502 saying what was wrong.
 */
export function readResponseHead(sock: Socket, limits: HttpLimits, timeout: number): Promise<ResponseHead> {
  // not async: one layer fewer above the read (see readHeadLines)
  return readHeadLines(sock, limits, sock.rt.host.now() + timeout, "response", parseStatusLine).then(responseHead);
}

function responseHead(lines: string[] | null): ResponseHead {
  if (!lines) throw new HttpError(502, "connection closed before a response");
  return { ...parseStatusLine(lines[0]), headers: parseFields(lines.slice(1), "response") };
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
