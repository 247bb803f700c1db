/**
 * The WebSocket opening handshake over the HTTP layer: `req2sock` morphs a server request into a
 * WebSocket (or a raw socket), `http2sock` turns a client's 101 response into one, and
 * `wsConnect` does the client side from a URL. The key is random from the host and the
 * server's Sec-WebSocket-Accept is checked in full.
 */
import { SocketError, isSocketError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import type { Socket } from "../socket/socket.js";
import { encodeBase64, decodeBase64 } from "../base64.js";
import { sha1 } from "../sha1.js";
import { encodeUtf8 } from "../base/utf8.js";
import { HttpError, hasToken } from "../http/head.js";
import type { HttpRequest, HttpResponse } from "../http/server.js";
import { httpRequest, parseUrl, type HttpClientResponse } from "../http/client.js";
import { WebSocket, WebSocketError, type WebSocketOptions } from "./connection.js";
import type { WsHandshakeCode, WsUpgradeCode } from "./codes.js";
import { CLOSE_ABNORMAL } from "./close.js";
import type { TLSOptions } from "../tls.js";
import type { HttpLimits } from "../options.js";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Sec-WebSocket-Accept for a key: RFC 6455 §4.2.2 (SHA-1 of the key and the GUID, base64). */
export function acceptKey(key: string): string {
  return encodeBase64(sha1(encodeUtf8(key + GUID)));
}

/**
 * An upgrade request that `req2sock` refuses: the server answers it with `status`. `wsCode` names
 * the refusal (src/websocket/codes.ts); `closeCode` is 1006, as for any connection that never
 * opened. A handler that catches it around `req2sock` sees why.
 */
export class WebSocketUpgradeError extends HttpError {
  readonly wsCode: WsUpgradeCode;
  readonly closeCode = CLOSE_ABNORMAL;
  constructor(wsCode: WsUpgradeCode, status: number, message: string, headers?: Record<string, string>) {
    super(status, message, headers);
    this.wsCode = wsCode;
  }
}

function offered(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

export interface UpgradeOptions extends WebSocketOptions {
  /** Subprotocols the server speaks, in its order of preference, or a function choosing one of the offered. */
  protocols?: string[] | ((offered: string[]) => string | undefined);
  /** Refuse the upgrade unless a subprotocol was agreed (400). */
  requireProtocol?: boolean;
  /** Accept the Origin header's value (403 when false). */
  origin?: (origin: string | undefined) => boolean;
}

/** Whether a request asks to be upgraded to a WebSocket. */
export function isUpgrade(req: HttpRequest): boolean {
  return hasToken(req.header("upgrade"), "websocket") && hasToken(req.header("connection"), "upgrade");
}

/**
 * Morphs a request: a WebSocket upgrade request becomes a server `WebSocket` after the 101
 * response; with `raw` (or a request that is not an upgrade) the connection becomes a plain
 * `Socket` with nothing written. Bytes the client sent after the head stay readable on it.
 * A bad upgrade request throws an `HttpError` that the server answers (400, 403, 426); so does
 * an upgrade while the server's `maxWebSockets` WebSockets are open (503, before any 101).
 */
export async function req2sock(
  req: HttpRequest,
  res: HttpResponse,
  options: UpgradeOptions & { raw?: boolean } = {},
): Promise<WebSocket | Socket> {
  if (options.raw || !isUpgrade(req)) return req.takeSocket();
  // RFC 6455 §4.2.1 (1): a GET over HTTP/1.1 or later
  if (req.method !== "GET" || req.version !== "1.1") {
    throw new WebSocketUpgradeError("badmethod", 400, "a WebSocket upgrade needs GET over HTTP/1.1");
  }
  const version = req.header("sec-websocket-version");
  // RFC 6455 §4.2.1 (6), §4.2.2 (4), §4.4: version 13; a 426 names the versions we speak
  if (version !== "13") {
    const why = `unsupported Sec-WebSocket-Version "${version ?? ""}"`;
    throw new WebSocketUpgradeError("badversion", 426, why, { "Sec-WebSocket-Version": "13" });
  }
  const key = req.header("sec-websocket-key") ?? "";
  // RFC 6455 §4.2.1 (5): the key is 16 bytes in base64
  if (decodeBase64(key)?.length !== 16) throw new WebSocketUpgradeError("badkey", 400, "bad Sec-WebSocket-Key");
  // RFC 6455 §4.2.2 (4) /origin/, §10.2: a server that does not accept the origin answers 403
  if (options.origin && !options.origin(req.header("origin"))) throw new WebSocketUpgradeError("badorigin", 403, "origin not allowed");
  const offers = offered(req.header("sec-websocket-protocol"));
  let protocol: string | undefined;
  if (typeof options.protocols === "function") protocol = options.protocols(offers);
  else if (options.protocols) protocol = options.protocols.find((p) => offers.includes(p));
  if (protocol !== undefined && !offers.includes(protocol)) protocol = undefined;
  // RFC 6455 §4.2.2 (4) /subprotocol/: one of the offered, or none (refused here by our option)
  if (options.requireProtocol && protocol === undefined) throw new WebSocketUpgradeError("nosubprotocol", 400, "no common subprotocol");
  if (!req.server.admitWebSocket(req.sock)) {
    throw new WebSocketUpgradeError("toomany", 503, "too many WebSocket connections (maxWebSockets)");
  }
  res.status(101).header("Upgrade", "websocket").header("Connection", "Upgrade").header("Sec-WebSocket-Accept", acceptKey(key));
  if (protocol !== undefined) res.header("Sec-WebSocket-Protocol", protocol);
  res.keepAlive = true;
  const head = res.rawHead();
  const sock = req.takeSocket();
  await sock.write(head);
  return new WebSocket(sock, "server", protocol ?? "", options);
}

/**
 * Turns the response to an upgrade request into a client `WebSocket`: the status must be 101
 * with the Upgrade and Connection fields, the right Sec-WebSocket-Accept, and a subprotocol that
 * was offered (if any). Otherwise the connection is closed and `invalidsocketcon` is thrown.
 */
export function http2sock(res: HttpClientResponse, options: WebSocketOptions = {}): WebSocket {
  const fail = (wsCode: WsHandshakeCode, why: string): never => {
    res.close();
    throw handshakeError(wsCode, why);
  };
  // RFC 6455 §4.1, the client's checks of the server's answer (1)-(6), in order:
  if (res.status !== 101) fail("badstatus", `the server answered ${res.status} ${res.reason}`); // (1)
  if (!hasToken(res.header("upgrade"), "websocket")) fail("badupgrade", "no Upgrade: websocket in the response"); // (2)
  if (!hasToken(res.header("connection"), "upgrade")) fail("badupgrade", "no Connection: upgrade in the response"); // (3)
  const key = res.requestHeaders.get("sec-websocket-key");
  if (!key || res.header("sec-websocket-accept") !== acceptKey(key)) fail("badaccept", "wrong Sec-WebSocket-Accept"); // (4)
  // (5): we offer no extension, so any in the answer was not offered
  if (res.header("sec-websocket-extensions")) fail("badextension", "the server chose an extension that was not offered");
  const protocol = res.header("sec-websocket-protocol") ?? "";
  // (6): a subprotocol must be one we offered
  if (protocol !== "" && !offered(res.requestHeaders.get("sec-websocket-protocol")).includes(protocol))
    fail("badsubprotocol", `the server chose subprotocol "${protocol}", which was not offered`);
  return new WebSocket(res.socket, "client", protocol, options);
}

export interface ConnectWsOptions extends WebSocketOptions {
  protocols?: string[];
  /** For wss://: TLS options; verification is on unless `verify: false`. */
  tls?: TLSOptions;
  headers?: Record<string, string>;
  /**
   * ms for connecting, and for each part of the server's answer: its status line, then the rest
   * of its head (a server that drips it slower fails with `timeout`). Default: the runtime's
   * `connectTimeout`, then `httpDefaults.headerTimeout`.
   */
  timeout?: number;
  /** Bounds on the server's answer (`maxLine`, `maxHeaderBytes`, `maxHeaders`): beyond them `invalidsocketcon`. */
  limits?: Partial<HttpLimits>;
  /** Do the handshake on this connected socket (e.g. a cosocket's own) instead of opening one. */
  socket?: Socket;
}

/**
 * Opens a client WebSocket to a `ws://` or `wss://` URL. A server whose answer is not a valid
 * 101 (a wrong Sec-WebSocket-Accept, a head over the limits, a bad status line) is refused with
 * `invalidsocketcon`; one that does not answer in time, with `timeout`.
 */
export function wsConnect(rt: Runtime, url: string, options: ConnectWsOptions = {}): Promise<WebSocket> {
  // Not async, and the answer checked in a promise job: the connect chain (httpRequest, the
  // socket, the host) sits on this frame, and on XS an async function holds two frames and a host
  // frame until it first waits (the device's stack is 384 slots; docs/device.md).
  let answer: Promise<HttpClientResponse>;
  try {
    const u = parseUrl(url);
    if (u.scheme !== "ws" && u.scheme !== "wss") throw new SocketError("incorrectuse", `not a WebSocket URL: ${url}`);
    for (const p of options.protocols ?? []) if (!TOKEN.test(p)) throw new SocketError("incorrectuse", `bad subprotocol "${p}"`);
    const headers: Record<string, string> = {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": encodeBase64(rt.host.randomBytes(16)),
      "Sec-WebSocket-Version": "13",
      ...options.headers,
    };
    if (options.protocols?.length) headers["Sec-WebSocket-Protocol"] = options.protocols.join(", ");
    answer = httpRequest(
      rt,
      { ...u, scheme: u.scheme === "ws" ? "http" : "https" },
      {
        headers,
        timeout: options.timeout,
        tls: options.tls,
        socket: options.socket,
        limits: options.timeout === undefined ? options.limits : { headerTimeout: options.timeout, ...options.limits },
      },
    );
  } catch (e) {
    return Promise.reject(e);
  }
  return answer.then(
    (res) => http2sock(res, options),
    (e: unknown) => {
      if (isSocketError(e, "timeout")) throw handshakeError("handshaketimeout", e.message, "timeout");
      if (!(e instanceof HttpError)) throw e;
      // the server's answer broke a limit or the protocol: a SocketError, as every other failure
      if (e.status === 408) throw handshakeError("handshaketimeout", `WebSocket handshake: ${e.message}`, "timeout");
      throw handshakeError("badresponse", `WebSocket handshake: ${e.message}`);
    },
  );
}

/** A refused opening handshake: `invalidsocketcon` (or `timeout`), closeCode 1006 (never opened). */
function handshakeError(wsCode: WsHandshakeCode, why: string, code: "invalidsocketcon" | "timeout" = "invalidsocketcon"): WebSocketError {
  return new WebSocketError(wsCode, CLOSE_ABNORMAL, why, code);
}
