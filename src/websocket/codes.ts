/**
 * Stable failure codes of a WebSocket (`WebSocketError.wsCode`) and its `readyState` values.
 * Each failure has a machine word and the close code that goes with it (docs/api.md, *WebSocket
 * failure codes*, which also names the RFC 6455 clause of each).
 */

/** A frame or message the peer sent broke RFC 6455: we sent a close frame with the code given. */
export type WsProtocolCode =
  | "rsvbits" // 1002, §5.2: RSV1-3 set without a negotiated extension
  | "badopcode" // 1002, §5.2: a reserved opcode (3-7, 0xB-0xF)
  | "unmaskedframe" // 1002, §5.1: a client's frame not masked (server side)
  | "maskedframe" // 1002, §5.1: a server's frame masked (client side)
  | "controltoolong" // 1002, §5.5: a control frame's payload over 125 bytes
  | "fragmentedcontrol" // 1002, §5.5: a control frame without FIN
  | "unexpectedcontinuation" // 1002, §5.4: a continuation frame with no message in progress
  | "expectedcontinuation" // 1002, §5.4: a new text/binary frame inside a fragmented message
  | "badclosepayload" // 1002, §5.5.1: a close frame with a 1-byte payload
  | "badclosecode" // 1002, §7.4.1, §7.4.2: a close code that may not be sent
  | "invalidutf8" // 1007, §8.1, §5.5.1: a text message or close reason that is not UTF-8
  | "frametoobig" // 1009, §10.4: a frame over maxFrame (or a 64-bit length with its top bit set, §5.2)
  | "messagetoobig"; // 1009, §10.4: a message over maxMessage (readMessage)

/** The connection ended or was ended without a completed closing handshake. */
export type WsConnectionCode =
  | "abnormalclosure" // 1006, §7.1.5: the TCP connection closed or failed without a close frame
  | "pongtimeout" // 1006, §5.5.2: no answer to a keepalive ping within pongTimeout (aborted)
  | "idletimeout" // 1001, §7.4.1: nothing received or sent for idleTimeout (we closed, 1001)
  | "closed"; // a write after the close frame was sent or received (§5.5.1); closeCode: the peer's or ours

/** `wsConnect`: the server's answer to the opening handshake is refused (§4.1); closeCode 1006. */
export type WsHandshakeCode =
  | "badstatus" // §4.1: the status is not 101
  | "badupgrade" // §4.1: no `Upgrade: websocket` or no `Connection: upgrade`
  | "badaccept" // §4.1: a missing or wrong Sec-WebSocket-Accept
  | "badextension" // §4.1: an extension that was not offered
  | "badsubprotocol" // §4.1: a subprotocol that was not offered
  | "badresponse" // the answer is not valid HTTP or breaks a limit (a head over maxHeaderBytes, …)
  | "handshaketimeout"; // no connection or no full answer within `timeout` (code "timeout")

/** `req2sock`: an upgrade request refused with an HTTP status (§4.2.1, §4.2.2); closeCode 1006. */
export type WsUpgradeCode =
  | "badmethod" // 400, §4.2.1: not GET over HTTP/1.1
  | "badversion" // 426, §4.2.2, §4.4: Sec-WebSocket-Version is not 13
  | "badkey" // 400, §4.2.1: Sec-WebSocket-Key is not 16 bytes in base64
  | "badorigin" // 403, §4.2.2, §10.2: the `origin` option refused the Origin
  | "nosubprotocol" // 400, §4.2.2: `requireProtocol` and no subprotocol in common
  | "toomany"; // 503: the server's maxWebSockets are open (a cosock limit)

export type WsCode = WsProtocolCode | WsConnectionCode | WsHandshakeCode | WsUpgradeCode;

/** `readyState` values, as in the WHATWG WebSocket API. */
export const CONNECTING = 0; // never seen on a `WebSocket`: one is made once the handshake succeeded
export const OPEN = 1;
export const CLOSING = 2; // a close frame was sent or received, or the connection failed
export const CLOSED = 3; // the TCP connection is closed
export type ReadyState = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;
